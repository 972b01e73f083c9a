//! `hostperf status` on copies of a captured host (virtio, 2 vCPUs, eth0 carrying the
//! default route; its NIC through the fixture netlink double), with an /etc and a state
//! directory of the test: nothing applied, applied and persisted, drifted, applied live
//! only, rolled back, re-applied at boot, a snapshot of an older version, a profile that
//! cannot be evaluated, and other owners of the same settings (a later sysctl file, TuneD,
//! irqbalance). The real binary, text and JSON.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{code, describe, stdout};

const HOST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/hosts/virtio-2vcpu"
);

/// A copy of the captured host with the /etc directories a Debian host has, and a state
/// directory.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("cp")
            .args(["-a", HOST])
            .arg(dir.path().join("root"))
            .status()
            .unwrap();
        assert!(ok.success());
        for d in [
            "etc/sysctl.d",
            "etc/security/limits.d",
            "etc/systemd/system",
        ] {
            std::fs::create_dir_all(dir.path().join("root").join(d)).unwrap();
        }
        Fixture { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn run(&self, args: &[&str]) -> Output {
        let (root, state) = (self.root(), self.state());
        let mut all = vec![
            "--root",
            root.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        common::hostperf(&all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", describe(&out));
        stdout(&out)
    }

    /// `status -o json`, with its exit code.
    fn status(&self) -> (i32, serde_json::Value) {
        let out = self.run(&["status", "-o", "json"]);
        let json = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
        (code(&out), json)
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn sysctl(&self, key: &str, value: &str) {
        self.write(
            &format!("proc/sys/{}", key.replace('.', "/")),
            &format!("{value}\n"),
        );
    }
}

#[test]
fn nothing_applied_is_said_and_exits_0() {
    let f = Fixture::new();
    let out = f.run(&["status"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("applied:      nothing (no apply in the journal)"),
        "{text}"
    );
    assert!(text.contains("persisted:    nothing"), "{text}");
    let (exit, json) = f.status();
    assert_eq!(exit, 0);
    assert!(
        json["applied"].is_null() && json["drift"].is_null(),
        "{json}"
    );
    assert_eq!(json["schema_version"], 1);
}

#[test]
fn an_applied_and_persisted_profile_then_drift() {
    let f = Fixture::new();
    f.ok(&["apply", "latency-profile", "--persist"]);
    let out = f.run(&["status"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    for want in [
        "applied:      latency-profile",
        "apply latency-profile --persist`",
        "/etc/sysctl.d/90-hostperf.conf (",
        "/etc/hostperf/applied.yaml (profile latency-profile, at every boot by hostperf-apply.service",
        "hostperf-apply.service not installed",
        "drift:        none, the host matches",
        "checked against the profile recorded in snapshot",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    let (exit, json) = f.status();
    assert_eq!(exit, 0);
    assert_eq!(json["applied"]["profile"], "latency-profile");
    assert_eq!(json["applied"]["state"], "applied");
    assert_eq!(json["persisted"]["saved_profile"], "latency-profile");
    let files: Vec<&str> = json["persisted"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "/etc/sysctl.d/90-hostperf.conf",
            "/etc/hostperf/applied.yaml",
            "/etc/security/limits.d/90-hostperf.conf",
            "/etc/systemd/system.conf.d/90-hostperf.conf"
        ]
    );
    assert_eq!(json["drift"]["summary"]["fail"], 0);

    // Someone changes a setting: exit 1, and the setting is named with both values.
    f.sysctl("vm.swappiness", "60");
    f.write("sys/class/net/eth0/queues/rx-0/rps_flow_cnt", "0\n");
    let out = f.run(&["status"]);
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let text = stdout(&out);
    assert!(text.contains("drift:        2 setting(s) differ"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("fail") && l.contains("vm.swappiness") && l.contains("60")),
        "{text}"
    );
    assert!(text.contains("eth0 rx-0 rps_flow_cnt"), "{text}");
    let (exit, json) = f.status();
    assert_eq!(exit, 1);
    assert_eq!(json["drift"]["summary"]["fail"], 2);
}

#[test]
fn a_setting_that_cannot_be_read_exits_3_as_check_does() {
    let f = Fixture::new();
    f.ok(&["apply", "latency-profile"]);
    std::fs::remove_file(f.root().join("proc/sys/vm/swappiness")).unwrap();
    let out = f.run(&["status"]);
    assert_eq!(code(&out), 3, "{}", describe(&out));
    assert!(
        stdout(&out).contains("could not be evaluated"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_live_only_apply_and_a_rollback_are_told_for_what_they_are() {
    let f = Fixture::new();
    f.ok(&["apply", "latency-profile"]);
    let text = f.ok(&["status"]);
    assert!(
        text.contains("latency-profile is applied but not persisted: the host returns to its previous settings at the next boot"),
        "{text}"
    );
    f.ok(&["rollback"]);
    let out = f.run(&["status"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    assert!(
        text.contains("applied:      nothing (the latest apply, latency-profile at")
            && text.contains("was rolled back)"),
        "{text}"
    );
    let (_, json) = f.status();
    assert!(json["applied"].is_null(), "{json}");
    assert_eq!(json["last"]["state"], "rolled back");
}

#[test]
fn boot_re_applies_are_listed_under_the_apply_they_re_apply() {
    let f = Fixture::new();
    f.ok(&["apply", "latency-profile", "--persist"]);
    // A boot: the kernel forgets the values sysctl.d does not hold (a bound).
    f.sysctl("net.core.somaxconn", "1024");
    let out = f.ok(&["apply", "--boot"]);
    assert!(out.contains("changed 1 setting(s)"), "{out}");
    let text = f.ok(&["status"]);
    assert!(text.contains("applied:      latency-profile"), "{text}");
    assert!(
        text.contains("re-applied:") && text.contains("apply --boot` (1 change(s)"),
        "{text}"
    );
    let (_, json) = f.status();
    assert_eq!(json["reapplies_total"], 1);
    assert_eq!(json["reapplies"][0]["reapply"], true);
    assert_eq!(json["applied"]["reapply"], false);
    // One rollback takes back the re-apply and the apply, persisted files included.
    f.ok(&["rollback"]);
    assert!(!f.root().join("etc/hostperf/applied.yaml").exists());
    assert!(!f.root().join("etc/sysctl.d/90-hostperf.conf").exists());
    let (_, json) = f.status();
    assert!(json["applied"].is_null(), "{json}");
}

#[test]
fn a_snapshot_without_its_profile_is_checked_against_the_profile_by_name() {
    let f = Fixture::new();
    f.ok(&["apply", "latency-profile"]);
    // As an older hostperf wrote it: no command, no profile document.
    let dir = f.state().join("snapshots");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    let mut snapshot: serde_json::Value = serde_json::from_str(first).unwrap();
    let map = snapshot.as_object_mut().unwrap();
    assert!(map.remove("profile_doc").is_some() && map.remove("command").is_some());
    std::fs::write(&file, format!("{snapshot}\n{rest}")).unwrap();
    let text = f.ok(&["status"]);
    assert!(
        text.contains("checked against the profile profile latency-profile as defined now"),
        "{text}"
    );
    assert!(text.contains("drift:        none"), "{text}");
}

/// A sysctl file read after hostperf's, TuneD with an active profile and its daemon
/// running, irqbalance running: each named with what it sets and what to do.
#[test]
fn other_owners_of_the_same_settings_are_named() {
    let f = Fixture::new();
    f.ok(&["apply", "latency-profile", "--persist"]);
    f.write(
        "etc/sysctl.d/99-local.conf",
        "vm.swappiness = 60\nnet.core.somaxconn = 1024\nkernel.pid_max = 9\n",
    );
    // Read before ours: ours wins, not an owner.
    f.write("etc/sysctl.d/10-early.conf", "vm.dirty_ratio = 40\n");
    // TuneD: /etc/tuned/active_profile, the profile with an include, the daemon's pid file.
    f.write("etc/tuned/active_profile", "network-latency\n");
    f.write(
        "usr/lib/tuned/network-latency/tuned.conf",
        "[main]\ninclude=latency-performance\n\n[sysctl]\nkernel.timer_migration=0\nnet.ipv4.tcp_fastopen=3\n\n[net]\ncoalesce=rx-usecs 1\n",
    );
    f.write(
        "usr/lib/tuned/latency-performance/tuned.conf",
        "[cpu]\nforce_latency=1\n[sysctl]\nvm.swappiness=30\nvm.dirty_ratio=10\n",
    );
    f.write("run/tuned/tuned.pid", "4242\n");
    f.write("proc/4242/comm", "tuned\n");
    // irqbalance 1.4+: its socket names its pid.
    f.write("run/irqbalance/irqbalance4343.sock", "");
    f.write("proc/4343/comm", "irqbalance\n");

    let out = f.run(&["status"]);
    assert_eq!(code(&out), 0, "owners are not drift: {}", describe(&out));
    let text = stdout(&out);
    for want in [
        "also set by:",
        "/etc/sysctl.d/99-local.conf: sets 2 of the applied profile's sysctls",
        "vm.swappiness = 60 (read after 90-hostperf.conf: boots as 60, not 10)",
        "net.core.somaxconn = 1024 (hostperf-apply.service raises it to >=4096 again after systemd-sysctl",
        "TuneD profile network-latency: TuneD is running (pid 4242); it sets 1 of these sysctls to other values",
        "vm.swappiness = 30",
        "kernel.timer_migration = 0 (same)",
        "its cpu, net plugin(s) also change settings of these kinds",
        "irqbalance: irqbalance is running and rewrites the IRQ affinity",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    assert!(
        !text.contains("10-early.conf") && !text.contains("pid_max"),
        "{text}"
    );
    let (_, json) = f.status();
    let kinds: Vec<&str> = json["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sysctl-file", "tuned", "irqbalance"]);

    // TuneD stopped: still an owner (it applies its profile when started), said so.
    std::fs::remove_file(f.root().join("run/tuned/tuned.pid")).unwrap();
    let text = f.ok(&["status"]);
    assert!(
        text.contains("not running now; applies it when started"),
        "{text}"
    );
}

#[test]
fn a_damaged_newer_snapshot_is_reported_and_the_applied_one_still_found() {
    let f = Fixture::new();
    f.ok(&["apply", "latency-profile"]);
    std::fs::write(
        f.state()
            .join("snapshots/29991231000000-000-deadbeef.jsonl"),
        "{not json\n",
    )
    .unwrap();
    let text = f.ok(&["status"]);
    assert!(text.contains("applied:      latency-profile"), "{text}");
    assert!(
        text.contains("warning: snapshot 29991231000000-000-deadbeef is damaged"),
        "{text}"
    );
}

#[test]
fn status_is_in_the_cli_with_the_shared_format_flag() {
    let out = common::hostperf(&["status", "--help"]);
    let help = stdout(&out);
    assert!(help.contains("-o, --format <FORMAT>"), "{help}");
    assert!(Path::new(HOST).join("netlink.yaml").is_file());
}
