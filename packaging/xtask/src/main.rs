//! The packaging step: writes hostperf's man pages and shell completion scripts, generated
//! from the clap definitions in `src/cli.rs`, into a directory that `cargo deb` packs.
//!
//! ```text
//! cargo run --release -p xtask -- assets target/assets
//!   target/assets/man/hostperf.8, hostperf-plan.8, ... (one page per subcommand)
//!   target/assets/completions/bash/hostperf
//!   target/assets/completions/zsh/_hostperf
//!   target/assets/completions/fish/hostperf.fish
//! ```
//!
//! `scripts/package.sh` runs it; nothing is written into the source tree. The pages are in
//! section 8 (system administration), like sysctl(8) and tuned-adm(8): hostperf changes
//! kernel settings and runs as root. Their date is the commit date that `--version` shows,
//! so two builds of one commit give the same bytes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use roff::{Roff, bold, roman};

use hostperf::commands::completions;

const SECTION: &str = "8";
const MANUAL: &str = "System Administration";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, dir] if cmd == "assets" => {
            let dir = PathBuf::from(dir);
            let pages = man_pages(&dir.join("man"))?;
            let scripts = completion_scripts(&dir.join("completions"))?;
            println!(
                "wrote {pages} man pages and {scripts} completion scripts below {}",
                dir.display()
            );
            Ok(())
        }
        _ => bail!("usage: xtask assets DIR   (man pages and shell completions for the package)"),
    }
}

/// One page for `hostperf` and one for every (nested) subcommand, named like git's:
/// hostperf-plan.8, hostperf-profiles-show.8. Returns how many were written.
fn man_pages(dir: &Path) -> anyhow::Result<usize> {
    fresh_dir(dir)?;
    let mut root = hostperf::cli::Cli::command().disable_help_subcommand(true);
    root.build();
    let version = root.get_version().unwrap_or_default().to_string();
    let date = page_date(&version);
    let mut written = 0;
    // (command, the page it belongs under)
    let mut stack: Vec<(clap::Command, Option<String>)> = vec![(root, None)];
    while let Some((cmd, parent)) = stack.pop() {
        let name = page_name(&cmd);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            stack.push((sub.clone(), Some(name.clone())));
        }
        let man = Man::new(cmd.clone())
            .section(SECTION)
            .manual(MANUAL)
            .source(format!("hostperf {version}"))
            .date(date.clone());
        let path = dir.join(man.get_filename());
        let mut page = Vec::new();
        man.render(&mut page)?;
        let extra = match &parent {
            None => root_sections(),
            Some(parent) if parent == "hostperf" => see_also(&[("hostperf", SECTION)]),
            Some(parent) => see_also(&[("hostperf", SECTION), (parent.as_str(), SECTION)]),
        };
        page.extend_from_slice(extra.render().as_bytes());
        fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
        written += 1;
    }
    Ok(written)
}

/// `hostperf-profiles-show` for a nested subcommand (clap sets it when the tree is built).
fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

