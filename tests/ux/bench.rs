//! bench: exit codes, a report that fits a terminal, JSON against its schema, progress
//! only on a terminal.

use super::*;

#[test]
fn bench_usage_errors_exit_2() {
    for args in [
        &["bench", "--scenario", "nope"][..],
        &["--root", "/", "bench"][..],
        &["bench", "--duration", "0"][..],
    ] {
        let out = hostperf(args);
        assert_eq!(code(&out), 2, "{args:?}\n{}", describe(&out));
        assert_eq!(code(&closed_stdout(args)), 2, "{args:?}");
    }
}

/// One short scenario (about 2 s): its JSON matches the schema; in an 80-column terminal
/// the report fits and progress shows on stderr; in a pipe stderr stays quiet.
#[test]
fn a_short_bench_fits_and_matches_its_schema() {
    let test = "a_short_bench_fits_and_matches_its_schema";
    if !nix::unistd::geteuid().is_root() {
        skip(test, "bench needs root to create network namespaces");
        return;
    }
    let args = [
        "bench",
        "--scenario",
        "keepalive",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--rate",
        "200",
    ];
    let mut json_args = args.to_vec();
    json_args.extend(["-o", "json"]);
    let out = hostperf(&json_args);
    if code(&out) == 3 {
        skip(
            test,
            &format!("the scenario was skipped here: {}", describe(&out)),
        );
        return;
    }
    assert_eq!(code(&out), 0, "{}", describe(&out));
    super::schemas::validate("bench", &out);
    assert!(
        !stderr(&out).contains("bench: ["),
        "progress in a pipe: {}",
        describe(&out)
    );
    let Some((got, text)) = in_terminal_with_stderr(80, &args) else {
        skip(test, "`script` (util-linux) is missing");
        return;
    };
    assert_eq!(got, 0, "{text}");
    assert!(text.contains("keepalive"), "{text}");
    // The report itself (after the spinner's last redraw) fits 80 columns.
    let report = &text[text.find("hostperf bench").unwrap_or(0)..];
    for line in report.lines() {
        assert!(line.chars().count() <= 80, "{line}\n{report}");
    }
    assert!(
        report.contains("METRIC") && report.contains("PROFILE/BASELINE"),
        "{report}"
    );
}
