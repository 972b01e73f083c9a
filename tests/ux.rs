//! Operator experience, command by command, as a person and a script see it: exit codes
//! (also with a closed pipe and `set -o pipefail`), tables in real 80- and 120-column
//! terminals and in pipes, which stream carries what, one flag vocabulary, plain words,
//! round trips, JSON documents against their published schemas.

mod common;

#[path = "ux/bench.rs"]
mod bench;
#[path = "ux/diagnose.rs"]
mod diagnose;
#[path = "ux/exit.rs"]
mod exit;
#[path = "ux/flags.rs"]
mod flags;
#[path = "ux/profiles.rs"]
mod profiles;
#[path = "ux/rollback.rs"]
mod rollback;
#[path = "ux/schemas.rs"]
mod schemas;
#[path = "ux/streams.rs"]
mod streams;
#[path = "ux/tables.rs"]
mod tables;
#[path = "ux/words.rs"]
mod words;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

/// A writable fixture host and an empty state directory.
pub struct Host {
    pub root: tempfile::TempDir,
    pub state: tempfile::TempDir,
}

impl Default for Host {
    fn default() -> Host {
        Host {
            root: fixture_copy(),
            state: tempfile::tempdir().unwrap(),
        }
    }
}

impl Host {
    pub fn new() -> Host {
        Host::default()
    }

    /// `--root ROOT --state-dir STATE ARGS...`
    pub fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec![
            "--root",
            self.root.path().to_str().unwrap(),
            "--state-dir",
            self.state.path().to_str().unwrap(),
        ];
        v.extend_from_slice(rest);
        v
    }

    pub fn run(&self, rest: &[&str]) -> Output {
        hostperf(&self.args(rest))
    }

    /// Sets a sysctl in the fixture tree.
    pub fn set(&self, key: &str, value: &str) {
        let path = self
            .root
            .path()
            .join("proc/sys")
            .join(key.replace('.', "/"));
        std::fs::write(path, format!("{value}\n")).unwrap();
    }
}

/// Runs hostperf with `args` under `bash -c` with `set -o pipefail`, its stdout into
/// `| head -1`; the pipeline's exit status.
pub fn pipefail_head(args: &[&str]) -> i32 {
    let quoted: Vec<String> = std::iter::once(bin())
        .chain(args.iter().copied())
        .map(shell_quote)
        .collect();
    let script = format!("set -o pipefail; {} | head -1 >/dev/null", quoted.join(" "));
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("HOSTPERF_PROFILE_DIR", "/nonexistent-hostperf-profiles")
        .env("NO_COLOR", "1")
        .output()
        .expect("bash");
    code(&out)
}

/// Runs hostperf with its stdout a pipe nobody reads (the read end closed before it
/// starts), as after `head` has exited: every write to stdout fails with EPIPE.
pub fn closed_stdout(args: &[&str]) -> Output {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    Command::new(bin())
        .args(args)
        .env("HOSTPERF_PROFILE_DIR", "/nonexistent-hostperf-profiles")
        .env("NO_COLOR", "1")
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .expect("run hostperf")
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs hostperf in a pseudo-terminal of `cols` columns (`script` from util-linux), as a
/// person at a terminal would: (exit code, what the terminal showed, `\r` removed).
/// `None` when `script` is missing.
pub fn in_terminal(cols: usize, args: &[&str]) -> Option<(i32, String)> {
    terminal(cols, args, "2>/dev/null")
}

/// Like [`in_terminal`], with standard error on the terminal too (progress, notes).
pub fn in_terminal_with_stderr(cols: usize, args: &[&str]) -> Option<(i32, String)> {
    terminal(cols, args, "")
}

fn terminal(cols: usize, args: &[&str], redirect: &str) -> Option<(i32, String)> {
    let quoted: Vec<String> = std::iter::once(bin())
        .chain(args.iter().copied())
        .map(shell_quote)
        .collect();
    let inner = format!(
        "stty cols {cols} rows 500 2>/dev/null; exec {} {redirect}",
        quoted.join(" ")
    );
    let out = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("HOSTPERF_PROFILE_DIR", "/nonexistent-hostperf-profiles")
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .env_remove("LINES")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some((code(&out), stdout(&out).replace('\r', "")))
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(out)))
}

/// A profile file in a fresh private directory (profile directories must not be
/// writable by others).
pub fn profile_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    write(dir, name, text)
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
