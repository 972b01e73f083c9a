//! Sets `HOSTPERF_VERSION` for `hostperf --version` and the man pages: the crate version,
//! followed by the git commit and its date when the build runs in a git checkout, like
//! rustc's `1.95.0 (59807616e 2026-04-14)`.
//!
//! Where there is no git (a source tarball, a Debian source package, `cargo package`), the
//! version is the crate version alone; a packager who knows the commit can pass it as
//! `HOSTPERF_BUILD_COMMIT=<id>` (and optionally `HOSTPERF_BUILD_DATE=YYYY-MM-DD`). Nothing
//! is written into the source tree.
//!
//! The script reruns only when HEAD moves (the files git updates on commit and checkout),
//! so an edit to a source file does not run git again.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HOSTPERF_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=HOSTPERF_BUILD_DATE");
    let crate_version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = env_value("HOSTPERF_BUILD_COMMIT")
        .map(|id| (id, env_value("HOSTPERF_BUILD_DATE")))
        .or_else(git_commit);
    let version = match commit {
        Some((id, Some(date))) => format!("{crate_version} ({id} {date})"),
        Some((id, None)) => format!("{crate_version} ({id})"),
        None => crate_version,
    };
    println!("cargo:rustc-env=HOSTPERF_VERSION={version}");
}

fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_graphic()))
}

/// The abbreviated commit id and commit date of HEAD, or None outside a git checkout or
/// without git. Registers the files whose change means HEAD moved.
fn git_commit() -> Option<(String, Option<String>)> {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&manifest_dir)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !text.is_empty()).then_some(text)
    };
    // Only a checkout whose top level is this crate: a crate unpacked inside some other
    // repository (a vendored source in a distribution's tree) must not take its commit.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if !same_dir(Path::new(&top), &manifest_dir) {
        return None;
    }
    let line = git(&["log", "-1", "--format=%h %cs", "--abbrev=9"])?;
    // HEAD itself (checkout, detached commits), the branch ref it points to (commits), and
    // packed-refs (after `git gc`). Registered only where they exist: cargo reruns a build
    // script on every build when a watched path is missing.
    for args in [
        &["rev-parse", "--git-path", "HEAD"][..],
        &["rev-parse", "--git-path", "packed-refs"],
    ] {
        watch(&manifest_dir, git(args));
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch(&manifest_dir, git(&["rev-parse", "--git-path", &branch]));
    }
    let (id, date) = line.split_once(' ').unwrap_or((&line, ""));
    // `%cs` needs git 2.25; an older git prints it literally, and then there is no date.
    let is_date = date.len() == 10
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    Some((id.to_string(), is_date.then(|| date.to_string())))
}

fn watch(base: &Path, path: Option<String>) {
    if let Some(path) = path {
        let path = base.join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
