//! `apply --persist`: the files that make settings survive a reboot. They are journaled as
//! file knobs, so rollback restores or removes them like any other setting.
//!
//! Nothing a profile says can add a line: names and reasons are one line without control
//! characters (checked at load, with line and column), values are checked per kind, and
//! every generated line is checked again here. The files are written by the one writer
//! (`host::write_durably`); sysctl.d and limits.d must exist, systemd drop-in directories
//! are created when absent (their parent must exist).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exit::UsageError;
use crate::host::Host;
use crate::host::rlimit::Resource;
use crate::journal::Change;
use crate::plan::{Action, Plan};
use crate::profile::{Profile, UlimitEntry};
use crate::tune::{Knob, Want};

pub use crate::tune::file::{LIMITS_FILE, SYSCTL_FILE, SYSTEMD_MANAGER_FILE};

/// One file to write, and whom it affects.
#[derive(Debug, Serialize)]
pub struct PersistFile {
    pub path: PathBuf,
    pub content: String,
    pub applies_to: String,
}

/// The persistence files for a plan: sysctls that are (or will be) set, and ulimits.
pub fn files(plan: &Plan, profile: &Profile, units: &[String]) -> anyhow::Result<Vec<PersistFile>> {
    let mut files = Vec::new();
    let header = format!(
        "# Written by `hostperf apply --persist {}`; `hostperf rollback` removes it.\n",
        profile.name
    );
    let mut sysctl = header.clone();
    let mut any = false;
    for item in &plan.items {
        let Some(Knob::Sysctl { key }) = &item.knob else {
            continue;
        };
        let value = match &item.action {
            Action::Change => item.target.as_deref(),
            Action::AlreadySet => item.current.as_deref(),
            _ => None,
        };
        if let Some(value) = value {
            any = true;
            one_line(&item.setting, &item.reason)?;
            one_line(&item.setting, value)?;
            let _ = writeln!(sysctl, "# {}\n{key} = {value}", item.reason);
        }
    }
    if any {
        files.push(PersistFile {
            path: SYSCTL_FILE.into(),
            content: sysctl,
            applies_to: "sysctls at every boot (systemd-sysctl, or `sysctl --system`)".into(),
        });
    }
    if profile.ulimits.is_empty() {
        return Ok(files);
    }
    let mut limits = header.clone();
    for (resource, entry) in &profile.ulimits {
        let (soft, hard) = persisted_values(entry);
        let reason = entry.reason.as_deref().unwrap_or("");
        for text in [reason, &soft, &hard] {
            one_line(resource.name(), text)?;
        }
        let _ = writeln!(limits, "# {reason}");
        // `*` does not match root in limits.conf, so root gets its own lines.
        for who in ["*", "root"] {
            if *resource == Resource::Nofile {
                // Every session: only the hard limit (see NOFILE_DEFAULT_SOFT).
                let _ = writeln!(limits, "{who} hard {resource} {hard}");
            } else {
                let _ = writeln!(
                    limits,
                    "{who} soft {resource} {soft}\n{who} hard {resource} {hard}"
                );
            }
        }
    }
    files.push(PersistFile {
        path: LIMITS_FILE.into(),
        content: limits,
        applies_to: "new PAM login sessions (ssh, su, login); NOT systemd services".into(),
    });
    if units.is_empty() {
        files.push(PersistFile {
            path: SYSTEMD_MANAGER_FILE.into(),
            content: systemd_limits(&header, "Manager", "Default", &profile.ulimits, true),
            applies_to: "every systemd service without its own Limit*=, after `systemctl daemon-reexec` and a restart of the service".into(),
        });
    }
    for unit in units {
        let unit = unit_name(unit)?;
        files.push(PersistFile {
            path: crate::tune::file::unit_drop_in(&unit),
            content: systemd_limits(&header, "Service", "", &profile.ulimits, false),
            applies_to: format!(
                "{unit}, after `systemctl daemon-reload && systemctl restart {unit}`"
            ),
        });
    }
    Ok(files)
}

/// The journal changes for the files whose content differs from what is on disk.
pub fn changes(host: &Host, files: &[PersistFile]) -> anyhow::Result<Vec<Change>> {
    let mut changes = Vec::new();
    for file in files {
        let knob = Knob::File {
            path: file.path.clone(),
        };
        let previous = knob.read(host)?;
        if previous.as_deref() != Some(file.content.as_str()) {
            changes.push(Change {
                knob,
                previous,
                applied: Some(file.content.clone()),
            });
        }
    }
    Ok(changes)
}

