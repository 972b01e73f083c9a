//! The host matrix: every fixture host under tests/fixtures/hosts (virtio VMs with 2 and 8
//! vCPUs with and without coalescing, arm64 with ENA and GIC/ITS interrupts, a 2-socket
//! 64-CPU server with SMT, isolated CPUs and an mlx5 NIC on node 1, an Intel NIC with
//! separate rx/tx vectors, a host with offline CPUs, a Xen guest and a single-vector NIC
//! without msi_irqs) against both built-in profiles, with the real binary: plan has no
//! blocking row, apply succeeds, check passes, rollback restores every file and the NIC
//! state (qdisc tree included). Then one test per fault kind the matrix exposed. The NICs
//! answer through each root's netlink.yaml (the Host's fixture double); nothing here touches
//! the machine.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{code, describe, stderr, stdout};
use hostperf::host::FixtureNetlink;

/// Every built-in profile, add-ons included.
fn profiles() -> Vec<&'static str> {
    hostperf::profile::builtin_names().collect()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts")
        .join(name)
}

/// A writable copy of a fixture host, symlinks kept as symlinks (sysfs is made of them).
struct Copy {
    _dir: tempfile::TempDir,
    root: PathBuf,
    state: PathBuf,
}

fn copy_host(name: &str) -> Copy {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                let link = std::fs::read_link(entry.path()).unwrap();
                std::os::unix::fs::symlink(link, target).unwrap();
            } else if kind.is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    copy(&fixture(name), &root);
    let state = dir.path().join("state");
    Copy {
        _dir: dir,
        root,
        state,
    }
}

impl Copy {
    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "--root",
            self.root.to_str().unwrap(),
            "--state-dir",
            self.state.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        common::hostperf(&all)
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root.join(path.trim_start_matches('/')))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .trim()
            .to_string()
    }

    fn write(&self, path: &str, text: &str) {
        std::fs::write(self.root.join(path), text).unwrap();
    }

    /// Every file (whitespace-normalised, as no kernel reformats a fixture), every symlink,
    /// and the NIC state the double holds; the double's own state file is left out.
    fn state_of(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                let rel = path.strip_prefix(&self.root).unwrap().display().to_string();
                let kind = entry.file_type().unwrap();
                if kind.is_symlink() {
                    out.insert(
                        rel,
                        format!("-> {}", std::fs::read_link(&path).unwrap().display()),
                    );
                } else if kind.is_dir() {
                    stack.push(path);
                } else if rel != "netlink-state.json" {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    out.insert(rel, common::normalize(&text));
                }
            }
        }
        if let Ok(Some(double)) = FixtureNetlink::load(&self.root) {
            out.insert("<netlink>".into(), format!("{:?}", double.state()));
        }
        out
    }
}

/// Asserts two states are equal, naming only what differs.
fn same_state(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>, what: &str) {
    let mut diff = Vec::new();
    for (path, was) in before {
        if after.get(path) != Some(was) {
            diff.push(format!("{path}: {was:?} -> {:?}", after.get(path)));
        }
    }
    for path in after.keys().filter(|k| !before.contains_key(*k)) {
        diff.push(format!("{path}: left behind"));
    }
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}

