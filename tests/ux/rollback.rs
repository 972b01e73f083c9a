//! rollback: one line per setting (a persisted file is one line, not its content), an
//! empty list says so, a partial rollback is recorded as such.

use super::*;

#[test]
fn an_empty_list_says_there_is_nothing() {
    let h = Host::new();
    let out = h.run(&["rollback", "--list"]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).starts_with("no snapshots in "),
        "{}",
        describe(&out)
    );
    let doc = json(&h.run(&["rollback", "--list", "-o", "json"]));
    assert_eq!(doc["snapshots"], serde_json::json!([]));
}

#[test]
fn rollback_shows_one_line_per_setting_and_never_file_contents() {
    let h = Host::new();
    for dir in [
        "etc/sysctl.d",
        "etc/security/limits.d",
        "etc/systemd/system",
    ] {
        std::fs::create_dir_all(h.root.path().join(dir)).unwrap();
    }
    let out = h.run(&[
        "apply",
        "throughput-profile",
        "--persist",
        "--unit",
        "nginx",
    ]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let settings = json(&h.run(&["rollback", "--list", "-o", "json"]))["snapshots"][0]["settings"]
        .as_array()
        .unwrap()
        .len();
    let out = h.run(&["rollback"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let text = stdout(&out);
    // Header, a line per setting, a blank line, the snapshot line.
    assert_eq!(text.lines().count(), settings + 3, "{text}");
    assert!(
        !text.contains("netdev_max_backlog ="),
        "file content: {text}"
    );
    let file = text
        .lines()
        .find(|l| l.contains("/etc/sysctl.d/90-hostperf.conf"))
        .unwrap();
    assert!(file.starts_with("restored "), "{file}");
    assert!(
        file.contains("removed the file the apply created"),
        "{file}"
    );
    let swappiness = text.lines().find(|l| l.contains("vm.swappiness")).unwrap();
    assert_eq!(
        swappiness.split_whitespace().collect::<Vec<_>>(),
        ["restored", "vm.swappiness", "10", "60"]
    );
}

/// A rollback that leaves a setting alone (changed since the apply) exits 1, is recorded
/// as partly rolled back (not "applied"), and `--force` finishes it.
#[test]
fn a_partial_rollback_is_recorded_and_finished_with_force() {
    let h = Host::new();
    let out = h.run(&["apply", "latency-profile", "-o", "json"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let id = json(&out)["snapshot_id"].as_str().unwrap().to_string();
    h.set("vm.swappiness", "77");
    let out = h.run(&["rollback", "-o", "json"]);
    assert_eq!(code(&out), 1, "{}", describe(&out));
    let doc = json(&out);
    assert_eq!(doc["complete"], false);
    let snapshot = &doc["snapshots"][0];
    assert_eq!(snapshot["snapshot_id"], id.as_str());
    assert_eq!(snapshot["state"], "partly-rolled-back");
    let row = snapshot["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["setting"] == "vm.swappiness")
        .unwrap();
    assert_eq!(row["status"], "skipped-drift");
    assert_eq!(row["current"], "77");
    assert_eq!(row["desired"], "60");
    let list = stdout(&h.run(&["rollback", "--list"]));
    let line = list.lines().find(|l| l.contains(&id)).unwrap();
    assert!(line.contains("partly rolled back"), "{list}");
    let out = h.run(&["rollback"]);
    assert_eq!(code(&out), 1, "still partial: {}", describe(&out));
    assert!(
        stdout(&out).contains("partly rolled back: 1 setting(s) left"),
        "{}",
        describe(&out)
    );
    let out = h.run(&["rollback", "--force"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let list = json(&h.run(&["rollback", "--list", "-o", "json"]));
    assert_eq!(list["snapshots"][0]["state"], "rolled-back");
}
