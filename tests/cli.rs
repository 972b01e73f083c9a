//! The real binary against a captured host tree: bad input changes nothing and exits 2;
//! apply, check, rollback and their report formats.

mod common;

use common::*;

fn args<'a>(root: &'a str, state: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--root", root, "--state-dir", state];
    v.extend_from_slice(rest);
    v
}

#[test]
fn bad_profiles_exit_2_with_a_clear_message_and_write_nothing() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let profiles = tempfile::tempdir().unwrap();
    let before = tree(root.path());
    let cases = [
        ("malformed", "sysctl: [unclosed\n", "line"),
        (
            "section",
            "sysctls:\n  vm.swappiness: 1\n",
            "unknown field `sysctls`",
        ),
        (
            "unknown-key",
            "sysctl:\n  vm.swappiness: 10\n  net.core.no_such_key: 1\n",
            "net.core.no_such_key: no such key",
        ),
        (
            "traversal",
            "sysctl:\n  net/../../etc: 1\n",
            "invalid sysctl name",
        ),
        (
            "wrong-type",
            "sysctl:\n  vm.swappiness: [1, 2]\n",
            "1 field(s), the profile gives 2",
        ),
        (
            "not-a-number",
            "sysctl:\n  vm.swappiness: lots\n",
            "not a number",
        ),
        ("cycle", "include: [cycle2]\n", "cycle"),
        (
            "missing-include",
            "include: [nowhere]\n",
            "no profile named \"nowhere\"",
        ),
        (
            "qdisc-typo",
            "sysctl:\n  vm.swappiness: 10\n  ulimits: 1\n",
            "ulimits",
        ),
    ];
    write(profiles.path(), "cycle2.yaml", "include: [cycle]\n");
    for (name, text, expect) in cases {
        let file = write(profiles.path(), &format!("{name}.yaml"), text);
        let out = hostperf(&args(
            root.path().to_str().unwrap(),
            state.path().to_str().unwrap(),
            &["apply", "--file", file.to_str().unwrap()],
        ));
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{name}: {err}");
        assert!(
            err.contains(expect),
            "{name}: expected {expect:?} in: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    assert!(
        before == tree(root.path()),
        "a rejected profile changed the fixture"
    );
    assert!(
        !state.path().join("snapshots").exists(),
        "a snapshot was written"
    );
}

#[test]
fn check_reports_drift_then_passes_after_apply_and_rollback_restores() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let (r, s) = (
        root.path().to_str().unwrap(),
        state.path().to_str().unwrap(),
    );
    let before = tree(root.path());
    let before_values = tree_values(root.path());

    let out = hostperf(&args(r, s, &["check", "latency-profile", "-o", "json"]));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["schema_version"], 2);
    assert!(report["summary"]["fail"].as_u64().unwrap() > 5);
    let swappiness = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["setting"] == "vm.swappiness")
        .unwrap();
    assert_eq!(swappiness["status"], "fail");
    assert_eq!(swappiness["current"], "60");

    let dry = hostperf(&args(r, s, &["apply", "latency-profile", "--dry-run"]));
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));
    assert!(stdout(&dry).contains("vm.swappiness"));
    assert!(before == tree(root.path()), "--dry-run wrote");

    let out = hostperf(&args(r, s, &["apply", "latency-profile", "-o", "json"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let applied: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let id = applied["snapshot_id"].as_str().unwrap().to_string();

    let junit = state.path().join("check.xml");
    let prom = state.path().join("check.prom");
    let out = hostperf(&args(
        r,
        s,
        &[
            "check",
            "latency-profile",
            "--output",
            &format!("junit={}", junit.display()),
            "--output",
            &format!("prometheus={}", prom.display()),
        ],
    ));
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite ") && xml.contains("failures=\"0\""),
        "{xml}"
    );
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains("hostperf_check_drift{profile=\"latency-profile\"} 0"),
        "{text}"
    );
    assert!(text.contains("hostperf_check_setting_match{profile=\"latency-profile\",kind=\"sysctl\",setting=\"vm.swappiness\"} 1"));

    let list = hostperf(&args(r, s, &["rollback", "--list", "-o", "json"]));
    assert!(stdout(&list).contains(&id));
    let out = hostperf(&args(r, s, &["rollback"]));
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        before_values == tree_values(root.path()),
        "rollback did not restore every value"
    );
    let again = hostperf(&args(r, s, &["rollback"]));
    assert_eq!(
        code(&again),
        2,
        "nothing left to roll back: {}",
        stderr(&again)
    );
}

