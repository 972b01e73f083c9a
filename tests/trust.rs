//! The trust model of docs/design.md, one attack at a time: each test is an attack from
//! issue 8 with its exact expectation. hostperf runs as root, so nothing it reads may steer
//! where it writes, and no input may exhaust the host.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

/// hostperf against `root` with `state` and a profile directory.
fn hp(root: &Path, state: &Path, profiles: &Path, rest: &[&str]) -> Output {
    let mut args = vec![
        "--root",
        root.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--profile-dir",
        profiles.to_str().unwrap(),
    ];
    args.extend_from_slice(rest);
    hostperf(&args)
}

/// A fixture host with the /etc directories --persist writes into.
fn host_with_etc() -> tempfile::TempDir {
    let root = fixture_copy();
    for dir in [
        "etc/sysctl.d",
        "etc/security/limits.d",
        "etc/systemd/system",
    ] {
        std::fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    root
}

/// Exit 2 (refused, nothing changed), with every one of `expect` in the message.
fn assert_refused(out: &Output, expect: &[&str]) {
    assert_eq!(code(out), 2, "{}", describe(out));
    for e in expect {
        assert!(stderr(out).contains(e), "{e:?} missing: {}", describe(out));
    }
}

fn is_root(test: &str) -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        skip(test, "needs root to own files as another user");
    }
    root
}

fn chown(path: &Path, uid: u32) {
    nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(uid)), None).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn sysctl_value(root: &Path, key: &str) -> String {
    normalize(&std::fs::read_to_string(root.join("proc/sys").join(key.replace('.', "/"))).unwrap())
}

