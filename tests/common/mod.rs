//! Helpers shared by the integration tests: the built binary, fixture copies, and
//! throwaway network namespaces.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hosts/vm-6.18");

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_hostperf")
}

/// Runs hostperf with `args`, no profile directory and no colour.
pub fn hostperf(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("HOSTPERF_PROFILE_DIR", "/nonexistent-hostperf-profiles")
        .env("NO_COLOR", "1")
        .output()
        .expect("run hostperf")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A writable copy of the captured host.
pub fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(Path::new(FIXTURE), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file below `root` with its content, to prove nothing was written.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Says why a test did not run, on the real stderr: the test harness captures the print
/// macros of passing tests, so an `eprintln!` would be invisible. `scripts/test.sh` counts
/// these lines.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

/// A network namespace made with `ip netns add`, deleted on drop. `None` (with the reason
/// printed) where this process may not create one.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(test: &str) -> Option<Netns> {
        if !nix::unistd::geteuid().is_root() {
            skip(test, "needs root to create a network namespace");
            return None;
        }
        let name = format!(
            "hp-{}-{}",
            std::process::id(),
            NAMESPACES.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        match Command::new("ip").args(["netns", "add", &name]).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                skip(test, &format!("`ip netns add` failed: {}", stderr(&o)));
                return None;
            }
            Err(e) => {
                skip(test, &format!("cannot run `ip` (install iproute2): {e}"));
                return None;
            }
        }
        let ns = Netns { name };
        ns.sh("ip link set lo up");
        Some(ns)
    }

    /// Runs a command inside the namespace.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .env("HOSTPERF_PROFILE_DIR", "/nonexistent-hostperf-profiles")
            .env("NO_COLOR", "1")
            .output()
            .expect("ip netns exec")
    }

    pub fn hostperf(&self, args: &[&str]) -> Output {
        self.run(bin(), args)
    }

    /// `hostperf --state-dir STATE apply --file FILE` inside the namespace.
    pub fn apply_file(&self, state: &Path, file: &Path) -> Output {
        self.hostperf(&[
            "--state-dir",
            state.to_str().unwrap(),
            "apply",
            "--file",
            file.to_str().unwrap(),
        ])
    }

    /// Runs a shell script inside the namespace (with its own /sys); panics on failure.
    pub fn sh(&self, script: &str) -> Output {
        let out = self.run("sh", &["-c", script]);
        assert!(out.status.success(), "{script}: {}", stderr(&out));
        out
    }

    /// A sysctl's value inside the namespace, whitespace normalised.
    pub fn sysctl(&self, key: &str) -> String {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let out = self.run("cat", &[&path]);
        normalize(&stdout(&out))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

pub fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Namespaces made by this test binary, for unique names.
static NAMESPACES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A sysctl's value in this process's (the test runner's) namespace.
pub fn host_sysctl(key: &str) -> String {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    normalize(&std::fs::read_to_string(path).unwrap_or_default())
}

/// Exit code, stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

/// Like `tree`, with whitespace normalised: on a fixture no kernel re-formats multi-field
/// values, so a restored `4096 131072 6291456` is the same value as the captured tab form.
pub fn tree_values(root: &Path) -> BTreeMap<PathBuf, String> {
    tree(root)
        .into_iter()
        .map(|(p, bytes)| (p, normalize(&String::from_utf8_lossy(&bytes))))
        .collect()
}

/// `systemd-analyze verify` of unit files from contrib/systemd, each given as (file, name to
/// verify it as: an instance for a template), with `/usr/bin/hostperf` replaced by the
/// binary under test (verify checks that ExecStart exists). Any warning fails, not only
/// errors. Prints SKIP for `test` where systemd-analyze is missing or cannot run here.
pub fn verify_units(test: &str, units: &[(&str, &str)]) {
    let installed = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        skip(
            test,
            "systemd-analyze is not installed (Debian package systemd; scripts/test.sh installs it)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd");
    let paths: Vec<PathBuf> = units
        .iter()
        .map(|(file, name)| {
            let text = std::fs::read_to_string(contrib.join(file)).unwrap();
            let path = dir.path().join(name);
            std::fs::write(&path, text.replace("/usr/bin/hostperf", bin())).unwrap();
            path
        })
        .collect();
    // The man pages are installed by the package, not on this machine.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("Failed to initialize") || err.contains("Failed to setup") {
        skip(test, &format!("systemd-analyze cannot run here: {err}"));
        return;
    }
    assert!(
        out.status.success() && err.trim().is_empty(),
        "systemd-analyze verify:\n{}",
        describe(&out)
    );
}
