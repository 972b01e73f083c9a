//! One flag vocabulary: `-o, --format FMT` on every command, `--output FMT=PATH` wherever
//! reports are written (a missing directory is an error), help texts true to each command.

use super::*;

fn help(command: &str) -> String {
    let out = hostperf(&[command, "--help"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    stdout(&out)
}

#[test]
fn help_says_what_each_command_does_with_pid() {
    let plan = help("plan");
    let check = help("check");
    let apply = help("apply");
    assert!(
        plan.contains("Also show the ulimit changes for this running process"),
        "{plan}"
    );
    assert!(
        check.contains("Also check the ulimits of this running process"),
        "{check}"
    );
    assert!(apply.contains("live, with prlimit"), "{apply}");
    for (name, text) in [("plan", &plan), ("check", &check)] {
        assert!(
            !text.contains("ulimits live") && !text.contains("Apply ulimits"),
            "{name} --help: {text}"
        );
    }
    assert!(
        apply.contains("exit 2"),
        "--dry-run says when it fails: {apply}"
    );
}

#[test]
fn every_command_takes_format_and_reports_take_output() {
    let h = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for command in [
        &["plan", "latency-profile"][..],
        &["check", "latency-profile"][..],
        &["show", "vm.swappiness"][..],
        &["rollback", "--list"][..],
    ] {
        for flag in ["-o", "--format"] {
            let mut args = command.to_vec();
            args.extend([flag, "json"]);
            let out = h.run(&args);
            assert!(code(&out) <= 1, "{args:?}\n{}", describe(&out));
            json(&out);
        }
    }
    for args in [&["profiles"][..], &["profiles", "show", "api-base"][..]] {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        json(&hostperf(&args));
    }
    // --output writes the report where asked, beside stdout in its own format.
    let cases = [
        ("plan", vec!["plan", "latency-profile"], "json", 0),
        (
            "apply",
            vec!["apply", "latency-profile", "--dry-run"],
            "json",
            0,
        ),
        ("check", vec!["check", "latency-profile"], "junit", 1),
    ];
    for (name, command, format, want) in cases {
        let path = format!("{d}/{name}.out");
        let target = format!("{format}={path}");
        let mut args = command.clone();
        args.extend(["--output", &target]);
        let out = h.run(&args);
        assert_eq!(code(&out), want, "{args:?}\n{}", describe(&out));
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(
            written.starts_with('{') || written.starts_with("<?xml"),
            "{written}"
        );
        assert!(stdout(&out).starts_with("ACTION") || stdout(&out).starts_with("STATUS"));
        // A directory that does not exist is an error, not created.
        let target = format!("{format}={d}/missing/{name}.out");
        let mut args = command.clone();
        args.extend(["--output", &target]);
        let out = h.run(&args);
        assert_eq!(code(&out), 2, "{args:?}\n{}", describe(&out));
        assert!(
            stderr(&out).contains("cannot write report"),
            "{}",
            describe(&out)
        );
        assert!(!Path::new(&format!("{d}/missing")).exists());
    }
    // --output takes FORMAT=PATH; a bare format says what it expects.
    let out = h.run(&["check", "latency-profile", "--output", "json"]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("expected FORMAT=PATH"),
        "{}",
        describe(&out)
    );
}

#[test]
fn failures_only_lists_failing_settings_and_keeps_the_summary() {
    let h = Host::new();
    let all = json(&h.run(&["check", "latency-profile", "-o", "json"]));
    let out = h.run(&["check", "latency-profile", "--failures-only", "-o", "json"]);
    assert_eq!(code(&out), 1);
    let failing = json(&out);
    assert_eq!(failing["summary"], all["summary"]);
    let results = failing["results"].as_array().unwrap();
    assert_eq!(
        results.len() as u64,
        all["summary"]["fail"].as_u64().unwrap() + all["summary"]["error"].as_u64().unwrap()
    );
    assert!(
        results
            .iter()
            .all(|r| r["status"] == "fail" || r["status"] == "error")
    );
    let text = stdout(&h.run(&["check", "latency-profile", "--failures-only"]));
    assert!(!text.lines().any(|l| l.starts_with("pass ")), "{text}");
    assert!(
        text.contains("pass,"),
        "the summary still counts passes: {text}"
    );
}
