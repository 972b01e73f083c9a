//! A capture made by `snapshot` gives the same findings through `diagnose --from`.

use std::process::Command;
use std::time::Duration;

use hostperf::diagnose::{self, LogWindow, capture, checks, config::Config, sample::Focus};
use hostperf::host::Host;

const BIN: &str = env!("CARGO_BIN_EXE_hostperf");

#[test]
fn archive_round_trip_gives_the_same_findings() {
    let all = checks::all();
    let cfg = Config::default();
    let needs = diagnose::needs_of(&all, true, &cfg).everything();
    let focus = Focus::default();
    let window = LogWindow::default();
    let (first, last) = diagnose::take_samples(
        &Host::live(),
        &needs,
        &focus,
        Duration::from_millis(300),
        window,
    );
    let first = first.expect("two samples");
    let live = diagnose::evaluate(&all, Some(&first), &last, &cfg, &focus, "live".into());

    let manifest = capture::Manifest {
        schema_version: capture::CAPTURE_VERSION,
        kind: capture::SNAPSHOT_KIND.into(),
        hostperf_version: "test".into(),
        interval_secs: last.secs - first.secs,
        samples: vec!["sample0".into(), "sample1".into()],
        kernel: None,
        hostname: None,
        created_unix: None,
    };
    let bytes = diagnose::write_archive(&manifest, &[&first, &last]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.tar.gz");
    std::fs::write(&path, bytes).unwrap();
    let cap = capture::open(&path).unwrap();
    let (f2, l2) = diagnose::capture_samples(&cap, &needs, &focus, window);
    let f2 = f2.expect("two samples in the archive");
    assert_eq!(f2.secs, first.secs);
    assert_eq!(l2.secs, last.secs);
    assert_eq!(l2.sockets, last.sockets);
    assert_eq!(l2.procs, last.procs);
    assert_eq!(l2.files, last.files);
    let captured = diagnose::evaluate(&all, Some(&f2), &l2, &cfg, &focus, "capture".into());
    assert_eq!(live.interval_secs, captured.interval_secs);
    for (a, b) in live.findings.iter().zip(&captured.findings) {
        assert_eq!(a, b);
    }
}

#[test]
fn snapshot_then_diagnose_from_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ticket-123.tar.gz");
    let out = Command::new(BIN)
        .args(["snapshot", "--interval", "0.3"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Process names and kernel log lines: only the owner may read the archive.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "snapshot mode {mode:o}");
    let run = || {
        let out = Command::new(BIN)
            .args(["diagnose", "--format", "json", "--from"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let a = run();
    let b = run();
    assert_eq!(a, b, "a capture always gives the same findings");
    assert_eq!(a["findings"].as_array().unwrap().len(), 19);
    assert!(a["interval_secs"].as_f64().unwrap() >= 0.3);
}

/// A snapshot is a .tar.gz: any other name is a usage error before anything is captured,
/// and nothing is written.
#[test]
fn snapshot_refuses_a_name_that_is_not_tar_gz() {
    for name in [
        "ticket.txt",
        "ticket.tar",
        "ticket.gz",
        "ticket.tar.gz.bak",
        ".tgz",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(BIN)
            .args(["snapshot", "--interval", "0.3"])
            .arg(dir.path().join(name))
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&format!(
                "cannot write snapshot {}: a snapshot is a gzip-compressed tar archive, so its file name must end in .tar.gz or .tgz",
                dir.path().join(name).display()
            )),
            "{name}: {err}"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{name}: nothing is written"
        );
    }
}
