//! Property tests (proptest) for profile parsing, the first thing hostperf does with text
//! someone else may have written. CI runs a few hundred cases in seconds; run longer with
//! `PROPTEST_CASES=100000 cargo test --release --test trust_fuzz`.
//!
//! Properties: no input panics or runs long; every refusal is a usage error (exit 2) that
//! names the file; and whatever loads can only produce persisted files whose every line is
//! a comment or one setting of the plan.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use hostperf::host::Host;
use hostperf::plan::{Plan, Purpose, Targets};
use hostperf::profile::{Catalog, Source, parse};
use proptest::prelude::*;

/// Pieces profiles are made of, hostile ones included: control characters, aliases,
/// anchors, deep brackets, sysctl.d syntax, bounds, huge numbers, drop entries.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("sysctl:\n".to_string()),
        Just("ulimits:\n".to_string()),
        Just("include: [api-base]\n".to_string()),
        Just("include: [./x.yaml]\n".to_string()),
        Just("include: [../x.yaml]\n".to_string()),
        Just("name: p\n".to_string()),
        Just("description: \"a\\nb\"\n".to_string()),
        Just("  vm.swappiness: 10\n".to_string()),
        Just("  vm.swappiness: {value: 10, reason: \"x\\rExecStart=/bin/sh\"}\n".to_string()),
        Just("  vm.dirty_bytes: 67108864\n".to_string()),
        Just("  vm.dirty_ratio: {drop: true}\n".to_string()),
        Just("  -net.ipv4.tcp_sack: 1\n".to_string()),
        Just("  net.ipv4.conf.*.rp_filter: 1\n".to_string()),
        Just("  net.ipv4.tcp_rmem: &a [4096, 87380, \">=6291456\"]\n".to_string()),
        Just("  net.ipv4.tcp_wmem: *a\n".to_string()),
        Just("  nofile: {soft: \">=1024\", hard: 2000000}\n".to_string()),
        Just("  nofile: unlimited\n".to_string()),
        Just("  nproc: 100000000000000000000000\n".to_string()),
        Just("  nproc: {soft: 9, hard: 1}\n".to_string()),
        Just("  fs.nr_open: 4194304\n".to_string()),
        "  [a-z.]{1,20}: [0-9a-z<>=]{0,12}\n".prop_map(|s| s),
        "[\\[\\]{}:,&*!|>'\"#\\- \\n]{0,40}".prop_map(|s| s),
        (1usize..200).prop_map(|n| format!("  k: {}{}\n", "[".repeat(n), "]".repeat(n))),
        any::<String>().prop_map(|s| s.chars().take(40).collect()),
    ]
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any text: an error or a document, quickly, never a panic.
    #[test]
    fn parsing_any_text_ends_quickly_without_panicking(text in any::<String>()) {
        let started = Instant::now();
        let _ = parse(&text, &Source::File("/fuzz.yaml".into()));
        prop_assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// Profile-shaped text: errors are usage errors naming the file.
    #[test]
    fn profile_shaped_text_is_loaded_or_refused_as_a_usage_error(text in document()) {
        let started = Instant::now();
        match parse(&text, &Source::File("/fuzz.yaml".into())) {
            Ok(_) => {}
            Err(e) => {
                prop_assert_eq!(hostperf::exit::code_for(&e), hostperf::exit::USAGE);
                let message = format!("{e:#}");
                prop_assert!(message.contains("/fuzz.yaml"), "{}", message);
            }
        }
        prop_assert!(started.elapsed() < Duration::from_secs(2));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever loads and plans, the persisted files hold comments and settings only: one
    /// `key = value` line per sysctl row of the plan, four limits.conf fields per line.
    #[test]
    fn a_loaded_profile_persists_no_line_the_plan_does_not_hold(text in document()) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fuzz.yaml");
        std::fs::write(&file, &text).unwrap();
        std::fs::write(dir.path().join("x.yaml"), "sysctl:\n  vm.swappiness: 1\n").unwrap();
        let catalog = Catalog::new("/nonexistent");
        let profile = match catalog.load_file(&file) {
            Ok(p) => p,
            Err(e) => {
                prop_assert_eq!(hostperf::exit::code_for(&e), hostperf::exit::USAGE, "{:#}", e);
                return Ok(());
            }
        };
        let host = Host::with_root(common::FIXTURE);
        let Ok(mut plan) = Plan::build(&host, &profile, &Targets::default(), Purpose::Apply) else {
            return Ok(());
        };
        hostperf::rules::apply(&host, &profile, &mut plan);
        let Ok(files) = hostperf::persist::files(&host, &plan, &profile, &["api".to_string()]) else {
            return Ok(());
        };
        let rows = plan.items.iter().filter(|i| i.kind == "sysctl").count();
        for f in &files {
            if f.path == Path::new(hostperf::persist::APPLIED_FILE) {
                // The saved profile is a profile document: it loads back, and is the profile.
                let back = catalog.load_document(&f.path, &f.content);
                prop_assert!(back.is_ok(), "{:?}\n{}", back.err(), f.content);
                prop_assert_eq!(back.unwrap().sysctl.len(), profile.sysctl.len());
                continue;
            }
            let settings: Vec<&str> = f
                .content
                .lines()
                .filter(|l| !l.starts_with('#') && !l.starts_with('[') && !l.is_empty())
                .collect();
            for line in &settings {
                prop_assert!(!line.chars().any(char::is_control), "{line:?}");
                if f.path == Path::new(hostperf::persist::SYSCTL_FILE) {
                    prop_assert!(line.contains(" = "), "{line:?}");
                } else if f.path == Path::new(hostperf::persist::LIMITS_FILE) {
                    prop_assert_eq!(line.split_whitespace().count(), 4, "{:?}", line);
                } else {
                    prop_assert!(line.starts_with("Limit") || line.starts_with("DefaultLimit"), "{line:?}");
                }
            }
            if f.path == Path::new(hostperf::persist::SYSCTL_FILE) {
                prop_assert!(settings.len() <= rows);
            }
        }
    }
}