/// Runs apply of latency-profile on `root` with `state`, for a real snapshot to attack.
fn applied(root: &Path, state: &Path) {
    let out = hp(
        root,
        state,
        Path::new("/nonexistent"),
        &["apply", "latency-profile"],
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

// --- The state directory -------------------------------------------------------------

#[test]
fn a_state_dir_another_user_can_write_is_refused_before_anything_is_read() {
    if !is_root("a_state_dir_another_user_can_write_is_refused_before_anything_is_read") {
        return;
    }
    let root = fixture_copy();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    applied(root.path(), &state);
    let applied_values = tree(root.path());
    let none = Path::new("/nonexistent");

    // Owned by another user: that user could have planted the snapshot.
    for path in [&state, &state.join("snapshots"), &state.join("lock")] {
        chown(path, 65534);
    }
    let out = hp(root.path(), &state, none, &["rollback"]);
    assert_refused(&out, &["owned by uid 65534", "chown"]);
    for path in [&state, &state.join("snapshots"), &state.join("lock")] {
        chown(path, 0);
    }
    // Writable by group or others: any of them could have.
    chmod(&state, 0o777);
    let out = hp(root.path(), &state, none, &["rollback"]);
    assert_refused(
        &out,
        &["writable by group or others (mode 0777)", "chmod go-w"],
    );
    // A dry run checks the state directory as apply would.
    let out = hp(
        root.path(),
        &state,
        none,
        &["apply", "latency-profile", "--dry-run"],
    );
    assert_refused(&out, &["writable by group or others (mode 0777)"]);
    chmod(&state, 0o700);
    chmod(&state.join("snapshots"), 0o770);
    let out = hp(root.path(), &state, none, &["rollback"]);
    assert_refused(&out, &["snapshots directory"]);
    assert!(
        tree(root.path()) == applied_values,
        "a refused rollback wrote"
    );

    chmod(&state.join("snapshots"), 0o700);
    let out = hp(root.path(), &state, none, &["rollback"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

#[test]
fn links_in_the_state_dir_are_never_followed() {
    let root = fixture_copy();
    let dir = tempfile::tempdir().unwrap();
    let none = Path::new("/nonexistent");
    let real = dir.path().join("real");
    applied(root.path(), &real);

    // The state directory itself.
    let link = dir.path().join("link");
    symlink(&real, &link).unwrap();
    let out = hp(root.path(), &link, none, &["rollback"]);
    assert_refused(&out, &["is a symbolic link"]);

    // The lock, pointing at a file the attacker wants created or truncated.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::fs::remove_file(real.join("lock")).unwrap();
    symlink(&victim, real.join("lock")).unwrap();
    let out = hp(root.path(), &real, none, &["rollback"]);
    assert_refused(&out, &["lock file", "symbolic link"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    std::fs::remove_file(real.join("lock")).unwrap();

    // The snapshots directory.
    let moved = dir.path().join("moved");
    std::fs::rename(real.join("snapshots"), &moved).unwrap();
    symlink(&moved, real.join("snapshots")).unwrap();
    let out = hp(root.path(), &real, none, &["rollback"]);
    assert_refused(&out, &["snapshots directory"]);
}

#[test]
fn a_snapshot_swapped_for_a_link_is_neither_appended_to_nor_lost_silently() {
    use hostperf::host::Host;
    use hostperf::host::sysctl::SysctlKey;
    use hostperf::journal::{Change, Journal, State};
    use hostperf::tune::Knob;
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(dir.path().join("state"));
    let host = Host::with_root(FIXTURE);
    let mut snapshot = journal.new_snapshot(
        "p",
        &host,
        vec![Change {
            knob: Knob::sysctl(SysctlKey::parse("vm.swappiness").unwrap()),
            previous: Some("60".into()),
            applied: Some("10".into()),
        }],
    );
    journal.save(&snapshot).unwrap();
    let file = dir
        .path()
        .join(format!("state/snapshots/{}.jsonl", snapshot.id));
    let victim = dir.path().join("root-owned");
    std::fs::write(&victim, "root's data\n").unwrap();
    std::fs::remove_file(&file).unwrap();
    symlink(&victim, &file).unwrap();
    snapshot.state = State::Applied;
    let err = journal.mark(&snapshot).unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root's data\n");
    // The swapped snapshot is reported, not skipped in silence.
    let scan = journal.scan().unwrap();
    assert_eq!(scan.damaged.len(), 1);
    assert!(scan.damaged[0].to_string().contains("symbolic link"));
}

/// Writes `snapshot` as hostperf would, but with content an attacker chose.
fn plant(state: &Path, snapshot: &serde_json::Value) {
    let id = snapshot["id"].as_str().unwrap();
    let dir = state.join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    chmod(state, 0o700);
    chmod(&dir, 0o700);
    let mut text = serde_json::to_string(snapshot).unwrap();
    text.push('\n');
    std::fs::write(dir.join(format!("{id}.jsonl")), text).unwrap();
}

fn crafted(root: &Path, changes: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "schema_version": 2,
        "id": "20260101000000-000-0badc0de",
        "profile": "p",
        "created": "2026-01-01T00:00:00Z",
        "root": root,
        "state": "applied",
        "changes": changes,
    })
}

#[test]
fn a_crafted_snapshot_can_name_only_what_a_profile_could_produce() {
    let root = fixture_copy();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let none = Path::new("/nonexistent");
    let before = tree(root.path());
    let cases = [
        (
            serde_json::json!([{"knob": {"kind": "file", "path": "/etc/cron.d/evil"},
                "previous": null, "applied": "* * * * * root sh -c id\n"}]),
            "/etc/cron.d/evil",
        ),
        (
            serde_json::json!([{"knob": {"kind": "file", "path": "/etc/sysctl.d/../../tmp/evil"},
                "previous": null, "applied": "x"}]),
            "not a file `apply --persist` writes",
        ),
        (
            serde_json::json!([{"knob": {"kind": "net", "setting": "tx-queue-len", "iface": "../../../../tmp"},
                "previous": "1", "applied": "2"}]),
            "not an interface name",
        ),
        (
            serde_json::json!([{"knob": {"kind": "sysctl", "key": "net/../../../tmp/evil"},
                "previous": "1", "applied": "2"}]),
            "invalid sysctl name",
        ),
        (
            serde_json::json!([{"knob": {"kind": "sysctl", "key": "vm.swappiness"},
                "previous": "60\nkernel.core_pattern = |/tmp/x", "applied": "10"}]),
            "not a single line",
        ),
    ];
    for (changes, expect) in cases {
        plant(&state, &crafted(root.path(), changes));
        let out = hp(root.path(), &state, none, &["rollback", "--force"]);
        assert_eq!(code(&out), 2, "{expect}: {}", describe(&out));
        assert!(
            stderr(&out).contains("damaged") && stderr(&out).contains(expect),
            "{expect}: {}",
            describe(&out)
        );
    }
    assert!(tree(root.path()) == before, "a crafted snapshot wrote");
    assert!(!Path::new("/tmp/evil").exists());
}

#[test]
fn host_paths_never_leave_the_root() {
    use hostperf::host::Host;
    let root = fixture_copy();
    let host = Host::with_root(root.path());
    let outside = tempfile::tempdir().unwrap();
    let escape = format!(
        "/proc/../../../../../../..{}/x",
        outside.path().to_str().unwrap()
    );
    for result in [
        host.write_all_once(&escape, b"1").map(|_| ()),
        host.write_file_atomic(&escape, b"1"),
        host.read(&escape).map(|_| ()),
        host.remove_file(&escape),
        host.create_dir(&escape),
    ] {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("climbs above the root"), "{err}");
    }
    assert!(!host.exists(&escape));
    assert!(!outside.path().join("x").exists());
}

// --- Files written outside the state directory ----------------------------------------

#[test]
fn report_files_are_written_without_following_planted_links() {
    let root = fixture_copy();
    let textfile = tempfile::tempdir().unwrap();
    let secret = tempfile::tempdir().unwrap();
    let victim = secret.path().join("root-only");
    std::fs::write(&victim, "root-only data\n").unwrap();
    chmod(&victim, 0o600);
    // The old writer's temp names were `.NAME.tmp-PID`: plant a link for the pids the next
    // run is likely to get (symlinks cost about 2 ms each on CI's disk), and one at the
    // target itself.
    let next = std::process::id();
    for pid in next..next + 200 {
        symlink(
            &victim,
            textfile.path().join(format!(".check.prom.tmp-{pid}")),
        )
        .unwrap();
    }
    let target = textfile.path().join("check.prom");
    symlink(&victim, &target).unwrap();
    let out = hostperf(&[
        "--root",
        root.path().to_str().unwrap(),
        "check",
        "latency-profile",
        "--output",
        &format!("prometheus={}", target.display()),
    ]);
    assert_eq!(code(&out), 1, "drift, report written: {}", describe(&out));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root-only data\n"
    );
    let meta = std::fs::symlink_metadata(&target).unwrap();
    assert!(
        meta.is_file(),
        "the link at the target is replaced, not followed"
    );
    assert!(
        std::fs::read_to_string(&target)
            .unwrap()
            .contains("hostperf_check_drift")
    );
    let leftovers: Vec<String> = std::fs::read_dir(textfile.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with(".check.prom.tmp-") && n != "check.prom")
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    // A missing directory is an error, never created.
    let missing = textfile.path().join("no/such/dir/check.xml");
    let out = hostperf(&[
        "--root",
        root.path().to_str().unwrap(),
        "check",
        "latency-profile",
        "--output",
        &format!("junit={}", missing.display()),
    ]);
    assert_refused(&out, &["does not exist"]);
    assert!(!textfile.path().join("no").exists());
}

#[test]
fn newlines_in_names_and_reasons_cannot_inject_lines_into_persisted_files() {
    refused_on_persist(&[
        (
            "reason",
            "sysctl:\n  vm.swappiness:\n    value: 10\n    reason: \"fewer swaps\\nExecStartPre=/bin/sh -c id\"\nulimits:\n  nofile: 4096\n",
            &["control character", "line 4 column"],
        ),
        (
            "name",
            "name: \"p\\nExecStartPre=/bin/sh\"\nsysctl:\n  vm.swappiness: 10\n",
            &["not a profile name", "line 1 column"],
        ),
        (
            "ulimit-reason",
            "ulimits:\n  nofile:\n    value: 4096\n    reason: \"a\\r\\n* hard nofile unlimited\"\n",
            &["control character", "line 4 column"],
        ),
        (
            "description",
            "description: \"a\\u0085b\"\nsysctl:\n  vm.swappiness: 10\n",
            &["control character", "line 1 column"],
        ),
    ]);
}

/// `apply --persist` of each (name, profile text, expected words) exits 2 naming them, and
/// nothing is written.
fn refused_on_persist(cases: &[(&str, &str, &[&str])]) {
    let root = host_with_etc();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let before = tree(root.path());
    for (name, text, expect) in cases {
        let file = write(dir.path(), &format!("{name}.yaml"), text);
        let out = hp(
            root.path(),
            state.path(),
            Path::new("/nonexistent"),
            &["apply", "--file", file.to_str().unwrap(), "--persist"],
        );
        assert_refused(&out, expect);
    }
    assert!(
        tree(root.path()) == before,
        "a rejected profile was persisted"
    );
}

#[test]
fn a_slash_in_a_profile_name_is_refused_and_snapshot_names_carry_no_profile_text() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.yaml",
        "name: ../../../tmp/owned\nsysctl:\n  vm.swappiness: 10\n",
    );
    let out = hp(
        root.path(),
        state.path(),
        Path::new("/nonexistent"),
        &["apply", "--file", file.to_str().unwrap()],
    );
    assert_refused(&out, &["not a profile name", "line 1 column"]);
    let ok = write(
        dir.path(),
        "fine.yaml",
        "name: fine\nsysctl:\n  vm.swappiness: 10\n",
    );
    let out = hp(
        root.path(),
        state.path(),
        Path::new("/nonexistent"),
        &["apply", "--file", ok.to_str().unwrap(), "-o", "json"],
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let id = serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["snapshot_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!id.contains("fine"), "{id}");
    assert!(state.path().join(format!("snapshots/{id}.jsonl")).is_file());
}

/// Parses a sysctl.d file as systemd-sysctl does: `key = value` (`-key`: a failure to set
/// it is ignored), comments skipped.
fn parse_sysctl_d(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', ';']))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("key = value");
            (k.trim().trim_start_matches('-').to_string(), normalize(v))
        })
        .collect()
}

/// Parses a limits.conf file: `domain type item value`.
fn parse_limits_d(text: &str) -> Vec<[String; 4]> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 4, "{l:?}");
            [f[0], f[1], f[2], f[3]].map(str::to_string)
        })
        .collect()
}

