//! End to end in a fresh network namespace with a 4-queue veth pair: apply channels,
//! steering masks, a root qdisc and the congestion control with the real binary; check
//! passes; a manual change fails check; rollback restores every original value. Plus the
//! refusals (unavailable qdisc, unsupported ring, missing interface, mask with no CPU):
//! exit 2 and nothing written. Needs root and `ip`; skips (with a message) otherwise.
//! Never touches the host's interfaces or host-wide sysctls.

mod common;

use common::{Netns, describe as text, skip, stdout};

/// A fresh namespace with a 4-queue veth pair v0/v1, both up.
fn veth_namespace(test: &str) -> Option<Netns> {
    let ns = Netns::create(test)?;
    ns.sh(
        "ip link add v0 numtxqueues 4 numrxqueues 4 type veth peer name v1 numtxqueues 4 numrxqueues 4 \
         && ip link set v0 up && ip link set v1 up",
    );
    Some(ns)
}

/// Everything the test profiles touch, as text: root qdisc kind, channels, masks, flow
/// counts, queue length, congestion control.
fn state(ns: &Netns) -> String {
    stdout(&ns.sh(
        "tc qdisc show dev v0 | awk '$4 == \"root\" {print \"qdisc\", $2}'; \
         ethtool -l v0 | tail -4; cat /sys/class/net/v0/tx_queue_len; \
         for q in /sys/class/net/v0/queues/*; do echo $q; cat $q/rps_cpus $q/rps_flow_cnt $q/xps_cpus 2>/dev/null; done; \
         cat /proc/sys/net/ipv4/tcp_congestion_control",
    ))
}

fn write_profile(dir: &std::path::Path, name: &str, body: &str) -> String {
    common::write(dir, &format!("{name}.yaml"), body)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn apply_check_drift_and_rollback_in_a_namespace() {
    let Some(ns) = veth_namespace("apply_check_drift_and_rollback_in_a_namespace") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("state");
    let state_dir = state_dir.to_str().unwrap();
    // Inside a namespace only the allowed algorithms (reno bbr here) can be set: pick the
    // one that is not current, so the test changes it.
    let current_cc = stdout(&ns.sh("cat /proc/sys/net/ipv4/tcp_congestion_control"));
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
    let before = state(&ns);

    let apply = ns.hostperf(&["apply", "--file", &profile, "--state-dir", state_dir]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    let after = state(&ns);
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
    ns.sh("echo 0 > /sys/class/net/v0/queues/tx-0/xps_cpus");
    let drift = ns.hostperf(&["check", "--file", &profile, "--state-dir", state_dir]);
    assert_eq!(drift.status.code(), Some(1), "{}", text(&drift));
    assert!(
        String::from_utf8_lossy(&drift.stdout).contains("v0 tx-0 xps_cpus"),
        "{}",
        text(&drift)
    );

    let rollback = ns.hostperf(&["rollback", "--force", "--state-dir", state_dir]);
    assert_eq!(rollback.status.code(), Some(0), "{}", text(&rollback));
    assert_eq!(state(&ns), before, "rollback restores every original value");
}

/// The whole egress tree of a device, as `tc qdisc show` prints it, sorted (the kernel
/// lists it in hash order) and without handles (they vary).
fn tree(ns: &Netns) -> String {
    stdout(&ns.sh(
        "tc qdisc show dev v0 | sed -e 's/ [0-9a-f]*: / /' -e 's/ parent [0-9a-f]*:/ parent :/' | sort",
    ))
}

/// On a multiqueue device the profile's qdisc replaces the mq children and mq stays the
/// root; rollback puts back each child with its parameters (here pfifo limits 50 and 70),
/// replaying the options the kernel reported.
#[test]
fn an_mq_tree_keeps_its_root_and_rollback_restores_child_parameters() {
    let Some(ns) =
        veth_namespace("an_mq_tree_keeps_its_root_and_rollback_restores_child_parameters")
    else {
        return;
    };
    ns.sh("tc qdisc replace dev v0 root handle 10: mq \
         && tc qdisc replace dev v0 parent 10:1 pfifo limit 50 \
         && tc qdisc replace dev v0 parent 10:2 pfifo limit 70");
    let before = tree(&ns);
    assert!(
        before.contains("limit 50p") && before.contains("limit 70p"),
        "{before}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("state");
    let state_dir = state_dir.to_str().unwrap();
    let profile = write_profile(
        tmp.path(),
        "bfifo",
        "network:\n  interfaces:\n    v0:\n      root_qdisc: {value: bfifo, reason: test}\n",
    );
    let plan = ns.hostperf(&["plan", "--file", &profile, "-o", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(
        json["items"][0]["current"],
        "mq:pfifo,pfifo,pfifo_fast,pfifo_fast",
        "{}",
        text(&plan)
    );
    assert_eq!(json["items"][0]["target"], "mq:bfifo");
    let apply = ns.hostperf(&["apply", "--file", &profile, "--state-dir", state_dir]);
    assert_eq!(apply.status.code(), Some(0), "{}", text(&apply));
    let after = tree(&ns);
    assert!(
        after.contains("qdisc mq root"),
        "mq stays the root: {after}"
    );
    assert_eq!(after.matches("qdisc bfifo").count(), 4, "{after}");
    let check = ns.hostperf(&["check", "--file", &profile]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    let rollback = ns.hostperf(&["rollback", "--state-dir", state_dir]);
    assert_eq!(rollback.status.code(), Some(0), "{}", text(&rollback));
    assert_eq!(tree(&ns), before, "the exact tree, parameters included");
}

/// Each refusal: exit 2, a message naming the cause, and the namespace unchanged.
#[test]
fn refusals_exit_2_and_write_nothing() {
    let Some(ns) = veth_namespace("refusals_exit_2_and_write_nothing") else {
        return;
    };
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
    let before = state(&ns);
    for (name, setting, message) in cases {
        // A real change rides along, to show that nothing at all is written.
        let body =
            format!("network:\n  interfaces:\n    v0:\n      txqueuelen: 700\n      {setting}\n");
        let profile = write_profile(tmp.path(), name, &body);
        let out = ns.hostperf(&["apply", "--file", &profile, "--state-dir", state_dir]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(text(&out).contains(message), "{name}: {}", text(&out));
        assert_eq!(state(&ns), before, "{name}: nothing written");
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
    assert!(state(&ns).contains("700"));
}

/// A congestion control the namespace may not use is refused at plan time with the reason.
#[test]
fn cubic_is_refused_inside_a_namespace_with_the_reason() {
    let Some(ns) = veth_namespace("cubic_is_refused_inside_a_namespace_with_the_reason") else {
        return;
    };
    let allowed = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_allowed_congestion_control")
        .unwrap_or_default();
    let available = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .unwrap_or_default();
    let current = stdout(&ns.sh("cat /proc/sys/net/ipv4/tcp_congestion_control"));
    let Some(algo) = available
        .split_whitespace()
        .find(|a| !allowed.split_whitespace().any(|b| b == *a) && *a != current.trim())
    else {
        skip(
            "cubic_is_refused_inside_a_namespace_with_the_reason",
            "every available congestion control is allowed in namespaces here",
        );
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
