//! The real binary against the real kernel, inside throwaway network namespaces: only
//! per-namespace net.* keys are written, and the test checks the host's own values never move.

mod common;

use common::*;

/// The net.* keys of latency-profile that a fresh namespace has and may write: the profile
/// as the namespace can take it.
fn per_namespace_latency_profile(
    ns: &Netns,
    dir: &std::path::Path,
) -> (std::path::PathBuf, Vec<String>) {
    let out = hostperf(&["profiles", "show", "latency-profile", "-o", "json"]);
    let profile: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let mut yaml = String::from("description: latency-profile, per-namespace keys\nsysctl:\n");
    let mut keys = Vec::new();
    for (key, entry) in profile["sysctl"].as_object().unwrap() {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let writable = ns.run("test", &["-w", &path]).status.success();
        if key.starts_with("net.") && writable {
            let value = entry["value"].as_str().unwrap();
            yaml.push_str(&format!("  {key}: \"{value}\"\n"));
            keys.push(key.clone());
        }
    }
    (write(dir, "latency-ns.yaml", &yaml), keys)
}

#[test]
fn latency_profile_applies_checks_drifts_and_rolls_back_in_a_namespace() {
    let Some(ns) =
        Netns::create("latency_profile_applies_checks_drifts_and_rolls_back_in_a_namespace")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let (file, keys) = per_namespace_latency_profile(&ns, dir.path());
    let file = file.to_str().unwrap();
    for expected in [
        "net.core.somaxconn",
        "net.ipv4.tcp_notsent_lowat",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_tw_reuse",
    ] {
        assert!(
            keys.iter().any(|k| k == expected),
            "{expected} missing from {keys:?}"
        );
    }
    let host_before: Vec<String> = keys.iter().map(|k| host_sysctl(k)).collect();
    let ns_before: Vec<String> = keys.iter().map(|k| ns.sysctl(k)).collect();

    let out = ns.hostperf(&["--state-dir", state, "apply", "--file", file]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(ns.sysctl("net.ipv4.tcp_notsent_lowat"), "16384");
    assert_eq!(ns.sysctl("net.ipv4.ip_local_port_range"), "10240 65535");
    assert_eq!(ns.sysctl("net.ipv4.tcp_tw_reuse"), "1");
    assert!(ns.sysctl("net.core.somaxconn").parse::<u64>().unwrap() >= 4096);

    let out = ns.hostperf(&["check", "--file", file]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    // A change that still meets the bound "<=30" is not drift.
    ns.sh("echo 8 > /proc/sys/net/ipv4/tcp_fin_timeout");
    let out = ns.hostperf(&["check", "--file", file]);
    assert_eq!(code(&out), 0, "8 meets <=30: {}", stdout(&out));
    ns.sh("echo 1 > /proc/sys/net/ipv4/tcp_slow_start_after_idle");
    let out = ns.hostperf(&["check", "--file", file, "-o", "json"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("\"setting\": \"net.ipv4.tcp_slow_start_after_idle\",\n      \"kind\": \"sysctl\",\n      \"status\": \"fail\""), "{}", stdout(&out));

    // Rollback leaves the hand-changed keys alone, then --force restores everything.
    let out = ns.hostperf(&["--state-dir", state, "rollback"]);
    assert_eq!(code(&out), 1, "drift must be reported: {}", stdout(&out));
    assert!(stdout(&out).contains("net.ipv4.tcp_slow_start_after_idle"));
    assert_eq!(ns.sysctl("net.ipv4.tcp_slow_start_after_idle"), "1");
    let out = ns.hostperf(&["--state-dir", state, "rollback", "--force"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let ns_after: Vec<String> = keys.iter().map(|k| ns.sysctl(k)).collect();
    assert_eq!(
        ns_after, ns_before,
        "rollback must restore the exact original values"
    );
    let host_after: Vec<String> = keys.iter().map(|k| host_sysctl(k)).collect();
    assert_eq!(
        host_after, host_before,
        "the host's own namespace was touched"
    );
}

#[test]
fn a_value_the_kernel_rejects_mid_profile_rolls_back_the_earlier_writes() {
    let Some(ns) =
        Netns::create("a_value_the_kernel_rejects_mid_profile_rolls_back_the_earlier_writes")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // Keys apply in name order: somaxconn and tcp_fin_timeout are written, then the kernel
    // refuses tcp_syn_retries above its maximum (127, MAX_TCP_SYNCNT), which hostperf does
    // not check beforehand. (A port range the kernel would refuse is caught by the plan.)
    let file = write(
        dir.path(),
        "bad-retries.yaml",
        "sysctl:\n  net.core.somaxconn: 5000\n  net.ipv4.tcp_fin_timeout: 7\n  net.ipv4.tcp_syn_retries: 200\n",
    );
    let keys = [
        "net.core.somaxconn",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_syn_retries",
    ];
    let before = keys.map(|k| ns.sysctl(k));
    let out = ns.apply_file(&state, &file);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("net.ipv4.tcp_syn_retries") && err.contains("200"),
        "{err}"
    );
    assert!(
        err.contains("EINVAL") && err.contains("host is as it was"),
        "{err}"
    );
    assert_eq!(keys.map(|k| ns.sysctl(k)), before);
}

#[test]
fn read_only_keys_in_a_namespace_block_apply_before_any_write() {
    let Some(ns) = Netns::create("read_only_keys_in_a_namespace_block_apply_before_any_write")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let file = write(
        dir.path(),
        "ro.yaml",
        "sysctl:\n  net.core.somaxconn: 5001\n  net.core.rmem_max: 1\n",
    );
    let before = ns.sysctl("net.core.somaxconn");
    let out = ns.apply_file(&state, &file);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("net.core.rmem_max [needs privilege]") && err.contains("read-only"),
        "{err}"
    );
    assert_eq!(
        ns.sysctl("net.core.somaxconn"),
        before,
        "somaxconn written despite the blocker"
    );
    assert!(!state.join("snapshots").exists());
}

#[test]
fn two_applies_at_once_do_not_interleave() {
    let Some(ns) = Netns::create("two_applies_at_once_do_not_interleave") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    // Hold the lock the way a running apply does, from another process.
    let lock = state.join("lock");
    let mut holder = std::process::Command::new("flock")
        .args([lock.to_str().unwrap(), "sleep", "5"])
        .spawn()
        .expect("flock (util-linux)");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let file = write(
        dir.path(),
        "p.yaml",
        "sysctl:\n  net.core.somaxconn: 5002\n",
    );
    let before = ns.sysctl("net.core.somaxconn");
    let out = ns.apply_file(&state, &file);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code(&out), 2, "a held lock is exit 2: {}", stderr(&out));
    assert!(stderr(&out).contains("another hostperf apply or rollback is running"));
    assert_eq!(ns.sysctl("net.core.somaxconn"), before);
}

#[test]
fn ulimits_change_a_running_process_live_and_roll_back() {
    // Only this test's own child process is changed, and only its soft limit: raising a hard
    // limit back needs CAP_SYS_RESOURCE, which even root lacks in some sandboxes.
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let limits = || std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let nofile = |text: String| {
        let line = text
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap()
            .to_string();
        normalize(&line["Max open files".len()..])
    };
    let before = nofile(limits());
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let file = write(
        dir.path(),
        "limits.yaml",
        "ulimits:\n  nofile: {soft: 512, hard: \">=1\", reason: test}\n",
    );
    let common = ["--state-dir", state.to_str().unwrap()];
    let run = |extra: &[&str]| {
        let mut args = common.to_vec();
        args.extend_from_slice(extra);
        hostperf(&args)
    };

    let out = run(&["check", "--file", file.to_str().unwrap(), "--pid", &pid]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let out = run(&["apply", "--file", file.to_str().unwrap(), "--pid", &pid]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let hard = before.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(nofile(limits()), format!("512 {hard} files"));
    let out = run(&[
        "check",
        "--file",
        file.to_str().unwrap(),
        "--process",
        "sleep",
    ]);
    assert!(
        stdout(&out).contains(&format!("nofile of pid {pid} (sleep)")),
        "{}",
        stdout(&out)
    );
    let out = run(&["rollback"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(nofile(limits()), before);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn rollback_in_another_network_namespace_is_refused_unless_forced() {
    let test = "rollback_in_another_network_namespace_is_refused_unless_forced";
    let (Some(a), Some(b)) = (Netns::create(test), Netns::create(test)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = state.to_str().unwrap();
    let file = write(
        dir.path(),
        "p.yaml",
        "sysctl:\n  net.core.somaxconn: 5003\n",
    );
    let b_before = b.sysctl("net.core.somaxconn");
    let a_before = a.sysctl("net.core.somaxconn");
    let out = a.apply_file(&state, &file);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(a.sysctl("net.core.somaxconn"), "5003");

    let out = b.hostperf(&["--state-dir", s, "rollback"]);
    assert_eq!(code(&out), 2, "{}", describe(&out));
    assert!(
        stderr(&out).contains(&format!("taken in network namespace {} (net:[", a.name))
            && stderr(&out).contains(&format!("ip netns exec {}", a.name)),
        "{}",
        describe(&out)
    );
    assert_eq!(b.sysctl("net.core.somaxconn"), b_before);
    assert_eq!(a.sysctl("net.core.somaxconn"), "5003");

    let out = a.hostperf(&["--state-dir", s, "rollback"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(a.sysctl("net.core.somaxconn"), a_before);
}

#[test]
fn settings_of_a_vanished_interface_are_skipped_and_the_rest_restored() {
    let Some(ns) =
        Netns::create("settings_of_a_vanished_interface_are_skipped_and_the_rest_restored")
    else {
        return;
    };
    ns.sh("ip link add vhp0 type veth peer name vhp1 && ip link set vhp0 up");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = state.to_str().unwrap();
    let file = write(
        dir.path(),
        "p.yaml",
        "sysctl:\n  net.core.somaxconn: 5004\n  net.ipv4.conf.vhp0.rp_filter: 2\nnetwork:\n  interfaces:\n    vhp0:\n      txqueuelen: 777\n",
    );
    let before = ns.sysctl("net.core.somaxconn");
    let out = ns.apply_file(&state, &file);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(ns.sysctl("net.ipv4.conf.vhp0.rp_filter"), "2");
    ns.sh("ip link del vhp0");

    let out = ns.hostperf(&["--state-dir", s, "rollback", "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = &doc["snapshots"][0]["settings"];
    let outcome = |setting: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["setting"].as_str().unwrap().contains(setting))
            .map(|r| (r["status"].clone(), r["detail"].clone()))
            .unwrap_or_else(|| panic!("{setting} missing: {rows:#}"))
    };
    let (o, d) = outcome("rp_filter");
    assert_eq!(o, "gone", "{d}");
    assert!(d.as_str().unwrap().contains("vhp0 no longer exists"), "{d}");
    assert_eq!(outcome("vhp0").0, "gone");
    assert_eq!(outcome("net.core.somaxconn").0, "restored");
    assert_eq!(ns.sysctl("net.core.somaxconn"), before);
    // Nothing is left to restore: the snapshot is closed, and no rollback is pending.
    let out = ns.hostperf(&["--state-dir", s, "rollback"]);
    assert_eq!(code(&out), 2, "{}", describe(&out));
}