/// The plan's rows as (setting, action, detail).
fn plan_rows(out: &Output) -> Vec<(String, String, String)> {
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan -o json: {e}\n{}", describe(out)));
    plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["setting"].as_str().unwrap_or_default().to_string(),
                i["action"].as_str().unwrap_or_default().to_string(),
                i["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn expect(out: &Output, want: i32, what: &str) {
    assert_eq!(code(out), want, "{what}\n{}", describe(out));
}

/// Plan (no blocking row), apply, check (passes) and rollback (every file and the NIC state
/// back) of every built-in profile on one host.
fn matrix(host: &str) {
    // One copy for every profile: each rollback must leave it exactly as it found it.
    let h = copy_host(host);
    let before = h.state_of();
    for profile in &profiles() {
        let what = format!("{host} {profile}");
        let plan = h.run(&["plan", profile, "-o", "json"]);
        expect(&plan, 0, &what);
        let blocking: Vec<_> = plan_rows(&plan)
            .into_iter()
            .filter(|(_, a, _)| matches!(a.as_str(), "invalid" | "unsupported" | "needs-privilege"))
            .collect();
        assert!(blocking.is_empty(), "{what}: blocking rows {blocking:#?}");
        let apply = h.run(&["apply", profile, "-o", "json"]);
        expect(&apply, 0, &format!("{what}: apply"));
        let applied: serde_json::Value = serde_json::from_slice(&apply.stdout)
            .unwrap_or_else(|e| panic!("{what}: apply -o json: {e}\n{}", describe(&apply)));
        let check = h.run(&["check", profile, "-o", "json"]);
        expect(&check, 0, &format!("{what}: check after apply"));
        // A profile whose every setting this host already has, or lacks (an add-on whose
        // key is optional here), changes nothing and leaves no snapshot.
        if !applied["snapshot_id"].is_null() {
            expect(&h.run(&["rollback"]), 0, &format!("{what}: rollback"));
        }
        same_state(&before, &h.state_of(), &format!("{what}: after rollback"));
    }
}

/// One test per host, so the hosts run in parallel and fail by name.
macro_rules! hosts {
    ($($test:ident => $host:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                matrix($host);
            }
        )*
    };
}

hosts! {
    matrix_vm_6_18 => "vm-6.18",
    matrix_virtio_2vcpu => "virtio-2vcpu",
    matrix_virtio_2vcpu_coal => "virtio-2vcpu-coal",
    matrix_virtio_8vcpu => "virtio-8vcpu",
    matrix_virtio_8vcpu_coal => "virtio-8vcpu-coal",
    matrix_arm64_ena => "arm64-ena",
    matrix_x86_2s_mlx5 => "x86-2s-mlx5",
    matrix_x86_igb_rxtx => "x86-igb-rxtx",
    matrix_x86_offline_cpus => "x86-offline-cpus",
    matrix_xen_netfront => "xen-netfront",
    matrix_x86_e1000e_msi => "x86-e1000e-msi",
}

/// Every directory under tests/fixtures/hosts is in the matrix.
#[test]
fn every_fixture_host_is_in_the_matrix() {
    let me = std::fs::read_to_string(file!()).unwrap();
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                me.contains(&format!("=> \"{name}\"")),
                "{name} is not in the matrix"
            );
        }
    }
}

/// IRQ numbers of a host's /proc/irq with their affinity after apply.
fn affinity(h: &Copy, irqs: impl IntoIterator<Item = u32>) -> Vec<String> {
    irqs.into_iter()
        .map(|irq| h.read(&format!("proc/irq/{irq}/smp_affinity_list")))
        .collect()
}

/// The 64-CPU host: each queue's vector on one CPU of node 1 (16-31, 48-63), physical
/// cores first (16-27), then their SMT siblings (48-51), never the isolated 28-31 and
/// 60-63; the async vector left alone; XPS of queue i on its IRQ's CPU and every usable CPU
/// on exactly one queue; no RPS (16 rx queues for 12 local cores); 64-CPU masks in the
/// kernel's 32-bit groups.
#[test]
fn spread_on_a_numa_smt_host_with_isolated_cpus() {
    let h = copy_host("x86-2s-mlx5");
    expect(&h.run(&["apply", "latency-profile"]), 0, "apply");
    let cpus = affinity(&h, 151..=166);
    let want: Vec<String> = (16..=27).chain(48..=51).map(|c| c.to_string()).collect();
    assert_eq!(cpus, want);
    assert_eq!(
        h.read("proc/irq/150/smp_affinity_list"),
        "0-63",
        "mlx5_async0 untouched"
    );
    let mut every = std::collections::BTreeSet::new();
    for (q, irq_cpu) in want.iter().enumerate() {
        let xps = h.read(&format!("sys/class/net/eth2/queues/tx-{q}/xps_cpus"));
        assert!(xps.split(',').all(|g| g.len() <= 8), "kernel groups: {xps}");
        let set = hostperf::tune::net::cpus::parse_mask(&xps).unwrap();
        assert!(set.contains(&irq_cpu.parse().unwrap()), "tx-{q} {xps}");
        for c in &set {
            assert!(every.insert(*c), "CPU {c} on two queues");
            assert!(
                !(28..=31).contains(c) && !(60..=63).contains(c),
                "isolated {c}"
            );
        }
        assert_eq!(
            h.read(&format!("sys/class/net/eth2/queues/rx-{q}/rps_cpus")),
            "00000000,00000000"
        );
    }
    assert_eq!(every.len(), 56, "every usable CPU transmits on one queue");
    // irqbalance runs here; check finds it without reading every process.
    let check = h.run(&["check", "latency-profile", "-o", "json"]);
    assert!(
        stdout(&check).contains("irqbalance is running"),
        "{}",
        describe(&check)
    );
}

