//! End to end in a fresh network namespace with a 4-queue veth pair: apply channels,
//! steering masks, a root qdisc and the congestion control with the real binary; check
//! passes; a manual change fails check; rollback restores every original value. Plus the
//! refusals (unavailable qdisc, unsupported ring, missing interface, mask with no CPU):
//! exit 2 and nothing written. Needs root and `ip`; skips (with a message) otherwise.
//! Never touches the host's interfaces or host-wide sysctls.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace deleted on drop, even when the test fails.
struct Netns {
    name: String,
}

impl Netns {
    fn create() -> Option<Netns> {
        if !nix_is_root() {
            eprintln!("skipped: needs root to create network namespaces");
            return None;
        }
        let name = format!(
            "hp-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: `ip netns add` failed (no iproute2 or no namespace support)");
            return None;
        }
        let ns = Netns { name };
        ns.sh(
            "ip link add v0 numtxqueues 4 numrxqueues 4 type veth peer name v1 numtxqueues 4 numrxqueues 4 \
             && ip link set v0 up && ip link set v1 up",
        );
        Some(ns)
    }

    /// Runs a shell command inside the namespace (with its own /sys); panics on failure.
    fn sh(&self, script: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", script])
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn hostperf(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, env!("CARGO_BIN_EXE_hostperf")])
            .args(args)
            .output()
            .expect("run hostperf")
    }

    /// Everything the test profile touches, as text: root qdisc kind, channels, masks,
    /// flow counts, queue length, congestion control.
    fn state(&self) -> String {
        self.sh(
            "tc qdisc show dev v0 | awk '$4 == \"root\" {print \"qdisc\", $2}'; \
             ethtool -l v0 | tail -4; cat /sys/class/net/v0/tx_queue_len; \
             for q in /sys/class/net/v0/queues/*; do echo $q; cat $q/rps_cpus $q/rps_flow_cnt $q/xps_cpus 2>/dev/null; done; \
             cat /proc/sys/net/ipv4/tcp_congestion_control",
        )
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_profile(dir: &std::path::Path, name: &str, body: &str) -> String {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn apply_check_drift_and_rollback_in_a_namespace() {
    let Some(ns) = Netns::create() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("state");
    let state_dir = state_dir.to_str().unwrap();
    // Inside a namespace only the allowed algorithms (reno bbr here) can be set: pick the
    // one that is not current, so the test changes it.
    let current_cc = ns.sh("cat /proc/sys/net/ipv4/tcp_congestion_control");
    let cc = if current_cc.trim() == "reno" {
        "bbr"
    } else {
        "reno"
    };
    let profile = write_profile(
        tmp.path(),
        "ns-test",
        &format!(
            r#"
description: namespace test
network:
  congestion_control: {{value: {cc}, reason: test}}
  interfaces:
    v0:
      root_qdisc: {{value: pfifo, reason: test}}
      txqueuelen: {{value: 500, reason: test}}
      channels:
        rx: {{value: 2, reason: test}}
        tx: {{value: 2, reason: test}}
      rings:
        rx: {{value: max, optional: true, reason: veth has none}}
      coalesce:
        adaptive-rx: {{value: off, optional: true, reason: veth has none}}
      rps_cpus: {{value: spread, reason: test}}
      rps_flow_cnt: {{value: 2048, reason: test}}
      xps_cpus: {{value: spread, reason: test}}
"#
        ),
    );
    let before = ns.state();

    let apply = ns.hostperf(&["apply", "--file", &profile, "--state-dir", state_dir]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    let after = ns.state();
    assert!(after.contains("qdisc pfifo"), "{after}");
    assert!(after.contains(cc), "{after}");
    assert!(
        !after.contains("rx-2"),
        "rx queues 2 and 3 are gone: {after}"
    );

    let check = ns.hostperf(&[
        "check",
        "--file",
        &profile,
        "--state-dir",
        state_dir,
        "-o",
        "json",
    ]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    // Someone changes a mask by hand: check fails and names it.
    ns.sh("echo 0 > /sys/class/net/v0/queues/rx-0/rps_cpus");
    let drift = ns.hostperf(&["check", "--file", &profile, "--state-dir", state_dir]);
    assert_eq!(drift.status.code(), Some(1), "{}", text(&drift));
    assert!(
        String::from_utf8_lossy(&drift.stdout).contains("v0 rx-0 rps_cpus"),
        "{}",
        text(&drift)
    );

    let rollback = ns.hostperf(&["rollback", "--force", "--state-dir", state_dir]);
    assert_eq!(rollback.status.code(), Some(0), "{}", text(&rollback));
    assert_eq!(ns.state(), before, "rollback restores every original value");
}

/// Each refusal: exit 2, a message naming the cause, and the namespace unchanged.
#[test]
fn refusals_exit_2_and_write_nothing() {
    let Some(ns) = Netns::create() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("state");
    let state_dir = state_dir.to_str().unwrap();
    let cases = [
        (
            "fq",
            "root_qdisc: {value: fq, reason: test}",
            "not available on this kernel",
        ),
        (
            "ring",
            "rings: {rx: {value: 512, reason: test}}",
            "v0 rings rx",
        ),
        (
            "mask",
            "rps_cpus: {value: \"f000\", reason: test}",
            "no valid CPU",
        ),
        (
            "coalesce",
            "coalesce: {rx-usecs: {value: 8, reason: test}}",
            "v0 coalesce rx-usecs",
        ),
    ];
    let before = ns.state();
    for (name, setting, message) in cases {
        // A real change rides along, to show that nothing at all is written.
        let body =
            format!("network:\n  interfaces:\n    v0:\n      txqueuelen: 700\n      {setting}\n");
        let profile = write_profile(tmp.path(), name, &body);
        let out = ns.hostperf(&["apply", "--file", &profile, "--state-dir", state_dir]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(text(&out).contains(message), "{name}: {}", text(&out));
        assert_eq!(ns.state(), before, "{name}: nothing written");
    }
    let missing = write_profile(
        tmp.path(),
        "missing",
        "network:\n  interfaces:\n    eth9:\n      txqueuelen: 700\n",
    );
    let out = ns.hostperf(&["apply", "--file", &missing, "--state-dir", state_dir]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no interface named eth9"),
        "{}",
        text(&out)
    );

    // The same qdisc, optional: skipped with a warning, the rest applied.
    let optional = write_profile(
        tmp.path(),
        "optional",
        "network:\n  interfaces:\n    v0:\n      txqueuelen: 700\n      root_qdisc: {value: fq, optional: true, reason: test}\n",
    );
    let out = ns.hostperf(&["apply", "--file", &optional, "--state-dir", state_dir]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("not available on this kernel"),
        "{}",
        text(&out)
    );
    assert!(ns.state().contains("700"));
}

/// A congestion control the namespace may not use is refused at plan time with the reason.
#[test]
fn cubic_is_refused_inside_a_namespace_with_the_reason() {
    let Some(ns) = Netns::create() else { return };
    let allowed = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_allowed_congestion_control")
        .unwrap_or_default();
    let available = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .unwrap_or_default();
    let current = ns.sh("cat /proc/sys/net/ipv4/tcp_congestion_control");
    let Some(algo) = available
        .split_whitespace()
        .find(|a| !allowed.split_whitespace().any(|b| b == *a) && *a != current.trim())
    else {
        eprintln!("skipped: every available congestion control is allowed in namespaces here");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let profile = write_profile(
        tmp.path(),
        "cc",
        &format!("network:\n  congestion_control: {{value: {algo}, reason: test}}\n"),
    );
    let state_dir = tmp.path().join("state");
    let out = ns.hostperf(&[
        "apply",
        "--file",
        &profile,
        "--state-dir",
        state_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("tcp_allowed_congestion_control"),
        "{}",
        text(&out)
    );
}