/// A bound has no current value to compare with in a config file: persist the bound itself.
fn persisted_values(entry: &UlimitEntry) -> (String, String) {
    let text = |w: &Want| match w {
        Want::Exact(v) => v.clone(),
        Want::AtLeast(n) | Want::AtMost(n) => n.to_string(),
    };
    (text(&entry.soft), text(&entry.hard))
}

/// The nofile soft limit every session and service keeps: select(2) cannot watch a
/// descriptor above 1023 (FD_SETSIZE), so systemd keeps the soft limit at 1024 and raises
/// only the hard one (524288 since systemd 240), and advises services that need more to
/// raise their own soft limit, or to be given LimitNOFILE= (systemd.exec(5), LimitNOFILE=;
/// http://0pointer.net/blog/file-descriptor-limits.html). hostperf follows that: system-wide
/// files raise the hard limit only; the soft limit is raised for the units named with
/// `--unit` and the processes named with `--pid`/`--process`.
pub const NOFILE_DEFAULT_SOFT: &str = "1024";

/// `[Manager]` DefaultLimit*= (`every_service`, nofile soft kept at 1024) or a unit's
/// `[Service]` Limit*= lines.
fn systemd_limits(
    header: &str,
    section: &str,
    prefix: &str,
    ulimits: &BTreeMap<Resource, UlimitEntry>,
    every_service: bool,
) -> String {
    let mut out = format!("{header}[{section}]\n");
    for (resource, entry) in ulimits {
        let (soft, hard) = persisted_values(entry);
        let soft = if every_service && *resource == Resource::Nofile {
            NOFILE_DEFAULT_SOFT.to_string()
        } else {
            soft
        };
        let infinity = |v: String| {
            if v == "unlimited" {
                "infinity".to_string()
            } else {
                v
            }
        };
        let _ = writeln!(
            out,
            "{prefix}{}={}:{}",
            resource.systemd_name(),
            infinity(soft),
            infinity(hard)
        );
    }
    out
}

/// A systemd unit name, `.service` added when no type is given; no path tricks.
fn unit_name(unit: &str) -> anyhow::Result<String> {
    let full = if unit.contains('.') {
        unit.to_string()
    } else {
        format!("{unit}.service")
    };
    if unit.starts_with('.') || !crate::tune::file::is_unit_name(&full) {
        return Err(UsageError::new(format!(
            "--unit {unit:?}: not a systemd unit name (letters, digits and :-_.@ only)"
        )));
    }
    Ok(full)
}

/// Refuses text that would not stay on its one line of a generated file. Profile text is
/// checked at load already; this holds for every value that reaches a file, whatever its
/// source (a kernel value, a bound).
fn one_line(setting: &str, text: &str) -> anyhow::Result<()> {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(UsageError::new(format!(
            "{setting}: {text:?} has a control character ({c:?}); nothing was persisted"
        )));
    }
    Ok(())
}

/// Checks, before anything is written, that every file can be written where it belongs:
/// /etc/sysctl.d and /etc/security/limits.d must exist (hostperf does not create them), a
/// systemd drop-in directory may be created, but its parent must exist.
pub fn check_targets(host: &Host, files: &[PersistFile]) -> anyhow::Result<()> {
    for file in files {
        let needed = match crate::tune::file::creatable_dir(&file.path) {
            Some(dir) => dir.parent(),
            None => file.path.parent(),
        };
        if let Some(dir) = needed
            && !host.exists(dir)
        {
            let why = if dir.starts_with("/etc/systemd") {
                "systemd is not installed here"
            } else if dir.starts_with("/etc/security") {
                "PAM's pam_limits (libpam-modules) is not installed here"
            } else {
                "procps or systemd creates it"
            };
            return Err(UsageError::new(format!(
                "cannot persist {}: the directory {} does not exist ({why}); hostperf does not create it. Nothing was changed",
                file.path.display(),
                host.path(dir).display()
            )));
        }
    }
    Ok(())
}

