//! Exit codes as README.md lists them, for every command and code; a closed stdout and
//! `set -o pipefail ... | head -1` keep them.

use super::*;

/// (what, exit code, stderr must contain) for one run.
fn expect(what: &str, out: &Output, want: i32, err_has: &str) {
    assert_eq!(code(out), want, "{what}\n{}", describe(out));
    assert!(
        stderr(out).contains(err_has),
        "{what}: stderr lacks {err_has:?}\n{}",
        describe(out)
    );
    assert!(
        !stderr(out).contains("panicked"),
        "{what}\n{}",
        describe(out)
    );
}

#[test]
fn plan_check_show_profiles_completions_exit_codes() {
    let h = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = profile_file(
        dir.path(),
        "missing.yaml",
        "sysctl:\n  net.core.somaxconn: 4096\n  net.ipv4.not_here: 1\n",
    );
    let missing = missing.to_str().unwrap();
    expect("plan", &h.run(&["plan", "latency-profile"]), 0, "");
    expect(
        "plan of an unknown profile",
        &h.run(&["plan", "nope"]),
        2,
        "no profile named \"nope\"",
    );
    expect(
        "plan with a bad flag",
        &h.run(&["plan", "--nope"]),
        2,
        "--nope",
    );
    expect(
        "check with drift",
        &h.run(&["check", "latency-profile"]),
        1,
        "",
    );
    expect(
        "check of an absent required key",
        &h.run(&["check", "--file", missing]),
        3,
        "",
    );
    expect("show", &h.run(&["show", "vm.swappiness"]), 0, "");
    expect(
        "show of an absent key",
        &h.run(&["show", "net.ipv4.not_here"]),
        3,
        "",
    );
    expect(
        "show of a path",
        &h.run(&["show", "net/../../etc"]),
        2,
        "invalid sysctl name",
    );
    expect("profiles", &hostperf(&["profiles"]), 0, "");
    expect(
        "profiles show of an unknown profile",
        &hostperf(&["profiles", "show", "nope"]),
        2,
        "known profiles",
    );
    expect(
        "profiles diff of the same profile",
        &hostperf(&["profiles", "diff", "latency-profile", "latency-profile"]),
        0,
        "",
    );
    expect(
        "profiles diff of two profiles",
        &hostperf(&["profiles", "diff", "latency-profile", "throughput-profile"]),
        1,
        "",
    );
    expect("completions", &hostperf(&["completions", "bash"]), 0, "");
    expect("--help", &hostperf(&["--help"]), 0, "");
    expect("no command", &hostperf(&[]), 2, "Usage");
}

#[test]
fn apply_exit_codes_and_why_on_stderr() {
    let h = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = profile_file(
        dir.path(),
        "missing.yaml",
        "sysctl:\n  net.core.somaxconn: 4096\n  net.ipv4.not_here: 1\n",
    );
    let missing = missing.to_str().unwrap();
    expect(
        "apply --dry-run",
        &h.run(&["apply", "latency-profile", "--dry-run"]),
        0,
        "",
    );
    // A dry run apply would refuse: exit 2, and why on stderr (the plan on stdout).
    let out = h.run(&["apply", "--file", missing, "--dry-run"]);
    expect(
        "refused apply --dry-run",
        &out,
        2,
        "apply would refuse missing: 1 setting(s) stop it",
    );
    assert!(stderr(&out).contains("net.ipv4.not_here [unsupported]"));
    assert!(
        stdout(&out).contains("net.ipv4.not_here"),
        "{}",
        describe(&out)
    );
    let out = h.run(&["apply", "--file", missing, "--dry-run", "-o", "json"]);
    assert_eq!(code(&out), 2, "{}", describe(&out));
    assert_eq!(json(&out)["blocking"][0]["setting"], "net.ipv4.not_here");
    expect(
        "refused apply",
        &h.run(&["apply", "--file", missing]),
        2,
        "cannot apply missing: 1 setting(s) stop it; nothing was changed",
    );
    expect("apply", &h.run(&["apply", "latency-profile"]), 0, "");
    expect("rollback", &h.run(&["rollback"]), 0, "");
    expect(
        "rollback with nothing left",
        &h.run(&["rollback"]),
        2,
        "no applied snapshot to roll back",
    );
}