/// Completion scripts under the file names each shell loads them by. Returns the count.
fn completion_scripts(dir: &Path) -> anyhow::Result<usize> {
    fresh_dir(dir)?;
    let shells = [Shell::Bash, Shell::Zsh, Shell::Fish];
    for shell in shells {
        let sub = dir.join(shell.to_string());
        fs::create_dir_all(&sub)?;
        let path = sub.join(completions::file_name(shell));
        fs::File::create(&path)
            .and_then(|mut f| f.write_all(&completions::script(shell)))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(shells.len())
}

/// Removes what an earlier run left (a subcommand that no longer exists must not keep its
/// page in the package), then creates the directory.
fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// `YYYY-MM-DD`: the commit date in the version string (`0.1.0 (9c8a9d1ab 2026-04-30)`),
/// or empty without one (man then shows no date).
fn page_date(version: &str) -> String {
    version
        .trim_end_matches(')')
        .rsplit(' ')
        .next()
        .filter(|d| d.len() == 10 && d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-')
        .unwrap_or_default()
        .to_string()
}

/// Sections of hostperf(8) beyond what clap knows: a title and its (term, meaning) rows.
const ROOT_SECTIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "EXIT STATUS",
        &[
            (
                "0",
                "Success. For check, the host matches the profile; for diagnose, no finding at or above --fail-on.",
            ),
            (
                "1",
                "Drift (check), findings at or above --fail-on (diagnose), a rollback that left settings alone, or an operation that failed.",
            ),
            (
                "2",
                "Usage or configuration error: bad flags, a bad profile, a value the kernel rejects, missing privilege. Nothing was changed.",
            ),
            (
                "3",
                "Something required could not be evaluated (check: a required setting is unreadable or absent; diagnose: a requested check errored).",
            ),
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            ("HOSTPERF_ROOT", "Same as --root DIR."),
            ("HOSTPERF_STATE_DIR", "Same as --state-dir DIR."),
            ("HOSTPERF_PROFILE_DIR", "Same as --profile-dir DIR."),
            (
                "HOSTPERF_LOG",
                "A tracing filter for the log on standard error, e.g. hostperf=debug.",
            ),
            ("NO_COLOR", "When set, no colour even on a terminal."),
        ],
    ),
    (
        "FILES",
        &[
            (
                "/etc/hostperf/profiles/NAME.yaml",
                "User profiles, found before the built-in ones of the same name.",
            ),
            (
                "/etc/hostperf/applied.yaml",
                "The profile apply --persist saved, includes resolved: hostperf-apply.service applies it at every boot (apply --boot), hostperf-iface@.service to each interface that appears. rollback removes it.",
            ),
            (
                "/etc/sysctl.d/90-hostperf.conf",
                "The exact sysctl values apply --persist wrote, for systemd-sysctl at boot; bounds are applied by hostperf-apply.service instead.",
            ),
            (
                "/etc/security/limits.d/90-hostperf.conf, /etc/systemd/system.conf.d/90-hostperf.conf, /etc/systemd/system/UNIT.d/90-hostperf.conf",
                "The ulimits apply --persist wrote, for login sessions and for systemd services.",
            ),
            (
                "/var/lib/hostperf/",
                "Snapshots of the values an apply replaced (for rollback) and the apply lock.",
            ),
            (
                "/usr/lib/systemd/system/hostperf-apply.service",
                "Applies /etc/hostperf/applied.yaml at boot, before the network is configured; enabled on install, does nothing until a profile is saved.",
            ),
            (
                "/usr/lib/systemd/system/hostperf-iface@.service, /usr/lib/udev/rules.d/90-hostperf.rules",
                "When a network interface appears, udev starts hostperf-iface@NAME.service, which applies the saved profile's settings for that interface.",
            ),
            (
                "/lib/systemd/system/hostperf-metrics@.timer",
                "Writes check and diagnose metrics for node_exporter's textfile collector; enable with systemctl enable --now hostperf-metrics@PROFILE.timer.",
            ),
            (
                "/usr/share/doc/hostperf/",
                "The documentation: profiles, check, diagnose, network settings, persistence across reboots, packaging and fleet use (Ansible, Prometheus).",
            ),
        ],
    ),
];

/// EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO for hostperf(8).
fn root_sections() -> Roff {
    let mut r = Roff::new();
    for (title, rows) in ROOT_SECTIONS {
        r.control("SH", [*title]);
        for (term, meaning) in *rows {
            r.control("TP", [])
                .text([bold(*term)])
                .text([roman(*meaning)]);
        }
    }
    let mut refs: Vec<(&str, &str)> = Vec::new();
    let mut cmd = hostperf::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| format!("hostperf-{}", s.get_name()))
        .collect();
    refs.extend(names.iter().map(|n| (n.as_str(), SECTION)));
    refs.extend([
        ("sysctl", "8"),
        ("sysctl.d", "5"),
        ("limits.conf", "5"),
        ("ethtool", "8"),
        ("tc", "8"),
        ("tuned-adm", "8"),
    ]);
    r.control("SH", ["SEE ALSO"]);
    r.text(references(&refs));
    r
}

fn see_also(refs: &[(&str, &str)]) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["SEE ALSO"]);
    r.text(references(refs));
    r
}

/// `name(section), name(section)` with the names in bold, as man-pages(7) asks.
fn references(refs: &[(&str, &str)]) -> Vec<roff::Inline> {
    let mut inlines = Vec::new();
    for (i, (name, section)) in refs.iter().enumerate() {
        inlines.push(bold(*name));
        let sep = if i + 1 == refs.len() { "" } else { ", " };
        inlines.push(roman(format!("({section}){sep}")));
    }
    inlines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_from_version() {
        assert_eq!(page_date("0.1.0 (9c8a9d1ab 2026-04-30)"), "2026-04-30");
        assert_eq!(page_date("0.1.0"), "");
    }
}
