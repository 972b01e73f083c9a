//! Data on stdout; every warning and note once on stderr; --quiet and -v.

use super::*;

/// The `warning:` lines of stderr, each with how often it appears.
fn counted(err: &str, prefix: &str) -> Vec<(String, usize)> {
    let mut seen: Vec<(String, usize)> = Vec::new();
    for line in err.lines().filter(|l| l.starts_with(prefix)) {
        match seen.iter_mut().find(|(l, _)| l == line) {
            Some((_, n)) => *n += 1,
            None => seen.push((line.to_string(), 1)),
        }
    }
    seen
}

/// A host where plan warns (irqbalance, a single tx queue, default_qdisc) and apply skips.
#[test]
fn warnings_go_to_stderr_once_and_never_to_stdout() {
    let h = Host::new();
    for args in [
        &["plan", "latency-profile"][..],
        &["plan", "latency-profile", "-o", "json"][..],
        &["check", "latency-profile"][..],
        &["apply", "latency-profile", "--dry-run"][..],
        &["apply", "latency-profile"][..],
    ] {
        let out = h.run(args);
        let (text, err) = (stdout(&out), stderr(&out));
        assert!(
            !text.contains("warning:") && !text.contains("note:"),
            "{args:?}: a warning on stdout\n{text}"
        );
        let warnings = counted(&err, "warning: ");
        assert!(!warnings.is_empty(), "{args:?}: no warning\n{err}");
        for (line, n) in warnings {
            assert_eq!(n, 1, "{args:?}: {line:?} {n} times");
        }
        assert!(!err.contains("WARN"), "{args:?}: {err}");
    }
}

/// apply says once, on stdout with the other rows, what it skipped: not also on stderr.
#[test]
fn apply_reports_each_skip_once() {
    let h = Host::new();
    let out = h.run(&["apply", "latency-profile"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let (text, err) = (stdout(&out), stderr(&out));
    let skipped: Vec<&str> = text.lines().filter(|l| l.starts_with("skipped ")).collect();
    assert!(
        skipped.iter().any(|l| l.contains("nofile")),
        "{}",
        describe(&out)
    );
    assert!(!err.contains("skipped"), "a skip on stderr too: {err}");
    assert!(!text.contains("skipped:"), "{text}");
}

/// --quiet: data only; warnings still show; it does not mix with -v.
#[test]
fn quiet_keeps_data_and_warnings_and_drops_notes() {
    let h = Host::new();
    let loud = h.run(&["plan", "latency-profile"]);
    let quiet = h.run(&["--quiet", "plan", "latency-profile"]);
    assert_eq!(code(&quiet), 0);
    assert_eq!(stdout(&loud), stdout(&quiet), "--quiet changed the data");
    assert!(stderr(&quiet).contains("warning:"), "{}", describe(&quiet));
    assert!(!stderr(&quiet).contains("note:"), "{}", describe(&quiet));
    let out = h.run(&["-q", "-v", "plan", "latency-profile"]);
    assert_eq!(code(&out), 2, "{}", describe(&out));
    // A note (an unused --resolve) is on stderr, once, and gone with --quiet.
    let args = [
        "probe",
        "http://127.0.0.1:1/",
        "--resolve",
        "example.com:80:127.0.0.1",
        "--timeout",
        "2",
    ];
    let out = hostperf(&args);
    let notes = counted(&stderr(&out), "note: ");
    assert_eq!(notes.len(), 1, "{}", describe(&out));
    assert!(
        notes[0]
            .0
            .contains("--resolve example.com:80:127.0.0.1 matches none")
    );
    assert!(!stdout(&out).contains("note:"), "{}", describe(&out));
    let mut quiet_args = vec!["--quiet"];
    quiet_args.extend(args);
    let out = hostperf(&quiet_args);
    assert!(!stderr(&out).contains("note:"), "{}", describe(&out));
}

/// -v says what each command decided (per setting); -vv what it read, file by file.
#[test]
fn verbose_logs_reads_and_decisions() {
    let h = Host::new();
    for command in ["plan", "check"] {
        let out = h.run(&["-v", command, "latency-profile"]);
        let err = stderr(&out);
        assert!(
            err.lines().any(|l| l.starts_with("info: ")
                && l.contains("decided")
                && l.contains("setting=vm.swappiness")
                && l.contains("current=60")),
            "{command} -v: {err}"
        );
        assert!(!err.contains("debug: "), "{command} -v: {err}");
        let out = h.run(&["-vv", command, "latency-profile"]);
        let err = stderr(&out);
        assert!(
            err.lines().any(|l| l.starts_with("debug: ")
                && l.contains("read")
                && l.contains("proc/sys/vm/swappiness")),
            "{command} -vv: {err}"
        );
    }
    let quiet = h.run(&["plan", "latency-profile"]);
    assert!(!stderr(&quiet).contains("info: "), "{}", describe(&quiet));
}
