//! diagnose and snapshot: exit codes (also through a closed pipe), tables that fit, the
//! JSON schema, --watch, progress only on a terminal, -v with thresholds.

use super::*;

const CAPTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/diagnose/base");

/// A copy of the base capture (two samples of a healthy host) to make findings in.
struct Capture(tempfile::TempDir);

impl Capture {
    fn new() -> Capture {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("cp")
            .args(["-a", &format!("{CAPTURE}/."), dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        Capture(dir)
    }

    fn path(&self) -> &str {
        self.0.path().to_str().unwrap()
    }

    fn write(&self, abs: &str, text: &str) {
        for s in ["sample0", "sample1"] {
            std::fs::write(self.0.path().join(s).join(&abs[1..]), text).unwrap();
        }
    }

    /// fd-exhaustion is critical (95% of fs.file-max).
    fn critical() -> Capture {
        let c = Capture::new();
        c.write("/proc/sys/fs/file-nr", "950\t0\t1000\n");
        c
    }

    /// listen-overflow cannot be evaluated (a malformed netstat).
    fn unreadable() -> Capture {
        let c = Capture::new();
        c.write(
            "/proc/net/netstat",
            "TcpExt: ListenOverflows\nTcpExt: banana\n",
        );
        c
    }
}

#[test]
fn diagnose_exit_codes_also_through_a_closed_pipe() {
    let (crit, bad) = (Capture::critical(), Capture::unreadable());
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["diagnose", "--from", CAPTURE], 0),
        (vec!["diagnose", "--from", crit.path()], 1),
        (vec!["diagnose", "--from", crit.path(), "-o", "json"], 1),
        (
            vec![
                "diagnose",
                "--from",
                bad.path(),
                "--check",
                "listen-overflow",
            ],
            3,
        ),
        (vec!["diagnose", "--from", CAPTURE, "--check", "nope"], 2),
        (vec!["diagnose", "--interval", "-1"], 2),
    ];
    for (args, want) in cases {
        let out = hostperf(&args);
        assert_eq!(code(&out), want, "{args:?}\n{}", describe(&out));
        let out = closed_stdout(&args);
        assert_eq!(code(&out), want, "{args:?} closed\n{}", describe(&out));
        assert_eq!(pipefail_head(&args), want, "{args:?} | head -1");
    }
}

#[test]
fn the_diagnose_table_fits_80_and_120_columns() {
    let crit = Capture::critical();
    for cols in [80, 120] {
        let Some((got, text)) = in_terminal(cols, &["diagnose", "--from", crit.path()]) else {
            skip(
                "the_diagnose_table_fits_80_and_120_columns",
                "`script` (util-linux) is missing",
            );
            return;
        };
        assert_eq!(got, 1, "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= cols, "{cols}: {line}\n{text}");
        }
        for id in ["fd-exhaustion", "port-exhaustion", "memory-fragmentation"] {
            assert!(
                text.lines()
                    .any(|l| l.split_whitespace().nth(1) == Some(id)),
                "{id} broken at {cols}:\n{text}"
            );
        }
        assert!(text.contains("  fix:         "), "{text}");
    }
}

/// --watch repeats; in a pipe the reports follow one another and it stops with the last
/// status when the reader goes away. It needs an interval and a live host.
#[test]
fn watch_repeats_until_the_reader_goes_away() {
    let started = std::time::Instant::now();
    let script = format!(
        "set -o pipefail; {} diagnose --watch --interval 0.2 --check clock --check memory-pressure | head -40 > {}",
        shell_quote(bin()),
        "/dev/stdout"
    );
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(started.elapsed().as_secs() < 20, "--watch did not stop");
    let text = stdout(&out);
    assert!(
        text.matches("== measured ").count() >= 2,
        "one report after another: {}",
        describe(&out)
    );
    assert!(matches!(code(&out), 0 | 1), "{}", describe(&out));
    for args in [
        &["diagnose", "--watch", "--interval", "0"][..],
        &["diagnose", "--watch", "--from", CAPTURE][..],
    ] {
        let out = hostperf(args);
        assert_eq!(code(&out), 2, "{args:?}\n{}", describe(&out));
    }
}

