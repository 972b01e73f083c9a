//! The Debian package as it ships: `scripts/package.sh` builds it (release build, man pages
//! and completions from packaging/xtask, cargo-deb), dpkg-deb reads its control data and
//! file list, and dpkg installs it into a throwaway root (`dpkg --root`; `dpkg -x` without
//! root), where the installed binary, man pages and completions are used as an operator
//! would. Remove and purge then show the conffile and the operator's profiles handled as
//! Debian policy asks. The machine's own /usr, /etc and dpkg database are never touched.
//!
//! The one expensive test of the suite: it needs the release build (see docs/packaging.md
//! for its time in CI).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use clap::CommandFactory;
use common::{describe, skip, stdout};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn ok(program: &str, args: &[&str]) -> Output {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?}:\n{}",
        describe(&out)
    );
    out
}

fn have(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Every man page the package must carry: hostperf.8 and one per visible subcommand,
/// nested ones included (hostperf-profiles-show.8).
fn expected_man_pages() -> Vec<String> {
    fn walk(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        out.push(format!("usr/share/man/man8/{prefix}.8.gz"));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() != "help" {
                walk(sub, &format!("{prefix}-{}", sub.get_name()), out);
            }
        }
    }
    let mut pages = Vec::new();
    walk(&hostperf::cli::Cli::command(), "hostperf", &mut pages);
    pages
}

/// The file paths in the package, without the leading `./`.
fn contents(deb: &Path) -> BTreeSet<String> {
    let out = ok("dpkg-deb", &["--contents", deb.to_str().unwrap()]);
    stdout(&out)
        .lines()
        .filter(|l| !l.starts_with('d'))
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches("./").to_string())
        .collect()
}

/// The commit `--version` must name when the tree is a git checkout.
fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["-C", REPO, "rev-parse", "--short=9", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| stdout(&out).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Installs `deb` below `root` with dpkg's own database there. Without root, dpkg cannot
/// set file ownership, so the package is only unpacked (`dpkg -x`); returns whether it was
/// really installed.
fn install(deb: &Path, root: &Path) -> bool {
    if !nix::unistd::geteuid().is_root() {
        ok(
            "dpkg-deb",
            &["-x", deb.to_str().unwrap(), root.to_str().unwrap()],
        );
        return false;
    }
    let admin = root.join("var/lib/dpkg");
    for dir in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(admin.join(dir)).unwrap();
    }
    for file in ["status", "available"] {
        std::fs::write(admin.join(file), "").unwrap();
    }
    give_shell(root);
    dpkg(root, &["--force-depends", "-i", deb.to_str().unwrap()]);
    true
}