/// Where sysctl files are read at boot, highest precedence first for files of the same
/// name (sysctl.d(5)); `sysctl --system` then reads /etc/sysctl.conf last.
const SYSCTL_DIRS: &[&str] = &[
    "/etc/sysctl.d",
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

/// The largest sysctl file read when looking for later settings.
const BOOT_FILE_LIMIT: usize = 1 << 20;

/// Warnings for keys that a file read after ours at boot sets to another value: files in
/// the sysctl.d directories whose names sort after `90-hostperf.conf` (each name once, the
/// highest-precedence directory's), then /etc/sysctl.conf. Their setting wins at boot.
pub fn boot_overrides(host: &Host, files: &[PersistFile]) -> Vec<String> {
    let Some(ours) = files.iter().find(|f| f.path == Path::new(SYSCTL_FILE)) else {
        return Vec::new();
    };
    let ours_name = "90-hostperf.conf";
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in parse_sysctl_conf(&ours.content) {
        wanted.insert(key, value);
    }
    let mut later: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in SYSCTL_DIRS {
        for name in host.list_dir(dir).unwrap_or_default() {
            if name.ends_with(".conf") && name.as_str() > ours_name {
                later
                    .entry(name.clone())
                    .or_insert_with(|| Path::new(dir).join(&name));
            }
        }
    }
    let mut read: Vec<PathBuf> = later.into_values().collect();
    let conf = PathBuf::from("/etc/sysctl.conf");
    // Debian links /etc/sysctl.d/99-sysctl.conf to ../sysctl.conf: read it once.
    let linked = read.iter().any(|p| {
        host.read_link(p).is_ok_and(|target| {
            let target = p.parent().unwrap_or(Path::new("/")).join(target);
            normalize_path(&target) == conf
        })
    });
    if !linked {
        read.push(conf);
    }
    let mut warnings = Vec::new();
    for path in read {
        let Ok(Some(bytes)) = host.read_optional(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(BOOT_FILE_LIMIT)]);
        for (pattern, value) in parse_sysctl_conf(&text) {
            for (key, ours) in &wanted {
                if glob_match(&pattern, key)
                    && crate::host::sysctl::normalize(&value)
                        != crate::host::sysctl::normalize(ours)
                {
                    warnings.push(format!(
                        "{} sets {pattern} = {value} and is read after {SYSCTL_FILE} at boot, so {key} will boot as {value}, not {ours}; change or remove that line",
                        path.display()
                    ));
                }
            }
        }
    }
    warnings
}

/// `key = value` lines of a sysctl.d file, keys in dotted form ('/' separators become
/// dots; a leading '-' dropped). Comments (`#`, `;`) and blank lines are skipped.
pub fn parse_sysctl_conf(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with(['#', ';']) {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            let key = key.trim().trim_start_matches('-');
            let key = if key.contains('.') {
                key.to_string()
            } else {
                key.replace('/', ".")
            };
            Some((key, value.trim().to_string()))
        })
        .collect()
}

/// fnmatch(3)-style `*` and `?` over a dotted key, as systemd-sysctl matches glob keys.
fn glob_match(pattern: &str, key: &str) -> bool {
    let (p, k): (Vec<char>, Vec<char>) = (pattern.chars().collect(), key.chars().collect());
    let (mut pi, mut ki) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ki < k.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == k[ki]) {
            pi += 1;
            ki += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ki;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ki = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `a/b/../c` as `a/c`, lexically.
fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Purpose, Targets};
    use crate::profile::Catalog;
    use std::path::Path;

    #[test]
    fn persist_files_cover_sysctls_sessions_and_services() {
        let host = Host::with_root(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/hosts/vm-6.18"
        ));
        let profile = Catalog::new("/nonexistent")
            .load("latency-profile")
            .unwrap();
        let plan = Plan::build(&host, &profile, &Targets::default(), Purpose::Check).unwrap();
        let files = files(&plan, &profile, &[]).unwrap();
        let sysctl = files
            .iter()
            .find(|f| f.path == Path::new(SYSCTL_FILE))
            .unwrap();
        assert!(
            sysctl.content.contains("\nvm.swappiness = 10\n"),
            "{}",
            sysctl.content
        );
        assert!(
            sysctl.content.contains("vm.dirty_bytes = 268435456"),
            "{}",
            sysctl.content
        );
        let limits = files
            .iter()
            .find(|f| f.path == Path::new(LIMITS_FILE))
            .unwrap();
        // Sessions get a high hard limit only; the soft one stays (select() needs < 1024).
        assert!(
            !limits.content.contains("soft nofile"),
            "{}",
            limits.content
        );
        assert!(limits.content.contains("* hard nofile 1048576"));
        assert!(limits.content.contains("root hard nofile 1048576"));
        let manager = files
            .iter()
            .find(|f| f.path == Path::new(SYSTEMD_MANAGER_FILE))
            .unwrap();
        assert!(
            manager
                .content
                .contains("[Manager]\nDefaultLimitNOFILE=1024:1048576")
        );

        let per_unit = super::files(&plan, &profile, &["nginx".into()]).unwrap();
        assert!(per_unit.iter().any(|f| f.path
            == Path::new("/etc/systemd/system/nginx.service.d/90-hostperf.conf")
            && f.content.contains("[Service]\nLimitNOFILE=1048576:1048576")));
        assert!(
            !per_unit
                .iter()
                .any(|f| f.path == Path::new(SYSTEMD_MANAGER_FILE))
        );
        assert!(super::files(&plan, &profile, &["../../etc/passwd".into()]).is_err());
    }
}