/// While diagnose waits for its second sample, and while snapshot captures, a spinner
/// shows on a terminal: never in a pipe, never with --quiet.
#[test]
fn progress_shows_only_on_a_terminal() {
    let test = "progress_shows_only_on_a_terminal";
    let args = ["diagnose", "--interval", "0.5", "--check", "clock"];
    let Some((_, text)) = in_terminal_with_stderr(100, &args) else {
        skip(test, "`script` (util-linux) is missing");
        return;
    };
    assert!(text.contains("measuring live for 0.5 s"), "{text}");
    let piped = hostperf(&args);
    assert!(
        !stderr(&piped).contains("measuring"),
        "{}",
        describe(&piped)
    );
    let mut quiet = vec!["--quiet"];
    quiet.extend(args);
    let (_, text) = in_terminal_with_stderr(100, &quiet).unwrap();
    assert!(!text.contains("measuring"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.tar.gz");
    let file = file.to_str().unwrap();
    let (got, text) =
        in_terminal_with_stderr(100, &["snapshot", file, "--interval", "0.3"]).unwrap();
    assert_eq!(got, 0, "{text}");
    assert!(text.contains("capturing this host into"), "{text}");
    assert!(text.contains(&format!("note: wrote {file}")), "{text}");
    let second = dir.path().join("c2.tar.gz");
    let out = hostperf(&["snapshot", second.to_str().unwrap(), "--interval", "0"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert!(!stderr(&out).contains("capturing"), "{}", describe(&out));
    let out = hostperf(&[
        "snapshot",
        dir.path().join("missing/c.tar.gz").to_str().unwrap(),
        "--interval",
        "0",
    ]);
    assert_eq!(code(&out), 2, "{}", describe(&out));
    assert!(
        stderr(&out).contains("does not exist"),
        "{}",
        describe(&out)
    );
}

/// -v: every number diagnose judged, with its thresholds and their source.
#[test]
fn verbose_diagnose_logs_thresholds() {
    let crit = Capture::critical();
    let out = hostperf(&[
        "-v",
        "diagnose",
        "--from",
        crit.path(),
        "--check",
        "fd-exhaustion",
    ]);
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("info: judged") && l.contains("check=\"fd-exhaustion\""))
        .or_else(|| {
            err.lines()
                .find(|l| l.starts_with("info: judged") && l.contains("fd-exhaustion"))
        })
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("warn=Some(0.7)") && line.contains("crit=Some(0.9)"),
        "{line}"
    );
}

#[test]
fn the_diagnose_json_matches_its_schema() {
    let crit = Capture::critical();
    super::schemas::validate(
        "diagnose",
        &hostperf(&["diagnose", "--from", crit.path(), "-o", "json"]),
    );
    super::schemas::validate(
        "diagnose",
        &hostperf(&["diagnose", "--from", CAPTURE, "-o", "json"]),
    );
}

/// A missing --output directory is refused before a long measurement, not after it.
#[test]
fn a_missing_output_directory_is_refused_before_measuring() {
    for args in [
        &[
            "diagnose",
            "--interval",
            "30",
            "--output",
            "json=/nonexistent-hp/d.json",
        ][..],
        &[
            "probe",
            "http://127.0.0.1:1/",
            "--output",
            "json=/nonexistent-hp/p.json",
        ][..],
        &["snapshot", "/nonexistent-hp/c.tar.gz", "--interval", "30"][..],
    ] {
        let started = std::time::Instant::now();
        let out = hostperf(args);
        assert_eq!(code(&out), 2, "{args:?}\n{}", describe(&out));
        assert!(
            stderr(&out).contains("does not exist"),
            "{}",
            describe(&out)
        );
        assert!(started.elapsed().as_secs() < 10, "{args:?} measured first");
    }
}