/// Separate rx and tx vectors of one queue go to the same CPU; the "other" vector (plain
/// "eth0") is not a queue; one thread per core first (CPUs 0, 1), then the siblings (2, 3).
#[test]
fn rx_and_tx_vectors_of_a_queue_share_a_cpu() {
    let h = copy_host("x86-igb-rxtx");
    expect(&h.run(&["apply", "latency-profile"]), 0, "apply");
    assert_eq!(affinity(&h, 46..=49), ["0", "1", "2", "3"], "rx-0..3");
    assert_eq!(affinity(&h, 50..=53), ["0", "1", "2", "3"], "tx-0..3");
    assert_eq!(
        h.read("proc/irq/45/smp_affinity_list"),
        "0-3",
        "other vector untouched"
    );
    for q in 0..4 {
        let xps = h.read(&format!("sys/class/net/eth0/queues/tx-{q}/xps_cpus"));
        assert_eq!(
            xps,
            format!("{:x}", 1 << q),
            "XPS of tx-{q} on its IRQ's CPU"
        );
    }
}

/// IRQs found only in /proc/interrupts: arm64 ITS lines (no msi_irqs), the split Xen chip
/// with vif names, and a single old-layout `IR-PCI-MSI-edge eth0` vector.
#[test]
fn irqs_are_found_in_every_proc_interrupts_layout() {
    let arm = copy_host("arm64-ena");
    expect(&arm.run(&["apply", "latency-profile"]), 0, "arm64");
    assert_eq!(
        affinity(&arm, 58..=65),
        (0..8).map(|c| c.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(
        arm.read("proc/irq/57/smp_affinity_list"),
        "0-7",
        "ena-mgmnt untouched"
    );

    let xen = copy_host("xen-netfront");
    expect(&xen.run(&["apply", "latency-profile"]), 0, "xen");
    // vif0-qN-tx and vif0-qN-rx of queue N on CPU N.
    assert_eq!(
        affinity(&xen, 70..=77),
        ["0", "0", "1", "1", "2", "2", "3", "3"]
    );

    let old = copy_host("x86-e1000e-msi");
    expect(&old.run(&["apply", "latency-profile"]), 0, "e1000e");
    assert_eq!(old.read("proc/irq/48/smp_affinity_list"), "0");
    // One rx queue for two cores: RPS spreads over the node.
    assert_eq!(old.read("sys/class/net/eth0/queues/rx-0/rps_cpus"), "f");
}

/// Offline CPUs are never used and the masks cover only online ones.
#[test]
fn offline_cpus_are_left_out() {
    let h = copy_host("x86-offline-cpus");
    expect(&h.run(&["apply", "latency-profile"]), 0, "apply");
    // Cores 0-5 first, then the siblings 8, 9; 6, 7, 14, 15 are offline.
    assert_eq!(
        affinity(&h, 61..=68),
        ["0", "1", "2", "3", "4", "5", "8", "9"]
    );
    for q in 0..8 {
        let xps = h.read(&format!("sys/class/net/eth0/queues/tx-{q}/xps_cpus"));
        let set = hostperf::tune::net::cpus::parse_mask(&xps).unwrap();
        assert!(
            set.iter().all(|c| ![6, 7, 14, 15].contains(c)),
            "tx-{q}: {xps}"
        );
    }
}

/// On a multiqueue device a profile's root qdisc changes the per-queue children and mq
/// stays the root; rollback restores the children with their parameters.
#[test]
fn qdisc_changes_keep_the_mq_tree_and_rollback_restores_parameters() {
    let h = copy_host("virtio-8vcpu");
    let before = h.state_of();
    let profile = h.root.parent().unwrap().join("fq.yaml");
    std::fs::write(
        &profile,
        "network:\n  interfaces:\n    eth0:\n      root_qdisc: {value: fq, reason: pacing}\n",
    )
    .unwrap();
    let file = profile.to_str().unwrap();
    let plan = h.run(&["plan", "--file", file, "-o", "json"]);
    let rows = plan_rows(&plan);
    assert_eq!(rows[0].0, "eth0 root qdisc");
    assert_eq!(rows[0].1, "change", "{rows:?}");
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(json["items"][0]["current"], "mq:fq_codel");
    assert_eq!(json["items"][0]["target"], "mq:fq");
    expect(&h.run(&["apply", "--file", file]), 0, "apply");
    let tree = FixtureNetlink::load(&h.root).unwrap().unwrap().state();
    let q = tree.interfaces["eth0"].qdisc.as_ref().unwrap();
    assert_eq!(q.root, "mq", "mq stays the root");
    assert_eq!(
        format!("{:?}", q.children),
        format!(
            "{:?}",
            hostperf::host::fixture_netlink::Children::Each(vec!["fq".to_string(); 4])
        )
    );
    expect(&h.run(&["check", "--file", file]), 0, "check");
    expect(&h.run(&["rollback"]), 0, "rollback");
    same_state(
        &before,
        &h.state_of(),
        "fq_codel children and their options are back",
    );
}

/// A driver that reports a parameter but refuses it at write time: optional, it is skipped
/// with a warning and the rest stays applied; required, everything is undone and apply exits
/// 2, as README says.
#[test]
fn a_refusal_at_write_time_skips_optional_and_undoes_required() {
    let h = copy_host("x86-2s-mlx5");
    let yaml = h.read("netlink.yaml").replace(
        "adaptive-rx: on",
        "adaptive-rx: {value: on, set: EOPNOTSUPP}",
    );
    h.write("netlink.yaml", &yaml);
    let before = h.state_of();
    let apply = h.run(&["apply", "latency-profile"]);
    expect(&apply, 0, "optional refusal");
    assert!(
        stdout(&apply).lines().any(|l| l.starts_with("skipped ")
            && l.contains("eth2 coalesce adaptive-rx")
            && l.contains("optional; refused at write time")),
        "{}",
        describe(&apply)
    );
    assert_eq!(
        h.read("proc/irq/151/smp_affinity_list"),
        "16",
        "the rest applied"
    );
    expect(&h.run(&["rollback"]), 0, "rollback");
    same_state(&before, &h.state_of(), "rollback after a skipped write");

    let profile = h.root.parent().unwrap().join("strict.yaml");
    std::fs::write(
        &profile,
        "include: [latency-profile]\nnetwork:\n  interfaces:\n    default-route:\n      coalesce:\n        adaptive-rx: {value: \"off\", reason: required here}\n",
    )
    .unwrap();
    let out = h.run(&["apply", "--file", profile.to_str().unwrap()]);
    expect(&out, 2, "required refusal");
    let text = describe(&out);
    assert!(text.contains("eth2 coalesce adaptive-rx"), "{text}");
    assert!(text.contains("the host is as it was"), "{text}");
    same_state(&before, &h.state_of(), "everything undone");
}

/// The kernel tells beforehand that this virtio device cannot coalesce (feature bit 53
/// clear): plan says "unsupported by this driver", not "change", and apply writes nothing
/// there; required, it blocks apply with exit 2.
#[test]
fn plan_predicts_driver_refusals_from_virtio_feature_bits() {
    let h = copy_host("virtio-2vcpu");
    let rows = plan_rows(&h.run(&["plan", "latency-profile", "-o", "json"]));
    let usecs = rows
        .iter()
        .find(|r| r.0 == "eth0 coalesce rx-usecs")
        .unwrap();
    assert_eq!(usecs.1, "unsupported-by-driver", "{usecs:?}");
    assert!(usecs.2.contains("feature bit 53"), "{usecs:?}");
    let table = stdout(&h.run(&["plan", "latency-profile"]));
    assert!(table.contains("unsupported by this driver"), "{table}");
    // A parameter the driver does not report at all (ethtool's n/a) is labelled the same.
    let rows = plan_rows(&h.run(&["plan", "throughput-profile", "-o", "json"]));
    let tx = rows
        .iter()
        .find(|r| r.0 == "eth0 coalesce adaptive-tx")
        .unwrap();
    assert_eq!(tx.1, "unsupported-by-driver", "{tx:?}");
    assert!(
        tx.2.contains("does not report this coalesce parameter"),
        "{tx:?}"
    );
    // The same device with coalescing: a plain change.
    let coal = copy_host("virtio-2vcpu-coal");
    let rows = plan_rows(&coal.run(&["plan", "latency-profile", "-o", "json"]));
    assert!(
        rows.iter()
            .any(|r| r.0 == "eth0 coalesce rx-usecs" && r.1 == "change")
    );
    // Required: refused before any write.
    let profile = h.root.parent().unwrap().join("usecs.yaml");
    std::fs::write(
        &profile,
        "network:\n  interfaces:\n    eth0:\n      txqueuelen: 5000\n      coalesce: {rx-usecs: {value: 8, reason: test}}\n",
    )
    .unwrap();
    let before = h.state_of();
    let out = h.run(&["apply", "--file", profile.to_str().unwrap()]);
    expect(&out, 2, "required and unsupported by the driver");
    assert!(
        describe(&out).contains("unsupported by this driver"),
        "{}",
        describe(&out)
    );
    same_state(&before, &h.state_of(), "nothing written");
}

/// adaptive-* take on/off, true/false, 1/0 and compare as on/off; numbers stay numbers.
#[test]
fn coalescing_flags_are_normalised() {
    let h = copy_host("x86-2s-mlx5");
    let profile = h.root.parent().unwrap().join("flags.yaml");
    std::fs::write(
        &profile,
        "network:\n  interfaces:\n    eth2:\n      coalesce:\n        adaptive-rx: true\n        adaptive-tx: \"0\"\n        rx-usecs: \"008\"\n",
    )
    .unwrap();
    let file = profile.to_str().unwrap();
    let rows = plan_rows(&h.run(&["plan", "--file", file, "-o", "json"]));
    let action = |s: &str| rows.iter().find(|r| r.0 == s).unwrap().1.clone();
    assert_eq!(action("eth2 coalesce adaptive-rx"), "already-set");
    assert_eq!(action("eth2 coalesce rx-usecs"), "already-set");
    assert_eq!(action("eth2 coalesce adaptive-tx"), "change");
    expect(&h.run(&["apply", "--file", file]), 0, "apply");
    expect(&h.run(&["check", "--file", file]), 0, "check");
    let bad = h.root.parent().unwrap().join("bad.yaml");
    std::fs::write(
        &bad,
        "network:\n  interfaces:\n    eth2:\n      coalesce: {rx-usecs: \"on\"}\n",
    )
    .unwrap();
    let out = h.run(&["plan", "--file", bad.to_str().unwrap()]);
    expect(&out, 2, "a flag word for a number");
    assert!(
        describe(&out).contains("is not a number"),
        "{}",
        describe(&out)
    );
}

/// Channels that grow add queues; their steering is planned from the kernel's initial
/// values and rollback removes them again.
#[test]
fn steering_covers_queues_that_channels_add() {
    let h = copy_host("virtio-8vcpu");
    let rows = plan_rows(&h.run(&["plan", "throughput-profile", "-o", "json"]));
    assert!(
        rows.iter()
            .any(|r| r.0 == "eth0 tx-7 xps_cpus" && r.1 == "change"),
        "{rows:#?}"
    );
    expect(&h.run(&["apply", "throughput-profile"]), 0, "apply");
    assert_eq!(h.read("sys/class/net/eth0/queues/tx-7/xps_cpus"), "80");
    // 8 rx queues for 4 cores: no RPS.
    assert_eq!(h.read("sys/class/net/eth0/queues/rx-7/rps_cpus"), "00");
    expect(&h.run(&["rollback"]), 0, "rollback");
    assert!(!h.root.join("sys/class/net/eth0/queues/rx-7").exists());
}

/// Setting only net.core.default_qdisc changes no existing device: plan says so.
#[test]
fn plan_says_default_qdisc_alone_changes_no_existing_device() {
    let h = copy_host("virtio-8vcpu");
    let profile = h.root.parent().unwrap().join("dq.yaml");
    std::fs::write(
        &profile,
        "network:\n  default_qdisc: {value: fq, reason: pacing}\n",
    )
    .unwrap();
    let out = h.run(&["plan", "--file", profile.to_str().unwrap()]);
    expect(&out, 0, "plan");
    assert!(
        stderr(&out).contains(
            "warning: net.core.default_qdisc = fq applies only to qdiscs the kernel creates from now on"
        ),
        "{}",
        describe(&out)
    );
}

/// A fixture root without netlink.yaml still refuses NIC settings with the reason.
#[test]
fn a_root_without_a_device_description_says_how_to_give_one() {
    let h = copy_host("virtio-2vcpu");
    std::fs::remove_file(h.root.join("netlink.yaml")).unwrap();
    let rows = plan_rows(&h.run(&["plan", "throughput-profile", "-o", "json"]));
    let rings = rows.iter().find(|r| r.0 == "eth0 rings rx").unwrap();
    assert_eq!(rings.1, "skipped");
    assert!(rings.2.contains("netlink.yaml"), "{rings:?}");
}

/// The write loop through the library: an optional setting the kernel refuses (EINVAL) is
/// skipped and the rest stays; an I/O fault on the same setting (ENOSPC) is no refusal:
/// everything is undone and the error is not a usage error (exit 1); a required refusal is
/// exit 2. (EIO from an IRQ's affinity is a refusal: a managed interrupt.)
#[test]
fn the_write_loop_skips_only_refusals_of_optional_settings() {
    use hostperf::apply::apply_skipping;
    use hostperf::host::{FaultPlan, Host};
    use hostperf::journal::Journal;
    use hostperf::plan::{Plan, Purpose, Targets};
    use hostperf::profile::Catalog;
    use hostperf::tune::Knob;
    use std::collections::HashSet;

    let irq = "/proc/irq/151/smp_affinity_list";
    let run = |errno: i32, optional: bool| {
        let h = copy_host("x86-2s-mlx5");
        let host = Host::with_root(&h.root).with_faults(FaultPlan::new().fail("write", irq, errno));
        let profile = Catalog::new("/nonexistent")
            .load("latency-profile")
            .unwrap();
        let plan = Plan::build(&host, &profile, &Targets::default(), Purpose::Apply).unwrap();
        let optional: HashSet<Knob> = plan
            .items
            .iter()
            .filter(|i| optional && i.optional)
            .filter_map(|i| i.knob.clone())
            .collect();
        let before = h.state_of();
        let journal = Journal::new(&h.state);
        let result = apply_skipping(
            &host,
            &journal,
            "latency-profile",
            plan.journal_changes(),
            &optional,
        );
        (h, before, result)
    };
    let (h, _, done) = run(libc::EINVAL, true);
    let done = done.unwrap();
    assert_eq!(done.skipped.len(), 1, "{:?}", done.skipped);
    assert!(
        done.skipped[0].setting.contains("irq 151"),
        "{:?}",
        done.skipped
    );
    assert_eq!(h.read(irq), "0-63", "left as it was");
    assert_eq!(
        h.read("proc/irq/152/smp_affinity_list"),
        "17",
        "the rest applied"
    );

    let (h, before, io) = run(libc::ENOSPC, true);
    let e = io.unwrap_err();
    assert_eq!(hostperf::exit::code_for(&e), 1, "{e:#}");
    same_state(&before, &h.state_of(), "undone after an I/O fault");

    let (h, before, required) = run(libc::EINVAL, false);
    let e = required.unwrap_err();
    assert_eq!(hostperf::exit::code_for(&e), 2, "{e:#}");
    assert!(e.to_string().contains("the host is as it was"), "{e:#}");
    same_state(&before, &h.state_of(), "undone after a required refusal");
}

/// The files that differ between two states, by path.
fn changed(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    out.extend(after.keys().filter(|k| !before.contains_key(*k)).cloned());
    out.sort();
    out
}

/// The `cpu` kind on every bare-metal fixture host with a CPU set: only the files of the
/// selected CPUs change (a policy shared with CPUs outside the set is a note, and no host
/// here shares one), check passes, rollback restores every file byte for byte. Hosts
/// without a frequency driver skip the governor (optional) and fall back to disabling idle
/// states where the kernel has no PM QoS file.
#[test]
fn cpu_settings_touch_only_the_selected_cpus_and_roll_back() {
    for (host, selected, wanted) in [
        (
            "x86-2s-mlx5",
            "16-17",
            &[
                "cpu16/cpufreq/scaling_governor",
                "cpu16/cpufreq/energy_performance_preference",
                "cpu16/power/pm_qos_resume_latency_us",
                "cpu17/power/pm_qos_resume_latency_us",
            ][..],
        ),
        (
            "x86-offline-cpus",
            "4-8",
            &[
                "cpu4/cpufreq/scaling_governor",
                "cpu5/power/pm_qos_resume_latency_us",
                "cpu8/power/pm_qos_resume_latency_us",
            ],
        ),
        (
            "x86-igb-rxtx",
            "1",
            &[
                "cpu1/cpufreq/scaling_governor",
                "cpu1/cpuidle/state3/disable",
                "cpu1/cpuidle/state4/disable",
            ],
        ),
        (
            "x86-e1000e-msi",
            "0-3",
            &["cpu0/cpuidle/state2/disable", "cpu3/cpuidle/state3/disable"],
        ),
    ] {
        let h = copy_host(host);
        let profile = h.root.parent().unwrap().join("cpu.yaml");
        std::fs::write(
            &profile,
            format!(
                "cpu:\n  cpus: \"{selected}\"\n  governor: {{value: performance, optional: true, reason: test}}\n  energy_performance_preference: {{value: performance, optional: true, reason: test}}\n  max_idle_latency_us: {{value: 10, reason: test}}\n"
            ),
        )
        .unwrap();
        let file = profile.to_str().unwrap();
        let before = h.state_of();
        expect(
            &h.run(&["apply", "--file", file]),
            0,
            &format!("{host}: apply"),
        );
        let diff = changed(&before, &h.state_of());
        let cpus = hostperf::tune::net::cpus::parse_list(selected).unwrap();
        for path in &diff {
            let cpu: u32 = path
                .strip_prefix("sys/devices/system/cpu/cpu")
                .and_then(|r| r.split('/').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{host}: {path} is not a CPU file"));
            assert!(
                cpus.contains(&cpu),
                "{host}: cpu{cpu} is outside {selected}"
            );
        }
        for want in wanted {
            let path = format!("sys/devices/system/cpu/{want}");
            assert!(
                diff.contains(&path),
                "{host}: {path} unchanged; changed: {diff:#?}"
            );
        }
        // x86-offline-cpus: 6 and 7 are offline and have no files; 8 is online.
        expect(
            &h.run(&["check", "--file", file]),
            0,
            &format!("{host}: check"),
        );
        expect(&h.run(&["rollback"]), 0, &format!("{host}: rollback"));
        same_state(&before, &h.state_of(), &format!("{host}: cpu rollback"));
    }
    // The values written: PM QoS in microseconds, disabled states 1, governor performance.
    let h = copy_host("x86-2s-mlx5");
    let profile = h.root.parent().unwrap().join("cpu.yaml");
    std::fs::write(
        &profile,
        "cpu:\n  cpus: \"3\"\n  governor: {value: performance, reason: t}\n  max_idle_latency_us: {value: 0, reason: t}\n",
    )
    .unwrap();
    expect(
        &h.run(&["apply", "--file", profile.to_str().unwrap()]),
        0,
        "apply",
    );
    assert_eq!(
        h.read("sys/devices/system/cpu/cpu3/power/pm_qos_resume_latency_us"),
        "n/a"
    );
    assert_eq!(
        h.read("sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"),
        "performance"
    );
    assert_eq!(
        h.read("sys/devices/system/cpu/cpu4/cpufreq/scaling_governor"),
        "powersave"
    );
}

/// The `sysfs` kind on every fixture host: THP choice files keep the kernel's bracketed
/// layout, NAPI settings go to the default-route interface, a choice the kernel does not
/// offer (3.x lacks `defer`) is skipped when optional, and rollback restores every byte.
#[test]
fn sysfs_settings_keep_the_kernels_layout_and_roll_back() {
    let yaml = "sysfs:\n  transparent_hugepage/enabled: {value: never, reason: test}\n  transparent_hugepage/defrag: {value: defer, optional: true, reason: test}\n  net/default-route/napi_defer_hard_irqs: {value: 2, optional: true, reason: test}\n  net/default-route/gro_flush_timeout: {value: 200000, optional: true, reason: test}\n";
    for entry in std::fs::read_dir(fixture("")).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue;
        }
        let host = entry.file_name().to_string_lossy().into_owned();
        let h = copy_host(&host);
        let thp = "sys/kernel/mm/transparent_hugepage";
        let profile = h.root.parent().unwrap().join("sysfs.yaml");
        std::fs::write(&profile, yaml).unwrap();
        let file = profile.to_str().unwrap();
        let before = h.state_of();
        let out = h.run(&["apply", "--file", file]);
        if !h.root.join(thp).exists() {
            // vm-6.18 has no /sys: a required THP setting the kernel lacks blocks apply.
            expect(&out, 2, &format!("{host}: no THP"));
            assert!(
                describe(&out).contains("no transparent huge pages"),
                "{}",
                describe(&out)
            );
            same_state(&before, &h.state_of(), &format!("{host}: nothing written"));
            continue;
        }
        expect(&out, 0, &format!("{host}: apply"));
        let enabled = h.read(&format!("{thp}/enabled"));
        assert!(enabled.ends_with("[never]"), "{host}: {enabled}");
        assert_eq!(enabled.matches('[').count(), 1, "{host}: {enabled}");
        let defrag = h.read(&format!("{thp}/defrag"));
        if defrag.contains("defer") {
            assert!(defrag.contains("[defer]"), "{host}: {defrag}");
        } else {
            assert!(
                stdout(&out).contains("skipped"),
                "{host}: {}",
                describe(&out)
            );
        }
        let napi = std::fs::read_dir(h.root.join("sys/class/net"))
            .unwrap()
            .filter_map(|e| {
                let name = e.ok()?.file_name().to_string_lossy().into_owned();
                let path = format!("sys/class/net/{name}/napi_defer_hard_irqs");
                (name != "lo" && h.root.join(&path).exists()).then_some(path)
            })
            .collect::<Vec<_>>();
        for path in napi {
            assert_eq!(h.read(&path), "2", "{host}: {path}");
        }
        expect(
            &h.run(&["check", "--file", file]),
            0,
            &format!("{host}: check"),
        );
        expect(&h.run(&["rollback"]), 0, &format!("{host}: rollback"));
        same_state(&before, &h.state_of(), &format!("{host}: sysfs rollback"));
    }
}

/// A snapshot naming a CPU or sysfs file no profile could produce is refused by rollback.
#[test]
fn crafted_cpu_and_sysfs_journal_entries_are_refused() {
    let h = copy_host("x86-2s-mlx5");
    expect(&h.run(&["apply", "latency-profile"]), 0, "apply");
    let dir = h.state.join("snapshots");
    let snapshot = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .unwrap();
    let text = std::fs::read_to_string(&snapshot).unwrap();
    assert!(
        text.contains("\"kind\":\"cpu\""),
        "the snapshot journals CPU settings"
    );
    for (from, to) in [
        (
            "\"attr\":\"governor\",\"cpu\":16",
            "\"attr\":\"governor\",\"cpu\":9000",
        ),
        (
            "\"attr\":\"thp-defrag\"",
            "\"attr\":\"thp-defrag\",\"iface\":\"eth2\"",
        ),
        (
            "\"attr\":\"thp-defrag\"",
            "\"attr\":\"../../../etc/passwd\"",
        ),
    ] {
        assert!(text.contains(from), "{from} not in the snapshot");
        std::fs::write(&snapshot, text.replacen(from, to, 1)).unwrap();
        let out = h.run(&["rollback"]);
        expect(&out, 2, &format!("crafted {to}"));
    }
    std::fs::write(&snapshot, &text).unwrap();
    expect(&h.run(&["rollback"]), 0, "the genuine snapshot rolls back");
}