/// A held lock is its own error: exit 2, "wait for it", no hint about privilege.
#[test]
fn a_held_lock_exits_2_saying_another_apply_runs() {
    let h = Host::new();
    expect("apply", &h.run(&["apply", "latency-profile"]), 0, "");
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(h.state.path().join("lock"))
        .unwrap();
    lock.try_lock().unwrap();
    for args in [&["apply", "throughput-profile"][..], &["rollback"][..]] {
        let out = h.run(args);
        expect(
            &format!("{args:?} under a held lock"),
            &out,
            2,
            "another hostperf apply or rollback is running",
        );
        assert!(!stderr(&out).contains("--state-dir"), "{}", describe(&out));
        assert!(!stderr(&out).contains("run as root"), "{}", describe(&out));
    }
    drop(lock);
    expect(
        "rollback once the lock is free",
        &h.run(&["rollback"]),
        0,
        "",
    );
}

/// An unprivileged apply exits 2 with its own message (no state-directory hint).
#[test]
fn an_unprivileged_apply_exits_2_saying_it_needs_root() {
    if !nix::unistd::geteuid().is_root() {
        skip(
            "an_unprivileged_apply_exits_2_saying_it_needs_root",
            "needs root to switch to nobody",
        );
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
        .args(["--state-dir", state.path().to_str().unwrap()])
        .args(["apply", "latency-profile"])
        .env("HOSTPERF_PROFILE_DIR", "/nonexistent")
        .output();
    let Ok(out) = out else {
        skip(
            "an_unprivileged_apply_exits_2_saying_it_needs_root",
            "setpriv (util-linux) missing",
        );
        return;
    };
    expect(
        "unprivileged apply",
        &out,
        2,
        "hostperf apply needs privilege",
    );
    assert!(!stderr(&out).contains("--state-dir"), "{}", describe(&out));
}

/// Nothing read stdout: each command still exits with its own status, quietly.
#[test]
fn a_closed_stdout_keeps_every_status() {
    let h = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = profile_file(dir.path(), "m.yaml", "sysctl:\n  net.ipv4.not_here: 1\n");
    let missing = missing.to_str().unwrap();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (h.args(&["plan", "latency-profile"]), 0),
        (h.args(&["plan", "latency-profile", "-o", "json"]), 0),
        (h.args(&["check", "latency-profile"]), 1),
        (h.args(&["check", "latency-profile", "-o", "junit"]), 1),
        (h.args(&["check", "--file", missing]), 3),
        (h.args(&["apply", "--file", missing, "--dry-run"]), 2),
        (h.args(&["show", "net.ipv4.not_here"]), 3),
        (
            vec!["profiles", "diff", "latency-profile", "throughput-profile"],
            1,
        ),
        (vec!["profiles", "show", "latency-profile"], 0),
        (vec!["completions", "zsh"], 0),
    ];
    for (args, want) in cases {
        let out = closed_stdout(&args);
        assert_eq!(code(&out), want, "{args:?}\n{}", describe(&out));
        let err = stderr(&out);
        assert!(
            !err.contains("Broken pipe") && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

/// In a `set -o pipefail` CI step, `| head -1` does not hide drift or a refusal.
#[test]
fn pipefail_with_head_keeps_every_status() {
    let h = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let missing = profile_file(dir.path(), "m.yaml", "sysctl:\n  net.ipv4.not_here: 1\n");
    let missing = missing.to_str().unwrap();
    assert_eq!(pipefail_head(&h.args(&["check", "latency-profile"])), 1);
    assert_eq!(
        pipefail_head(&h.args(&["check", "latency-profile", "-o", "json"])),
        1
    );
    assert_eq!(pipefail_head(&h.args(&["check", "--file", missing])), 3);
    assert_eq!(pipefail_head(&h.args(&["plan", "latency-profile"])), 0);
    assert_eq!(
        pipefail_head(&h.args(&["apply", "--file", missing, "--dry-run"])),
        2
    );
    assert_eq!(
        pipefail_head(&["profiles", "diff", "latency-profile", "throughput-profile"]),
        1
    );
    // After apply the host matches: 0 through the pipe too.
    assert_eq!(code(&h.run(&["apply", "latency-profile"])), 0);
    assert_eq!(pipefail_head(&h.args(&["check", "latency-profile"])), 0);
}

#[test]
fn probe_exit_codes() {
    expect(
        "probe of a closed port",
        &hostperf(&["probe", "http://127.0.0.1:1/", "--timeout", "2"]),
        1,
        "",
    );
    expect(
        "probe of another scheme",
        &hostperf(&["probe", "ftp://127.0.0.1/"]),
        2,
        "ftp",
    );
    expect("probe without a URL", &hostperf(&["probe"]), 2, "URL");
}
