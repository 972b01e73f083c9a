//! The boot unit and the per-interface template as shipped: `systemd-analyze verify`
//! passes them with no warning (skipped, with the reason, where it cannot run), they wait
//! for the file `apply --persist` writes, run `apply --boot`, and the package enables the
//! boot unit. The udev rule and what the units run are exercised in
//! tests/persist_reboot.rs.

mod common;

use std::path::Path;

use common::describe;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn unit_text(name: &str) -> String {
    std::fs::read_to_string(Path::new(REPO).join("contrib/systemd").join(name)).unwrap()
}

/// Values of `key=` lines in a unit file, in order.
fn values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().to_string())
        .collect()
}

#[test]
fn persist_units_pass_systemd_analyze_verify() {
    // The template as an instance, as the udev rule starts it.
    common::verify_units(
        "persist_units_pass_systemd_analyze_verify",
        &[
            ("hostperf-apply.service", "hostperf-apply.service"),
            ("hostperf-iface@.service", "hostperf-iface@eth0.service"),
        ],
    );
}

#[test]
fn the_units_wait_for_the_saved_profile_and_order_before_the_network() {
    let apply = unit_text("hostperf-apply.service");
    let iface = unit_text("hostperf-iface@.service");
    for text in [&apply, &iface] {
        assert_eq!(
            values(text, "ConditionPathExists"),
            [hostperf::persist::APPLIED_FILE]
        );
        assert_eq!(values(text, "Type"), ["oneshot"]);
        assert_eq!(values(text, "DefaultDependencies"), ["no"]);
        assert!(values(text, "Before")[0].contains("network-pre.target"));
        assert!(values(text, "Conflicts")[0].contains("shutdown.target"));
    }
    assert_eq!(values(&apply, "RemainAfterExit"), ["yes"]);
    assert!(
        values(&iface, "RemainAfterExit").is_empty(),
        "runs again on the next add"
    );
    assert_eq!(values(&apply, "Wants"), ["network-pre.target"]);
    let after = values(&apply, "After").join(" ");
    for unit in [
        "systemd-sysctl.service",
        "systemd-modules-load.service",
        "systemd-udev-trigger.service",
    ] {
        assert!(after.contains(unit), "{after}");
    }
    assert!(
        !after.contains("udev-settle"),
        "deprecated, and not needed: {after}"
    );
    assert!(values(&iface, "After")[0].contains("hostperf-apply.service"));
    assert_eq!(values(&apply, "WantedBy"), ["sysinit.target"]);
    assert!(
        hostperf::persist::units::BootUnits::detect(&hostperf::host::Host::with_root(
            "/nonexistent"
        ))
        .problems()[0]
            .contains("systemctl enable hostperf-apply.service")
    );
    // The package installs and enables this very unit.
    let cargo = std::fs::read_to_string(Path::new(REPO).join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains("unit-scripts = \"contrib/systemd\"")
            && cargo.contains("unit-name = \"hostperf-apply\"")
            && cargo.contains("contrib/udev/90-hostperf.rules")
            && cargo.contains("contrib/systemd/hostperf-iface@.service"),
        "Cargo.toml [package.metadata.deb]"
    );
}

/// `--iface` belongs to `--boot`: with a profile it is refused before anything is read, so
/// it can never turn into an apply of the whole profile.
#[test]
fn iface_without_boot_is_refused_and_changes_nothing() {
    let root = common::fixture_copy();
    let state = tempfile::tempdir().unwrap();
    let before = common::tree(root.path());
    let out = common::hostperf(&[
        "--root",
        root.path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
        "apply",
        "--iface",
        "eth0",
        "latency-profile",
    ]);
    assert_eq!(common::code(&out), 2, "{}", describe(&out));
    assert!(
        common::stderr(&out).contains("--iface NAME limits `apply --boot`"),
        "{}",
        describe(&out)
    );
    assert!(common::tree(root.path()) == before, "nothing written");
    assert!(!state.path().join("snapshots").exists());
}
