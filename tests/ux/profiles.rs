//! Profiles round trip (`profiles show NAME > x.yaml; plan --file x.yaml`), read the same
//! in YAML 1.1 tools, compare key by key; plan as an unprivileged user; refusal hints.

use super::*;

const BUILT_IN: [&str; 3] = ["api-base", "latency-profile", "throughput-profile"];

#[test]
fn profiles_show_prints_a_loadable_profile() {
    let h = Host::new();
    let dir = tempfile::tempdir().unwrap();
    for name in BUILT_IN {
        let out = hostperf(&["profiles", "show", name]);
        assert_eq!(code(&out), 0, "{}", describe(&out));
        let yaml = stdout(&out);
        assert!(
            yaml.starts_with(&format!("# Profile {name} (built-in)")),
            "{yaml}"
        );
        assert!(
            !yaml.contains("\nsource:") && !yaml.contains("from: "),
            "{yaml}"
        );
        let file = profile_file(dir.path(), &format!("{name}.yaml"), &yaml);
        let from_file = h.run(&["plan", "--file", file.to_str().unwrap(), "-o", "json"]);
        assert_eq!(code(&from_file), 0, "{name}: {}", describe(&from_file));
        let by_name = h.run(&["plan", name, "-o", "json"]);
        assert_eq!(json(&from_file)["items"], json(&by_name)["items"], "{name}");
    }
}

/// `off` and the like are quoted, so a YAML 1.1 reader (PyYAML) sees the same strings.
#[test]
fn profiles_show_quotes_what_yaml_1_1_misreads() {
    let yaml = stdout(&hostperf(&["profiles", "show", "latency-profile"]));
    let line = yaml
        .lines()
        .skip_while(|l| !l.contains("adaptive-rx"))
        .find(|l| l.trim_start().starts_with("value:"))
        .unwrap();
    assert_eq!(line.trim(), "value: 'off'", "{yaml}");
    let check = "import sys, yaml\n\
        d = yaml.safe_load(open(sys.argv[1]))\n\
        v = d['network']['interfaces']['default-route']['coalesce']['adaptive-rx']['value']\n\
        assert v == 'off', repr(v)\n\
        assert d['sysctl']['fs.nr_open']['value'] == '>=1048576'\n";
    let dir = tempfile::tempdir().unwrap();
    let file = profile_file(dir.path(), "p.yaml", &yaml);
    match Command::new("python3")
        .args(["-c", check, file.to_str().unwrap()])
        .output()
    {
        Ok(out) if stderr(&out).contains("No module named 'yaml'") => skip(
            "profiles_show_quotes_what_yaml_1_1_misreads",
            "PyYAML is not installed",
        ),
        Ok(out) => assert!(out.status.success(), "PyYAML: {}", describe(&out)),
        Err(_) => skip(
            "profiles_show_quotes_what_yaml_1_1_misreads",
            "python3 is not installed",
        ),
    }
}

#[test]
fn profiles_diff_compares_resolved_keys() {
    let out = hostperf(&[
        "profiles",
        "diff",
        "latency-profile",
        "throughput-profile",
        "-o",
        "json",
    ]);
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let doc = json(&out);
    let find = |key: &str| {
        doc["differences"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["key"] == key)
            .unwrap_or_else(|| panic!("{key} missing: {doc:#}"))
            .clone()
    };
    let dirty = find("vm.dirty_bytes");
    assert_eq!(
        (dirty["a"].as_str(), dirty["b"].as_str()),
        (Some("268435456"), Some("1073741824"))
    );
    let timers = find("kernel.timer_migration");
    assert_eq!(
        (timers["a"].as_str(), timers["b"].as_str()),
        (Some("0"), None)
    );
    assert!(
        doc["same"].as_u64().unwrap() > 5,
        "api-base keys both include"
    );
    let same = hostperf(&["profiles", "diff", "api-base", "api-base"]);
    assert_eq!(code(&same), 0);
    assert!(
        stdout(&same).contains("0 key(s) differ"),
        "{}",
        describe(&same)
    );
    let text = stdout(&hostperf(&[
        "profiles",
        "diff",
        "latency-profile",
        "throughput-profile",
    ]));
    assert!(
        text.starts_with("A: latency-profile, B: throughput-profile\n"),
        "{text}"
    );
    let row = text.lines().find(|l| l.contains("vm.dirty_bytes")).unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["sysctl", "vm.dirty_bytes", "268435456", "1073741824"]
    );
}

/// Unprivileged, plan shows what apply would change and says once that apply needs root,
/// instead of a wall of "needs privilege".
#[test]
fn an_unprivileged_plan_shows_the_changes_and_one_note() {
    let test = "an_unprivileged_plan_shows_the_changes_and_one_note";
    if !nix::unistd::geteuid().is_root() {
        skip(test, "needs root to switch to nobody");
        return;
    }
    let run = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
            .args(args)
            .env("HOSTPERF_PROFILE_DIR", "/nonexistent")
            .env("NO_COLOR", "1")
            .output()
    };
    let Ok(out) = run(&["plan", "latency-profile"]) else {
        skip(test, "setpriv (util-linux) missing");
        return;
    };
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let (text, err) = (stdout(&out), stderr(&out));
    let as_root = hostperf(&["plan", "latency-profile", "-o", "json"]);
    let changes = json(&as_root)["summary"]["change"].as_u64().unwrap();
    if changes == 0 {
        skip(test, "this host already matches latency-profile");
        return;
    }
    assert!(
        text.lines().filter(|l| l.starts_with("change ")).count() as u64 >= changes,
        "{text}"
    );
    assert!(!text.contains("needs privilege"), "{text}");
    assert!(text.contains(" 0 blocking"), "{text}");
    let notes: Vec<&str> = err.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(notes[0].contains("apply needs root"), "{err}");
    let quiet = run(&["--quiet", "plan", "latency-profile"]).unwrap();
    assert!(!stderr(&quiet).contains("note:"), "{}", describe(&quiet));
}

/// The hint to mark a setting optional comes only where it would help: a required setting
/// the host lacks, not one already optional.
#[test]
fn refusals_suggest_optional_only_where_it_helps() {
    let h = Host::new();
    let dir = tempfile::tempdir().unwrap();
    let lacking = profile_file(dir.path(), "l.yaml", "sysctl:\n  net.ipv4.not_here: 1\n");
    let out = h.run(&["apply", "--file", lacking.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("optional: true"),
        "{}",
        describe(&out)
    );
    let optional = profile_file(
        dir.path(),
        "o.yaml",
        "sysctl:\n  vm.swappiness: {value: lots, optional: true}\n",
    );
    for extra in [&[][..], &["--dry-run"][..]] {
        let mut args = vec!["apply", "--file", optional.to_str().unwrap()];
        args.extend(extra);
        let out = h.run(&args);
        assert_eq!(code(&out), 2, "{}", describe(&out));
        assert!(
            stderr(&out).contains("vm.swappiness [invalid]"),
            "{}",
            describe(&out)
        );
        assert!(
            !stderr(&out).contains("optional: true"),
            "{}",
            describe(&out)
        );
    }
}
