//! apply and rollback through the library API against a copy of the captured host,
//! with faults injected into the Host seam.

mod common;

use std::path::{Path, PathBuf};

use common::fixture_copy;
use hostperf::apply::{Outcome, apply, rollback};
use hostperf::host::sysctl::SysctlKey;
use hostperf::host::{FaultPlan, Host};
use hostperf::journal::{Change, Journal, State};
use hostperf::plan::{Plan, Purpose, Targets};
use hostperf::profile::Catalog;
use hostperf::tune::Knob;

fn value(root: &Path, key: &str) -> String {
    let path: PathBuf = root.join("proc/sys").join(key.replace('.', "/"));
    hostperf::host::sysctl::normalize(&std::fs::read_to_string(path).unwrap())
}

fn latency_changes(host: &Host) -> Vec<Change> {
    let profile = Catalog::new("/nonexistent")
        .load("latency-profile")
        .unwrap();
    let plan = Plan::build(host, &profile, &Targets::default(), Purpose::Apply).unwrap();
    assert_eq!(
        plan.blockers().count(),
        0,
        "{:#?}",
        plan.blockers().collect::<Vec<_>>()
    );
    plan.journal_changes()
}

#[test]
fn apply_then_rollback_restores_every_global_key_exactly() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let host = Host::with_root(root.path());
    let journal = Journal::new(state.path());
    let before: Vec<(String, String)> = [
        "fs.file-max",
        "vm.swappiness",
        "vm.dirty_ratio",
        "vm.dirty_bytes",
        "kernel.numa_balancing",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_fin_timeout",
    ]
    .iter()
    .map(|k| (k.to_string(), value(root.path(), k)))
    .collect();

    let changes = latency_changes(&host);
    assert!(changes.len() >= 8, "{changes:#?}");
    let done = apply(&host, &journal, "latency-profile", changes).unwrap();
    assert_eq!(value(root.path(), "vm.swappiness"), "10");
    // The kernel keeps one of dirty_bytes and dirty_ratio; rollback puts the ratio back.
    assert_eq!(value(root.path(), "vm.dirty_bytes"), "268435456");
    assert_eq!(value(root.path(), "vm.dirty_ratio"), "0");
    assert_eq!(value(root.path(), "net.ipv4.tcp_fin_timeout"), "30");
    // fs.file-max was already above the bound: left alone.
    assert_eq!(value(root.path(), "fs.file-max"), before[0].1);

    let snapshot = journal.latest_restorable().unwrap().unwrap();
    assert_eq!(Some(snapshot.id.clone()), done.snapshot_id);
    assert_eq!(snapshot.state, State::Applied);
    let report = rollback(&host, &journal, snapshot, false).unwrap();
    assert!(
        report.iter().all(|r| r.outcome == Outcome::Restored),
        "{report:#?}"
    );
    for (key, old) in before {
        assert_eq!(value(root.path(), &key), old, "{key} not restored");
    }
    assert!(journal.latest_restorable().unwrap().is_none());
}

#[test]
fn a_rejected_value_mid_apply_restores_the_earlier_writes_newest_first() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let clean = Host::with_root(root.path());
    let changes = latency_changes(&clean);
    let third = changes[2].knob.clone();
    let Knob::Sysctl { key } = &third else {
        panic!("sysctl expected")
    };
    let faulty = Host::with_root(root.path()).with_faults(FaultPlan::new().fail(
        "write",
        key.proc_path(),
        libc::EINVAL,
    ));
    let originals: Vec<String> = changes[..2]
        .iter()
        .map(|c| match &c.knob {
            Knob::Sysctl { key } => value(root.path(), &key.to_string()),
            _ => unreachable!(),
        })
        .collect();

    let journal = Journal::new(state.path());
    let err = apply(&faulty, &journal, "latency-profile", changes.clone()).unwrap_err();
    let msg = format!("{err:#}");
    assert_eq!(
        hostperf::exit::code_for(&err),
        hostperf::exit::USAGE,
        "{msg}"
    );
    assert!(
        msg.contains(&key.to_string()) && msg.contains("host is as it was"),
        "{msg}"
    );
    for (change, original) in changes[..2].iter().zip(originals) {
        let Knob::Sysctl { key } = &change.knob else {
            unreachable!()
        };
        assert_eq!(
            value(root.path(), &key.to_string()),
            original,
            "{key} not restored"
        );
    }
    let snapshot = &journal.list().unwrap()[0];
    assert_eq!(snapshot.state, State::Reverted);
    assert!(journal.latest_restorable().unwrap().is_none());
}

#[test]
fn a_failed_restore_is_reported_loudly_with_the_snapshot_to_roll_back() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let changes = latency_changes(&Host::with_root(root.path()));
    let path_of = |c: &Change| match &c.knob {
        Knob::Sysctl { key } => key.proc_path(),
        _ => unreachable!(),
    };
    // The second write fails (EIO: not the operator's input), and restoring the first fails.
    let faulty = Host::with_root(root.path()).with_faults(
        FaultPlan::new()
            .fail("write", path_of(&changes[1]), libc::EIO)
            .fail_after("write", path_of(&changes[0]), 1, libc::EIO),
    );
    let journal = Journal::new(state.path());
    let err = apply(&faulty, &journal, "latency-profile", changes.clone()).unwrap_err();
    let msg = format!("{err:#}");
    assert_eq!(
        hostperf::exit::code_for(&err),
        hostperf::exit::FAILED,
        "{msg}"
    );
    assert!(
        msg.contains("RESTORE FAILED") && msg.contains("hostperf rollback"),
        "{msg}"
    );
    // The journal still offers the snapshot, so rollback can finish the job.
    let snapshot = journal.latest_restorable().unwrap().unwrap();
    assert!(msg.contains(&snapshot.id), "{msg}");
    let host = Host::with_root(root.path());
    let report = rollback(&host, &journal, snapshot, false).unwrap();
    let first = report
        .iter()
        .find(|r| r.setting == changes[0].knob.to_string())
        .unwrap();
    assert_eq!(first.outcome, Outcome::Restored, "{first:?}");
}

#[test]
fn rollback_leaves_settings_changed_since_alone_unless_forced() {
    let root = fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let host = Host::with_root(root.path());
    let journal = Journal::new(state.path());
    let original = value(root.path(), "vm.swappiness");
    apply(&host, &journal, "latency-profile", latency_changes(&host)).unwrap();
    let key = SysctlKey::parse("vm.swappiness").unwrap();
    host.sysctl_write(&key, "33").unwrap();

    let snapshot = journal.latest_restorable().unwrap().unwrap();
    let report = rollback(&host, &journal, snapshot.clone(), false).unwrap();
    let row = report
        .iter()
        .find(|r| r.setting == "vm.swappiness")
        .unwrap();
    assert_eq!(row.outcome, Outcome::SkippedDrift, "{row:?}");
    assert!(row.detail.contains("--force"), "{}", row.detail);
    assert_eq!(value(root.path(), "vm.swappiness"), "33");
    // Not fully rolled back, so it is still the latest restorable snapshot.
    let snapshot = journal.latest_restorable().unwrap().unwrap();
    rollback(&host, &journal, snapshot, true).unwrap();
    assert_eq!(value(root.path(), "vm.swappiness"), original);
}
