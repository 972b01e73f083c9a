//! Tables in real terminals (a pseudo-terminal of 80 and 120 columns) and in pipes: no
//! borders, no line wider than the terminal, no name broken, one line per row in a pipe.

use super::*;

/// Every line of `text` fits `cols` and every name appears whole on some line.
fn assert_fits(what: &str, cols: usize, text: &str, names: &[String]) {
    assert!(!text.trim().is_empty(), "{what}: no output");
    for line in text.lines() {
        assert!(
            line.chars().count() <= cols,
            "{what}: a line of {} columns in a {cols}-column terminal:\n{line}\n\n{text}",
            line.chars().count()
        );
        assert!(
            !line.contains(['│', '─', '┌', '╭', '═', '|']),
            "{what}: a border:\n{line}"
        );
    }
    for name in names {
        assert!(
            text.lines().any(|l| l.contains(name.as_str())),
            "{what}: {name:?} is broken or missing at {cols} columns:\n{text}"
        );
    }
}

/// The `setting` of every row of a JSON list.
fn settings(value: &serde_json::Value, list: &str) -> Vec<String> {
    value[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {value:#}"))
        .iter()
        .map(|r| r["setting"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn plan_check_show_profiles_fit_80_and_120_column_terminals() {
    let h = Host::new();
    let plan = json(&h.run(&["plan", "latency-profile", "-o", "json"]));
    let names = settings(&plan, "items");
    assert!(names.len() > 20);
    let shown = json(&h.run(&["show", "-o", "json"]));
    let show_names = settings(&shown, "values");
    let profiles: Vec<String> = json(&hostperf(&["profiles", "-o", "json"]))["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    for cols in [80, 120] {
        let cases: Vec<(&str, Vec<&str>, i32, &Vec<String>)> = vec![
            ("plan", h.args(&["plan", "latency-profile"]), 0, &names),
            ("check", h.args(&["check", "latency-profile"]), 1, &names),
            (
                "apply --dry-run",
                h.args(&["apply", "latency-profile", "--dry-run"]),
                0,
                &names,
            ),
            ("show", h.args(&["show"]), 0, &show_names),
            ("profiles", vec!["profiles"], 0, &profiles),
        ];
        for (what, args, want, names) in cases {
            let Some((got, text)) = in_terminal(cols, &args) else {
                skip(
                    "plan_check_show_profiles_fit_80_and_120_column_terminals",
                    "`script` (util-linux) is missing",
                );
                return;
            };
            assert_eq!(got, want, "{what} at {cols}: {text}");
            assert_fits(&format!("{what} at {cols}"), cols, &text, names);
        }
    }
}

#[test]
fn apply_rollback_and_diff_fit_80_and_120_column_terminals() {
    for cols in [80, 120] {
        let h = Host::new();
        let plan = json(&h.run(&["plan", "throughput-profile", "-o", "json"]));
        let names: Vec<String> = plan["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["action"] == "change")
            .map(|i| i["setting"].as_str().unwrap().to_string())
            .collect();
        let Some((got, text)) = in_terminal(cols, &h.args(&["apply", "throughput-profile"])) else {
            skip(
                "apply_rollback_and_diff_fit_80_and_120_column_terminals",
                "`script` (util-linux) is missing",
            );
            return;
        };
        assert_eq!(got, 0, "{text}");
        assert_fits(&format!("apply at {cols}"), cols, &text, &names);
        let (_, text) = in_terminal(cols, &h.args(&["rollback", "--list"])).unwrap();
        assert_fits(&format!("rollback --list at {cols}"), cols, &text, &[]);
        let (got, text) = in_terminal(cols, &h.args(&["rollback"])).unwrap();
        assert_eq!(got, 0, "{text}");
        assert_fits(&format!("rollback at {cols}"), cols, &text, &names);
        let (got, text) = in_terminal(
            cols,
            &["profiles", "diff", "latency-profile", "throughput-profile"],
        )
        .unwrap();
        assert_eq!(got, 1, "{text}");
        let keys = vec![
            "vm.dirty_bytes".to_string(),
            "net.core.rmem_max".to_string(),
        ];
        assert_fits(&format!("profiles diff at {cols}"), cols, &text, &keys);
    }
}

/// In a pipe (no COLUMNS) nothing wraps: each row is one line holding its setting, current
/// and desired value, for grep and awk.
#[test]
fn a_pipe_gets_one_line_per_row() {
    let h = Host::new();
    let plan = json(&h.run(&["plan", "latency-profile", "-o", "json"]));
    let items = plan["items"].as_array().unwrap();
    let out = Command::new(bin())
        .args(h.args(&["plan", "latency-profile"]))
        .env("HOSTPERF_PROFILE_DIR", "/nonexistent")
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    let text = stdout(&out);
    // Header, one line per row, a blank line, the summary.
    assert_eq!(text.lines().count(), items.len() + 3, "{text}");
    assert!(
        text.lines().next().unwrap().starts_with("ACTION  "),
        "{text}"
    );
    for item in items {
        let setting = item["setting"].as_str().unwrap();
        let line = text
            .lines()
            .find(|l| l.split("  ").any(|c| c.trim() == setting))
            .unwrap_or_else(|| panic!("{setting} has no line of its own:\n{text}"));
        if let Some(current) = item["current"].as_str() {
            assert!(line.contains(current), "{line}");
        }
        assert!(line.contains(item["desired"].as_str().unwrap()), "{line}");
    }
    assert!(!text.contains('\u{1b}'), "colour in a pipe: {text}");
}

/// COLUMNS fits a pipe too (a CI log of a known width).
#[test]
fn columns_fits_the_output_of_a_pipe() {
    let h = Host::new();
    let plan = json(&h.run(&["plan", "latency-profile", "-o", "json"]));
    let names = settings(&plan, "items");
    for cols in [80, 100, 120] {
        let out = Command::new(bin())
            .args(h.args(&["plan", "latency-profile"]))
            .env("HOSTPERF_PROFILE_DIR", "/nonexistent")
            .env("COLUMNS", cols.to_string())
            .output()
            .unwrap();
        assert_fits(&format!("COLUMNS={cols}"), cols, &stdout(&out), &names);
    }
}

/// One vocabulary: plan and check name their columns alike, and DETAIL does not repeat
/// what CURRENT and DESIRED say.
#[test]
fn plan_and_check_share_columns_and_detail_says_only_what_they_do_not() {
    let h = Host::new();
    let plan = stdout(&h.run(&["plan", "latency-profile"]));
    let check = stdout(&h.run(&["check", "latency-profile"]));
    let header = |t: &str| -> Vec<String> {
        t.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(
        header(&plan),
        ["ACTION", "SETTING", "CURRENT", "DESIRED", "DETAIL"]
    );
    assert_eq!(
        header(&check),
        ["STATUS", "SETTING", "CURRENT", "DESIRED", "DETAIL"]
    );
    let swappiness = check.lines().find(|l| l.contains("vm.swappiness")).unwrap();
    assert!(swappiness.starts_with("fail "), "{swappiness}");
    assert!(!check.contains("profile wants"), "{check}");
    assert!(
        swappiness.contains("Reclaim drops page cache"),
        "the reason, not the values again: {swappiness}"
    );
    // A row's detail does not start with its own name again.
    let dir = tempfile::tempdir().unwrap();
    let file = profile_file(dir.path(), "m.yaml", "sysctl:\n  net.ipv4.not_here: 1\n");
    let out = h.run(&["check", "--file", file.to_str().unwrap()]);
    let row = stdout(&out)
        .lines()
        .find(|l| l.contains("net.ipv4.not_here"))
        .unwrap()
        .to_string();
    assert!(row.contains("no such key on this kernel"), "{row}");
    assert!(
        !row.contains("sysctl net.ipv4.not_here:"),
        "the name twice: {row}"
    );
}