/// Parses a systemd drop-in: section headers and `Key=value` lines.
fn parse_drop_in(text: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for l in text.lines().map(str::trim) {
        if l.is_empty() || l.starts_with(['#', ';']) {
            continue;
        }
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let (k, v) = l.split_once('=').expect("Key=value");
        out.push((format!("{section}.{k}"), v.to_string()));
    }
    out
}

#[test]
fn every_persisted_file_parses_back_to_exactly_the_plans_settings() {
    for profile in ["latency-profile", "throughput-profile"] {
        let root = host_with_etc();
        let state = tempfile::tempdir().unwrap();
        let none = Path::new("/nonexistent");
        let plan = hp(
            root.path(),
            state.path(),
            none,
            &["plan", profile, "-o", "json"],
        );
        let plan: serde_json::Value = serde_json::from_str(&stdout(&plan)).unwrap();
        let mut expected: Vec<(String, String)> = plan["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == "sysctl")
            .filter_map(|i| {
                // sysctl.d holds the profile's exact values; a bound (`>=`, `<=`) has no
                // sysctl.d form and is applied at boot from the saved profile.
                let desired = i["desired"].as_str()?;
                // An empty value is left out of sysctl.d (it would clear earlier files).
                if desired.trim().is_empty() {
                    return None;
                }
                if desired
                    .split_whitespace()
                    .any(|f| f.starts_with(">=") || f.starts_with("<="))
                {
                    return None;
                }
                let fields: Vec<&str> = desired.split_whitespace().collect();
                match i["action"].as_str()? {
                    "change" | "already-set" => {}
                    _ => return None,
                }
                Some((i["setting"].as_str()?.to_string(), fields.join(" ")))
            })
            .collect();
        expected.sort();
        let out = hp(
            root.path(),
            state.path(),
            none,
            &["apply", profile, "--persist", "--unit", "api"],
        );
        assert_eq!(code(&out), 0, "{}", describe(&out));
        let read = |p: &str| std::fs::read_to_string(root.path().join(p)).unwrap();
        let mut sysctls = parse_sysctl_d(&read("etc/sysctl.d/90-hostperf.conf"));
        sysctls.sort();
        assert_eq!(sysctls, expected, "{profile}: sysctl.d");

        let shown = hostperf(&["profiles", "show", profile, "-o", "json"]);
        let resolved: serde_json::Value = serde_json::from_str(&stdout(&shown)).unwrap();
        let ulimits = resolved["ulimits"].as_object().unwrap();
        let bound =
            |v: &serde_json::Value| v.as_str().unwrap().trim_start_matches(">=").to_string();
        let mut limits_expected = Vec::new();
        let mut unit_expected = Vec::new();
        for (resource, entry) in ulimits {
            let (soft, hard) = (bound(&entry["soft"]), bound(&entry["hard"]));
            for who in ["*", "root"] {
                // Every session keeps its nofile soft limit (select() needs fds < 1024);
                // only the named unit's drop-in raises it.
                if resource != "nofile" {
                    limits_expected.push([who, "soft", resource, &soft].map(str::to_string));
                }
                limits_expected.push([who, "hard", resource, &hard].map(str::to_string));
            }
            unit_expected.push((
                format!("Service.Limit{}", resource.to_uppercase()),
                format!("{soft}:{hard}"),
            ));
        }
        assert_eq!(
            parse_limits_d(&read("etc/security/limits.d/90-hostperf.conf")),
            limits_expected,
            "{profile}: limits.d"
        );
        assert_eq!(
            parse_drop_in(&read("etc/systemd/system/api.service.d/90-hostperf.conf")),
            unit_expected,
            "{profile}: drop-in"
        );
        let out = hp(root.path(), state.path(), none, &["rollback"]);
        assert_eq!(code(&out), 0, "{}", describe(&out));
        assert!(!root.path().join("etc/sysctl.d/90-hostperf.conf").exists());
    }
}

// --- Profiles --------------------------------------------------------------------------

#[test]
fn includes_come_from_the_profile_dir_or_built_ins_and_files_only_explicitly() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let shared = tempfile::tempdir().unwrap();
    let none = Path::new("/nonexistent");
    // A file planted beside mine named like a built-in does not replace it.
    write(
        shared.path(),
        "api-base.yaml",
        "sysctl:\n  vm.swappiness: 99\n",
    );
    let mine = write(shared.path(), "mine.yaml", "include: [api-base]\n");
    let out = hp(
        root.path(),
        state.path(),
        none,
        &["plan", "--file", mine.to_str().unwrap(), "-o", "json"],
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(!stdout(&out).contains("vm.swappiness"), "{}", stdout(&out));
    assert!(stdout(&out).contains("net.core.somaxconn"));
    // An explicit relative file include is resolved against the including file.
    std::fs::create_dir(shared.path().join("sub")).unwrap();
    write(
        &shared.path().join("sub"),
        "extra.yaml",
        "sysctl:\n  vm.swappiness: 7\n",
    );
    let explicit = write(
        shared.path(),
        "explicit.yaml",
        "include: [./sub/extra.yaml]\n",
    );
    let out = hp(
        root.path(),
        state.path(),
        none,
        &["plan", "--file", explicit.to_str().unwrap(), "-o", "json"],
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(stdout(&out).contains("vm.swappiness"));
    // `..` and absolute includes load from nowhere.
    for include in [
        "../x.yaml",
        "./../x.yaml",
        "/etc/hostperf/x.yaml",
        "sub/extra.yaml",
    ] {
        let file = write(
            shared.path(),
            "bad.yaml",
            &format!("include: [\"{include}\"]\n"),
        );
        let out = hp(
            root.path(),
            state.path(),
            none,
            &["plan", "--file", file.to_str().unwrap()],
        );
        assert_eq!(code(&out), 2, "{include}: {}", describe(&out));
        assert!(
            stderr(&out).contains("line 1 column"),
            "{include}: {}",
            describe(&out)
        );
    }
}

#[test]
fn as_root_profiles_another_user_could_write_are_refused_and_links_are_not_followed() {
    if !is_root("as_root_profiles_another_user_could_write_are_refused_and_links_are_not_followed")
    {
        return;
    }
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let none = Path::new("/nonexistent");
    let plan = |file: &Path| {
        hp(
            root.path(),
            state.path(),
            none,
            &["plan", "--file", file.to_str().unwrap()],
        )
    };
    let owned = write(dir.path(), "owned.yaml", "sysctl:\n  vm.swappiness: 1\n");
    chown(&owned, 65534);
    let out = plan(&owned);
    assert_refused(&out, &["owned by uid 65534"]);

    let writable = write(dir.path(), "writable.yaml", "sysctl:\n  vm.swappiness: 1\n");
    chmod(&writable, 0o666);
    let out = plan(&writable);
    assert_refused(&out, &["writable by group or others"]);

    let link = dir.path().join("link.yaml");
    symlink(&writable, &link).unwrap();
    let out = plan(&link);
    assert_refused(&out, &["symbolic link"]);

    let open_dir = tempfile::tempdir().unwrap();
    chmod(open_dir.path(), 0o777);
    let inside = write(open_dir.path(), "p.yaml", "sysctl:\n  vm.swappiness: 1\n");
    let out = plan(&inside);
    assert_refused(&out, &["profile directory", "(mode 0777)"]);

    // In the profile directory: a refused user profile is an error, not a silent
    // fall-back to the built-in of the same name.
    let profiles = tempfile::tempdir().unwrap();
    let planted = write(
        profiles.path(),
        "latency-profile.yaml",
        "sysctl:\n  vm.swappiness: 1\n",
    );
    chown(&planted, 65534);
    let out = hp(
        root.path(),
        state.path(),
        profiles.path(),
        &["plan", "latency-profile"],
    );
    assert_refused(&out, &["owned by uid 65534"]);
}

#[test]
fn yaml_bombs_and_odd_files_are_refused_quickly() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let none = Path::new("/nonexistent");
    let big_list = vec!["12345678901234567890"; 3000].join(", ");
    let mut aliases = format!("sysctl:\n  net.core.a0: &a [{big_list}]\n");
    for i in 1..5000 {
        aliases.push_str(&format!("  net.core.a{i}: *a\n"));
    }
    let cases: Vec<(&str, String, &str)> = vec![
        ("aliases", aliases, "expands past"),
        (
            "flow",
            format!(
                "sysctl:\n  vm.swappiness: {}{}\n",
                "[".repeat(100_000),
                "]".repeat(100_000)
            ),
            "flow collections",
        ),
        (
            "block",
            format!("sysctl:\n  vm.swappiness:\n    {}1\n", "- ".repeat(100_000)),
            "nested",
        ),
        (
            "large",
            format!("description: x\n#{}\n", "x".repeat(1 << 20)),
            "1 MiB",
        ),
    ];
    for (name, text, expect) in cases {
        let file = write(dir.path(), &format!("{name}.yaml"), &text);
        let started = Instant::now();
        let out = hp(
            root.path(),
            state.path(),
            none,
            &["plan", "--file", file.to_str().unwrap()],
        );
        let took = started.elapsed();
        assert_eq!(code(&out), 2, "{name}: {}", describe(&out));
        assert!(stderr(&out).contains(expect), "{name}: {}", describe(&out));
        assert!(took < Duration::from_secs(3), "{name} took {took:?}");
    }
    let out = hp(
        root.path(),
        state.path(),
        none,
        &["plan", "--file", "/dev/zero"],
    );
    assert_refused(&out, &["not a regular file"]);
}

#[test]
fn a_fifo_a_link_or_a_bad_file_in_the_profile_dir_does_not_break_the_others() {
    let profiles = tempfile::tempdir().unwrap();
    let p = profiles.path();
    write(
        p,
        "good.yaml",
        "description: a good one\nsysctl:\n  vm.swappiness: 10\n",
    );
    write(p, "broken.yaml", "sysctl: [unclosed\n");
    nix::unistd::mkfifo(
        &p.join("fifo.yaml"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    symlink("/dev/zero", p.join("zero.yaml")).unwrap();
    let started = Instant::now();
    let out = Command::new(bin())
        .args([
            "--profile-dir",
            p.to_str().unwrap(),
            "profiles",
            "-o",
            "json",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a FIFO hung the listing"
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let names: Vec<String> =
        serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap()["profiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
    assert!(
        names.contains(&"good".to_string()) && names.contains(&"latency-profile".to_string()),
        "{names:?}"
    );
    assert!(!names.contains(&"broken".to_string()));
    let err = stderr(&out);
    for expect in ["broken.yaml", "fifo.yaml", "zero.yaml"] {
        assert!(err.contains(expect), "{expect} not reported: {err}");
    }
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let out = hp(root.path(), state.path(), p, &["plan", "good"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
}

// --- The journal -----------------------------------------------------------------------

#[test]
fn a_snapshot_from_a_newer_hostperf_is_refused_saying_which_version() {
    let root = fixture_copy();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    applied(root.path(), &state);
    let after_apply = tree(root.path());
    let snapshots = state.join("snapshots");
    let file = std::fs::read_dir(&snapshots)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("\"schema_version\":2", "\"schema_version\":9", 1),
    )
    .unwrap();
    let out = hp(
        root.path(),
        &state,
        Path::new("/nonexistent"),
        &["rollback"],
    );
    assert_refused(
        &out,
        &[
            "newer hostperf (schema version 9)",
            "reads schema versions 1 to 2",
        ],
    );
    assert!(
        tree(root.path()) == after_apply,
        "no setting may be restored from it"
    );
}

#[test]
fn a_damaged_snapshot_is_described_truthfully_and_can_be_forgotten() {
    let root = fixture_copy();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let none = Path::new("/nonexistent");
    applied(root.path(), &state);
    let file = std::fs::read_dir(state.join("snapshots"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let id = file.file_stem().unwrap().to_str().unwrap().to_string();
    let text = std::fs::read_to_string(&file).unwrap();
    // Garbled but complete: the apply may have changed settings, and it says what it lists.
    std::fs::write(
        &file,
        text.replacen("\"state\":\"applying\"", "\"state\":\"bogus\"", 1),
    )
    .unwrap();
    let out = hp(root.path(), &state, none, &["rollback", "--list"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    // Damaged snapshots are warnings: on stderr, once.
    assert!(
        stderr(&out).contains(&format!("snapshot {id} is damaged"))
            && stderr(&out).contains("may have changed settings")
            && stderr(&out).contains("profile latency-profile")
            && stderr(&out).contains("change(s): kernel.timer_migration"),
        "{}",
        describe(&out)
    );
    let out = hp(root.path(), &state, none, &["rollback"]);
    assert_refused(&out, &["--forget"]);
    // Torn before its first newline: that apply changed nothing, and it says so.
    std::fs::write(&file, &text[..40]).unwrap();
    let out = hp(root.path(), &state, none, &["rollback", "--list"]);
    assert!(
        stderr(&out).contains("changed nothing"),
        "{}",
        describe(&out)
    );
    let out = hp(root.path(), &state, none, &["rollback", "--forget", &id]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        stdout(&out).contains(&format!("forgot snapshot {id}")),
        "{}",
        describe(&out)
    );
    assert!(!file.exists());
}

#[test]
fn an_interrupted_apply_is_reported_blocks_a_new_apply_and_is_restored_by_rollback() {
    use hostperf::host::Host;
    use hostperf::journal::Journal;
    use hostperf::plan::{Plan, Purpose, Targets};
    use hostperf::profile::Catalog;
    let root = fixture_copy();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let none = Path::new("/nonexistent");
    let original = tree_values(root.path());
    // An apply that died after its third write: journal says `applying`.
    let host = Host::with_root(root.path());
    let profile = Catalog::new("/nonexistent")
        .load("latency-profile")
        .unwrap();
    let plan = Plan::build(&host, &profile, &Targets::default(), Purpose::Apply).unwrap();
    let changes = plan.journal_changes();
    let journal = Journal::new(&state);
    let snapshot = journal.new_snapshot("latency-profile", &host, changes.clone());
    journal.save(&snapshot).unwrap();
    for c in &changes[..3] {
        c.knob.write(&host, c.applied.as_deref()).unwrap();
    }
    for args in [
        &["plan", "latency-profile"][..],
        &["apply", "latency-profile"][..],
    ] {
        let out = hp(root.path(), &state, none, args);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            text.contains(&format!("apply {} of latency-profile", snapshot.id))
                && text.contains("did not record that it finished"),
            "{args:?}: {}",
            describe(&out)
        );
    }
    let out = hp(root.path(), &state, none, &["apply", "latency-profile"]);
    assert_refused(&out, &["--force"]);
    // A dry run says apply would refuse, with the same exit code.
    let out = hp(
        root.path(),
        &state,
        none,
        &["apply", "latency-profile", "--dry-run"],
    );
    assert_eq!(code(&out), 2, "{}", describe(&out));
    assert!(
        stderr(&out)
            .contains("apply would refuse latency-profile: an earlier apply was interrupted"),
        "{}",
        describe(&out)
    );
    let out = hp(
        root.path(),
        &state,
        none,
        &["apply", "throughput-profile", "--force"],
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    // One rollback restores the forced apply, then the interrupted one beneath it.
    let out = hp(root.path(), &state, none, &["rollback"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(stdout(&out).contains(&snapshot.id), "{}", describe(&out));
    assert!(
        tree_values(root.path()) == original,
        "the host is not as it was"
    );
}

#[test]
fn a_journal_that_cannot_record_the_apply_has_it_undone_and_says_so() {
    use hostperf::apply::apply;
    use hostperf::host::{FaultPlan, Host};
    use hostperf::journal::{Journal, State};
    use hostperf::plan::{Plan, Purpose, Targets};
    use hostperf::profile::Catalog;
    let root = fixture_copy();
    let original = tree_values(root.path());
    let host = Host::with_root(root.path());
    let profile = Catalog::new("/nonexistent")
        .load("latency-profile")
        .unwrap();
    let plan = Plan::build(&host, &profile, &Targets::default(), Purpose::Apply).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // ENOSPC on recording `applied`, after the last write.
    let journal = Journal::new(dir.path().join("s1")).with_faults(FaultPlan::new().fail(
        "journal",
        "mark",
        libc::ENOSPC,
    ));
    let err = apply(&host, &journal, "latency-profile", plan.journal_changes()).unwrap_err();
    let msg = format!("{err:#}");
    assert_eq!(
        hostperf::exit::code_for(&err),
        hostperf::exit::FAILED,
        "{msg}"
    );
    assert!(
        msg.contains("No space left on device")
            && msg.contains("undid every change")
            && msg.contains("the host is as it was"),
        "{msg}"
    );
    assert!(tree_values(root.path()) == original);
    assert_eq!(journal.list().unwrap()[0].state, State::Reverted);
    // Both records fail: the journal says interrupted, and it says that too.
    let journal = Journal::new(dir.path().join("s2")).with_faults(
        FaultPlan::new().fail("journal", "mark", libc::ENOSPC).fail(
            "journal",
            "mark",
            libc::ENOSPC,
        ),
    );
    let err = apply(&host, &journal, "latency-profile", plan.journal_changes()).unwrap_err();
    assert!(
        format!("{err:#}").contains("still calls snapshot"),
        "{err:#}"
    );
    assert!(tree_values(root.path()) == original);
    assert_eq!(journal.interrupted().unwrap().len(), 1);
}

// --- Input validation ------------------------------------------------------------------

#[test]
fn a_root_that_is_not_a_host_tree_is_a_usage_error() {
    let empty = tempfile::tempdir().unwrap();
    for root in ["/nonexistent-hostperf-root", empty.path().to_str().unwrap()] {
        for cmd in [
            &["plan", "latency-profile"][..],
            &["check", "latency-profile"][..],
            &["diagnose", "--interval", "0"][..],
        ] {
            let mut args = vec!["--root", root];
            args.extend_from_slice(cmd);
            let out = hostperf(&args);
            assert_eq!(code(&out), 2, "{root} {cmd:?}: {}", describe(&out));
            assert!(stderr(&out).contains("--root"), "{}", describe(&out));
        }
    }
}

#[test]
fn ulimits_outside_the_kernels_range_are_refused_at_load() {
    refused_on_persist(&[
        (
            "huge-bound",
            "ulimits:\n  nproc: \">=100000000000000000000000\"\n",
            &["outside the kernel's range"],
        ),
        (
            "huge",
            "ulimits:\n  nproc: 100000000000000000000000\n",
            &["line 2"],
        ),
        (
            "nofile-unlimited",
            "ulimits:\n  nofile: unlimited\n",
            &["not a limit the kernel has for open files"],
        ),
        (
            "nofile-over-max",
            "ulimits:\n  nofile: 4294967296\n",
            &["largest fs.nr_open"],
        ),
        (
            "soft-over-hard",
            "ulimits:\n  nproc: {soft: 2048, hard: 1024}\n",
            &["soft limit (2048) is above the hard limit (1024)"],
        ),
        (
            "bounds-cross",
            "ulimits:\n  nproc: {soft: \">=4096\", hard: \">=1024\"}\n",
            &["above the hard limit"],
        ),
        ("nice", "ulimits:\n  nice: 41\n", &["0..=40"]),
    ]);
}

#[test]
fn a_nofile_limit_above_fs_nr_open_blocks_unless_the_profile_raises_it_first() {
    let root = host_with_etc();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let none = Path::new("/nonexistent");
    assert_eq!(sysctl_value(root.path(), "fs.nr_open"), "1048576");
    let over = write(dir.path(), "over.yaml", "ulimits:\n  nofile: 2000000\n");
    let out = hp(
        root.path(),
        state.path(),
        none,
        &["apply", "--file", over.to_str().unwrap(), "--persist"],
    );
    assert_eq!(code(&out), 2, "{}", describe(&out));
    assert!(
        stderr(&out)
            .contains("nofile hard limit 2000000 is above fs.nr_open (1048576 on this host)")
            && stderr(&out).contains("fs.nr_open: 2000000"),
        "{}",
        describe(&out)
    );
    assert!(
        !root
            .path()
            .join("etc/security/limits.d/90-hostperf.conf")
            .exists()
    );
    let raised = write(
        dir.path(),
        "raised.yaml",
        "sysctl:\n  vm.swappiness: 10\n  fs.nr_open: 4194304\nulimits:\n  nofile: 2000000\n",
    );
    let out = hp(
        root.path(),
        state.path(),
        none,
        &["plan", "--file", raised.to_str().unwrap(), "-o", "json"],
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        plan["items"][0]["setting"], "fs.nr_open",
        "fs.nr_open is written first"
    );
    let out = hp(
        root.path(),
        state.path(),
        none,
        &["apply", "--file", raised.to_str().unwrap(), "--persist"],
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(sysctl_value(root.path(), "fs.nr_open"), "4194304");
    let limits =
        std::fs::read_to_string(root.path().join("etc/security/limits.d/90-hostperf.conf"))
            .unwrap();
    assert!(limits.contains("* hard nofile 2000000"), "{limits}");
}

#[test]
fn exclusive_dirty_keys_are_an_error_and_a_child_can_drop_an_inherited_one() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let profiles = tempfile::tempdir().unwrap();
    let p = profiles.path();
    write(
        p,
        "both.yaml",
        "include: [latency-profile]\nsysctl:\n  vm.dirty_ratio: 10\n",
    );
    write(
        p,
        "dropped.yaml",
        "include: [latency-profile]\nsysctl:\n  vm.dirty_ratio: 10\n  vm.dirty_bytes: {drop: true}\n",
    );
    write(
        p,
        "nothing.yaml",
        "sysctl:\n  vm.dirty_ratio: {drop: true}\n",
    );
    let out = hp(root.path(), state.path(), p, &["plan", "both"]);
    assert_refused(
        &out,
        &[
            "sets both vm.dirty_bytes (from latency-profile) and vm.dirty_ratio (from both)",
            "vm.dirty_bytes: {drop: true}",
        ],
    );
    let out = hp(
        root.path(),
        state.path(),
        p,
        &["plan", "dropped", "-o", "json"],
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        stdout(&out).contains("vm.dirty_ratio") && !stdout(&out).contains("\"vm.dirty_bytes\"")
    );
    let out = hp(root.path(), state.path(), p, &["plan", "nothing"]);
    assert_refused(&out, &["no included profile sets it"]);
}

#[test]
fn sysctl_d_syntax_in_a_profile_is_an_error_at_load_with_the_hint() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, key, hint) in [
        ("dash", "-net.ipv4.tcp_sack", "optional: true"),
        ("glob", "net.ipv4.conf.*.rp_filter", "name each interface"),
    ] {
        let file = write(
            dir.path(),
            &format!("{name}.yaml"),
            &format!("sysctl:\n  {key}: 1\n"),
        );
        let out = hp(
            root.path(),
            state.path(),
            Path::new("/nonexistent"),
            &["plan", "--file", file.to_str().unwrap()],
        );
        assert_eq!(code(&out), 2, "{name}: {}", describe(&out));
        assert!(
            stderr(&out).contains(hint) && stderr(&out).contains("line 2 column"),
            "{name}: {}",
            describe(&out)
        );
    }
}

#[test]
fn persist_warns_when_a_file_read_later_at_boot_sets_the_same_key() {
    let root = host_with_etc();
    let r = root.path();
    let state = tempfile::tempdir().unwrap();
    std::fs::write(r.join("etc/sysctl.conf"), "vm.swappiness = 60\n").unwrap();
    symlink("../sysctl.conf", r.join("etc/sysctl.d/99-sysctl.conf")).unwrap();
    std::fs::create_dir_all(r.join("usr/lib/sysctl.d")).unwrap();
    std::fs::write(
        r.join("usr/lib/sysctl.d/95-vendor.conf"),
        "# vendor\n-net/ipv4/tcp_notsent_lowat = 4294967295\nnet.ipv4.tcp_tw_reuse = 1\nnet.ipv4.tcp_fin_timeout = 60\n",
    )
    .unwrap();
    // Earlier files lose to ours, and a same value is no conflict.
    std::fs::write(r.join("etc/sysctl.d/10-early.conf"), "vm.swappiness = 99\n").unwrap();
    let out = hp(
        r,
        state.path(),
        Path::new("/nonexistent"),
        &["apply", "latency-profile", "--persist"],
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    // Warnings, on stderr.
    let text = stderr(&out);
    assert!(
        text.contains("/etc/sysctl.d/99-sysctl.conf sets vm.swappiness = 60")
            && text.contains("vm.swappiness will boot as 60, not 10"),
        "{text}"
    );
    assert!(
        text.contains(
            "/usr/lib/sysctl.d/95-vendor.conf sets net.ipv4.tcp_notsent_lowat = 4294967295"
        ),
        "{text}"
    );
    // A bound (tcp_fin_timeout <=30) is not in sysctl.d: the boot unit applies it after
    // systemd-sysctl, so a later file does not win at boot (`status` still names it).
    assert!(
        !text.contains("10-early.conf")
            && !text.contains("tcp_tw_reuse =")
            && !text.contains("tcp_fin_timeout ="),
        "{text}"
    );
    assert_eq!(text.matches("sets vm.swappiness").count(), 1, "{text}");
}

#[test]
fn persisted_files_need_their_directories_and_only_systemd_drop_in_dirs_are_created() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let none = Path::new("/nonexistent");
    let before = tree(root.path());
    let out = hp(
        root.path(),
        state.path(),
        none,
        &["apply", "latency-profile", "--persist"],
    );
    assert_refused(&out, &["does not exist", "sysctl.d"]);
    assert!(tree(root.path()) == before);
    let root = host_with_etc();
    let out = hp(
        root.path(),
        state.path(),
        none,
        &["apply", "latency-profile", "--persist"],
    );
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(
        root.path()
            .join("etc/systemd/system.conf.d/90-hostperf.conf")
            .is_file()
    );
}