/// dpkg runs maintainer scripts chrooted into the root, and the package has some (the
/// postinst enables hostperf-apply.service): the root gets /bin/sh and the libraries it
/// loads. deb-systemd-helper is absent there, which the generated scripts allow for.
fn give_shell(root: &Path) {
    let sh = std::fs::canonicalize("/bin/sh").unwrap();
    let mut files = vec![(sh.clone(), PathBuf::from("/bin/sh"))];
    let libs = stdout(&ok("ldd", &[sh.to_str().unwrap()]));
    for lib in libs
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
    {
        files.push((std::fs::canonicalize(&lib).unwrap(), lib));
    }
    for (from, to) in files {
        let to = root.join(to.strip_prefix("/").unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
}

/// dpkg on the throwaway root; its log goes there too, not to /var/log/dpkg.log.
fn dpkg(root: &Path, args: &[&str]) -> Output {
    let root_arg = format!("--root={}", root.display());
    let log_arg = format!("--log={}", root.join("dpkg.log").display());
    let mut all = vec![root_arg.as_str(), log_arg.as_str()];
    all.extend_from_slice(args);
    ok("dpkg", &all)
}

#[test]
fn debian_package_installs_into_a_throwaway_root_and_runs() {
    const NAME: &str = "debian_package_installs_into_a_throwaway_root_and_runs";
    if !have("cargo", &["deb", "--version"]) {
        skip(
            NAME,
            "cargo-deb is not installed (scripts/test.sh runs `cargo install --locked cargo-deb`)",
        );
        return;
    }
    if !have("dpkg-deb", &["--version"]) {
        skip(NAME, "dpkg-deb is not installed (not a Debian system)");
        return;
    }

    let started = Instant::now();
    let built = Command::new(Path::new(REPO).join("scripts/package.sh"))
        .current_dir(REPO)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "scripts/package.sh:\n{}",
        describe(&built)
    );
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "package: scripts/package.sh took {:.1} s\n",
            started.elapsed().as_secs_f64()
        )
        .as_bytes(),
    );
    let deb = PathBuf::from(REPO).join(stdout(&built).lines().last().unwrap_or_default());
    assert!(
        deb.is_file(),
        "no package at {deb:?}:\n{}",
        describe(&built)
    );
    let deb_arg = deb.to_str().unwrap();

    // Control data: name, version, dependencies found from the binary, section.
    let fields = stdout(&ok(
        "dpkg-deb",
        &[
            "--field", deb_arg, "Package", "Version", "Depends", "Section",
        ],
    ));
    assert!(fields.contains("Package: hostperf\n"), "{fields}");
    assert!(fields.contains(&format!("Version: {VERSION}-")), "{fields}");
    assert!(fields.contains("Depends: libc6"), "{fields}");
    assert!(fields.contains("Section: admin"), "{fields}");
    // Every file below /etc is a conffile, and there is exactly one.
    let conffiles = stdout(&ok("dpkg-deb", &["--info", deb_arg, "conffiles"]));
    assert_eq!(conffiles.trim(), "/etc/hostperf/profiles/README");

    // The boot unit is enabled on install (not started: it runs at boot).
    let postinst = stdout(&ok("dpkg-deb", &["--info", deb_arg, "postinst"]));
    assert!(
        postinst.contains("deb-systemd-helper enable hostperf-apply.service")
            && !postinst.contains("deb-systemd-invoke start"),
        "{postinst}"
    );
    let files = contents(&deb);
    let mut expected: Vec<String> = [
        "usr/bin/hostperf",
        "usr/share/bash-completion/completions/hostperf",
        "usr/share/zsh/vendor-completions/_hostperf",
        "usr/share/fish/vendor_completions.d/hostperf.fish",
        "etc/hostperf/profiles/README",
        "lib/systemd/system/hostperf-metrics@.service",
        "lib/systemd/system/hostperf-metrics@.timer",
        "usr/lib/systemd/system/hostperf-apply.service",
        "usr/lib/systemd/system/hostperf-iface@.service",
        "usr/lib/udev/rules.d/90-hostperf.rules",
        "usr/share/doc/hostperf/persistence.md",
        "usr/share/doc/hostperf/copyright",
        "usr/share/doc/hostperf/README.md",
        "usr/share/doc/hostperf/packaging.md",
        "usr/share/doc/hostperf/examples/api-host.yaml",
        "usr/share/doc/hostperf/examples/prometheus/hostperf.rules.yml",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    expected.extend(expected_man_pages());
    let missing: Vec<&String> = expected.iter().filter(|p| !files.contains(*p)).collect();
    assert!(missing.is_empty(), "missing {missing:?} in {files:#?}");

    // Installed as dpkg would on a host, below a throwaway root.
    let root = tempfile::tempdir().unwrap();
    let installed = install(&deb, root.path());
    let exe = root.path().join("usr/bin/hostperf");
    let exe = exe.to_str().unwrap();

    let version = ok(exe, &["--version"]);
    let line = stdout(&version);
    assert!(line.starts_with(&format!("hostperf {VERSION}")), "{line}");
    if let Some(commit) = git_commit() {
        assert!(
            line.contains(&commit),
            "--version lacks commit {commit}: {line}"
        );
    }
    let help = stdout(&ok(exe, &["check", "--help"]));
    assert!(help.contains("Usage: hostperf check"), "{help}");
    assert!(help.contains("--output <FORMAT=PATH>"), "{help}");

    // The installed completion script registers itself with bash.
    let completion = root
        .path()
        .join("usr/share/bash-completion/completions/hostperf");
    let script = format!("source '{}' && complete -p hostperf", completion.display());
    let registered = stdout(&ok("bash", &["-c", &script]));
    assert!(registered.contains("hostperf"), "{registered}");

    // The installed man page renders, with the options of the command.
    if have("man", &["--version"]) {
        let page = root.path().join("usr/share/man/man8/hostperf-check.8.gz");
        let out = Command::new("man")
            .args(["-P", "cat", "-l", page.to_str().unwrap()])
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = stdout(&out);
        assert!(text.contains("hostperf-check"), "{}", describe(&out));
        assert!(text.contains("--output"), "{text}");
    }

    if !installed {
        skip(
            NAME,
            "remove/purge part: dpkg --root needs root to own files; unpacked with dpkg -x only",
        );
        return;
    }
    let status = stdout(&ok(
        "dpkg-query",
        &[
            &format!("--admindir={}", root.path().join("var/lib/dpkg").display()),
            "-W",
            "-f=${Status}",
            "hostperf",
        ],
    ));
    assert_eq!(status, "install ok installed");

    // An operator's profile beside the conffile; remove keeps both, purge only the profile.
    let profiles = root.path().join("etc/hostperf/profiles");
    std::fs::write(profiles.join("mine.yaml"), "include: [latency-profile]\n").unwrap();
    dpkg(root.path(), &["--remove", "hostperf"]);
    assert!(!Path::new(exe).exists(), "remove left the binary");
    assert!(
        profiles.join("README").is_file(),
        "remove took the conffile"
    );
    dpkg(root.path(), &["--purge", "hostperf"]);
    assert!(!profiles.join("README").exists(), "purge left the conffile");
    assert!(
        profiles.join("mine.yaml").is_file(),
        "purge took the operator's profile"
    );
}

/// What bash offers after `words` (the last one being completed), with the script that
/// `hostperf completions bash` prints loaded: the same calls bash makes on TAB.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let script = format!(
        "source <('{bin}' completions bash) || exit 9
         COMP_WORDS=({words}); COMP_CWORD={cword}
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}
         _hostperf hostperf \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bin = common::bin(),
        words = quoted.join(" "),
    );
    let out = ok("bash", &["-c", &script]);
    stdout(&out).lines().map(String::from).collect()
}

#[test]
fn bash_completion_offers_subcommands_flags_and_values() {
    assert_eq!(bash_complete(&["hostperf", "pl"]), ["plan"]);
    assert_eq!(bash_complete(&["hostperf", "check", "--out"]), ["--output"]);
    assert_eq!(
        bash_complete(&["hostperf", "check", "-o", ""]),
        ["table", "json", "junit", "prometheus"]
    );
    let shells = bash_complete(&["hostperf", "completions", ""]);
    for shell in ["bash", "zsh", "fish"] {
        assert!(shells.iter().any(|s| s == shell), "{shells:?}");
    }
}