#[test]
fn check_exits_3_when_a_required_setting_cannot_be_evaluated() {
    let root = fixture_copy();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.yaml",
        "sysctl:\n  net.core.somaxconn: 4096\n  net.ipv4.not_here: 1\n",
    );
    let out = hostperf(&[
        "--root",
        root.path().to_str().unwrap(),
        "check",
        "--file",
        file.to_str().unwrap(),
        "-o",
        "junit",
    ]);
    assert_eq!(code(&out), 3, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("<error message=\"sysctl net.ipv4.not_here: no such key"));
    let optional = write(
        dir.path(),
        "o.yaml",
        "sysctl:\n  net.core.somaxconn: 4096\n  net.ipv4.not_here: {value: 1, optional: true}\n",
    );
    let out = hostperf(&[
        "--root",
        root.path().to_str().unwrap(),
        "check",
        "--file",
        optional.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn persist_writes_config_files_that_rollback_removes() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let (r, s) = (
        root.path().to_str().unwrap(),
        state.path().to_str().unwrap(),
    );
    // A host has these directories; hostperf creates only systemd drop-in directories.
    for dir in [
        "etc/sysctl.d",
        "etc/security/limits.d",
        "etc/systemd/system",
    ] {
        std::fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    let before = tree(root.path());
    let out = hostperf(&args(
        r,
        s,
        &[
            "apply",
            "throughput-profile",
            "--persist",
            "--unit",
            "nginx",
        ],
    ));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("limits.d/90-hostperf.conf -> applies to new PAM login sessions"),
        "{text}"
    );
    let conf = std::fs::read_to_string(root.path().join("etc/sysctl.d/90-hostperf.conf")).unwrap();
    // A bound has no sysctl.d form: the saved profile keeps it for the boot unit.
    assert!(
        conf.contains("# net.core.netdev_max_backlog >=16384: a bound")
            && !conf.contains("\nnet.core.netdev_max_backlog ="),
        "{conf}"
    );
    let saved = std::fs::read_to_string(root.path().join("etc/hostperf/applied.yaml")).unwrap();
    assert!(
        saved.contains("netdev_max_backlog:\n    value: '>=16384'"),
        "{saved}"
    );
    let unit = std::fs::read_to_string(
        root.path()
            .join("etc/systemd/system/nginx.service.d/90-hostperf.conf"),
    )
    .unwrap();
    assert!(unit.contains("LimitNOFILE=1048576:1048576"), "{unit}");
    let out = hostperf(&args(r, s, &["rollback"]));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!root.path().join("etc/sysctl.d/90-hostperf.conf").exists());
    let after: Vec<_> = tree(root.path()).into_keys().collect();
    assert_eq!(after, before.into_keys().collect::<Vec<_>>());
}

#[test]
fn show_and_profiles_speak_json() {
    let out = hostperf(&[
        "--root",
        FIXTURE,
        "show",
        "net.ipv4.tcp_rmem",
        "vm.swappiness",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let values = &doc["values"];
    assert_eq!(values[0]["setting"], "net.ipv4.tcp_rmem");
    assert_eq!(values[0]["current"], "4096 131072 33554432");
    let out = hostperf(&["--root", FIXTURE, "show", "net/../../etc"]);
    assert_eq!(code(&out), 2);

    let out = hostperf(&["profiles", "show", "latency-profile", "-o", "json"]);
    let profile: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(profile["sysctl"]["net.core.somaxconn"]["from"], "api-base");
    let out = hostperf(&["profiles", "show", "no-such-profile"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("known profiles: api-base, busy-poll, datacenter, edge, latency-profile, low-jitter, nat-node, throughput-profile"));
}

#[test]
fn a_non_root_user_gets_a_message_not_a_trace() {
    if !nix::unistd::geteuid().is_root() {
        skip(
            "a_non_root_user_gets_a_message_not_a_trace",
            "needs root to switch to nobody",
        );
        return;
    }
    let state = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        state.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
        .args([
            "--state-dir",
            state.path().to_str().unwrap(),
            "apply",
            "latency-profile",
        ])
        .env("HOSTPERF_PROFILE_DIR", "/nonexistent")
        .output();
    let Ok(out) = out else {
        skip(
            "a_non_root_user_gets_a_message_not_a_trace",
            "setpriv (util-linux) missing",
        );
        return;
    };
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("needs privilege") && err.contains("run as root"),
        "{err}"
    );
    assert!(
        err.contains("nothing was changed") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn docs_profiles_md_is_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("python3")
        .arg(format!("{root}/scripts/profiles-doc.py"))
        .arg(bin())
        .output();
    let Ok(out) = out else {
        skip("docs_profiles_md_is_current", "python3 is not installed");
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let current = std::fs::read_to_string(format!("{root}/docs/profiles.md")).unwrap();
    assert!(
        current == stdout(&out),
        "docs/profiles.md is stale: run `python3 scripts/profiles-doc.py > docs/profiles.md`"
    );
}
