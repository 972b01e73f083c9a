//! Every JSON output has `schema_version` and a JSON Schema in docs/schemas/, generated
//! from the Rust types; real output of every command validates against it.

use super::*;

fn schemas_dir() -> PathBuf {
    repo().join("docs/schemas")
}

/// docs/schemas/ is what the types generate; `HOSTPERF_WRITE_SCHEMAS=1` rewrites it.
#[test]
fn published_schemas_are_current() {
    let dir = schemas_dir();
    let write = std::env::var_os("HOSTPERF_WRITE_SCHEMAS").is_some();
    let mut expected = Vec::new();
    for (name, _, schema) in hostperf::report::schemas::all() {
        let path = dir.join(format!("{name}.json"));
        let text = hostperf::report::schemas::text(&schema);
        if write {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == text,
            "{} is stale: run `HOSTPERF_WRITE_SCHEMAS=1 cargo test --test ux schemas`",
            path.display()
        );
        expected.push(format!("{name}.json"));
    }
    let mut found: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected, "a schema file no output has");
    let json_md = std::fs::read_to_string(repo().join("docs/json.md")).unwrap();
    for name in &expected {
        assert!(
            json_md.contains(&format!("schemas/{name}")),
            "docs/json.md does not mention {name}"
        );
    }
}

pub fn validate(name: &str, out: &Output) {
    let path = schemas_dir().join(format!("{name}.json"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let value = json(out);
    assert!(
        value["schema_version"].is_u64(),
        "{name}: no schema_version\n{value:#}"
    );
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}:\n{}\n{value:#}",
        errors.join("\n")
    );
}

#[test]
fn every_json_output_matches_its_schema() {
    let h = Host::new();
    for dir in [
        "etc/sysctl.d",
        "etc/security/limits.d",
        "etc/systemd/system",
    ] {
        std::fs::create_dir_all(h.root.path().join(dir)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = profile_file(dir.path(), "m.yaml", "sysctl:\n  net.ipv4.not_here: 1\n");
    let missing = missing.to_str().unwrap();
    validate("plan", &h.run(&["plan", "latency-profile", "-o", "json"]));
    validate("plan", &h.run(&["plan", "--file", missing, "-o", "json"]));
    validate("check", &h.run(&["check", "latency-profile", "-o", "json"]));
    validate("check", &h.run(&["check", "--file", missing, "-o", "json"]));
    let dry = h.run(&["apply", "latency-profile", "--dry-run", "-o", "json"]);
    validate("apply", &dry);
    assert_eq!(json(&dry)["dry_run"], true);
    assert_eq!(json(&dry)["snapshot_id"], serde_json::Value::Null);
    validate(
        "apply",
        &h.run(&["apply", "--file", missing, "--dry-run", "-o", "json"]),
    );
    validate(
        "rollback-list",
        &h.run(&["rollback", "--list", "-o", "json"]),
    );
    let applied = h.run(&[
        "apply",
        "throughput-profile",
        "--persist",
        "--unit",
        "api",
        "-o",
        "json",
    ]);
    validate("apply", &applied);
    assert_eq!(json(&applied)["dry_run"], false);
    let status = h.run(&["status", "-o", "json"]);
    validate("status", &status);
    assert_eq!(json(&status)["applied"]["profile"], "throughput-profile");
    let recommend = h.run(&["recommend", "-o", "json"]);
    validate("recommend", &recommend);
    assert!(json(&recommend)["plan"]["items"].is_array());
    let id = json(&applied)["snapshot_id"].as_str().unwrap().to_string();
    validate(
        "rollback-list",
        &h.run(&["rollback", "--list", "-o", "json"]),
    );
    let rolled = h.run(&["rollback", "-o", "json"]);
    validate("rollback", &rolled);
    assert_eq!(json(&rolled)["snapshots"][0]["snapshot_id"], id.as_str());
    validate(
        "rollback-forget",
        &h.run(&["rollback", "--forget", &id, "-o", "json"]),
    );
    validate("show", &h.run(&["show", "-o", "json"]));
    validate("show", &h.run(&["show", "net.ipv4.not_here", "-o", "json"]));
    validate("profiles", &hostperf(&["profiles", "-o", "json"]));
    for name in ["api-base", "latency-profile", "throughput-profile"] {
        validate(
            "profiles-show",
            &hostperf(&["profiles", "show", name, "-o", "json"]),
        );
    }
    validate(
        "profiles-diff",
        &hostperf(&[
            "profiles",
            "diff",
            "latency-profile",
            "throughput-profile",
            "-o",
            "json",
        ]),
    );
    let probe = hostperf(&[
        "probe",
        "http://127.0.0.1:1/",
        "--timeout",
        "2",
        "-o",
        "json",
    ]);
    assert_eq!(code(&probe), 1, "{}", describe(&probe));
    validate("probe", &probe);
}

/// `desired` is one shape (a string as the profile writes it) wherever it appears.
#[test]
fn desired_is_always_a_string() {
    let h = Host::new();
    let plan = json(&h.run(&["plan", "latency-profile", "-o", "json"]));
    for item in plan["items"].as_array().unwrap() {
        assert!(item["desired"].is_string(), "{item:#}");
    }
    let check = json(&h.run(&["check", "latency-profile", "-o", "json"]));
    for r in check["results"].as_array().unwrap() {
        assert!(
            r["desired"].is_string() && r.get("expected").is_none(),
            "{r:#}"
        );
    }
    let fin = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["setting"] == "net.ipv4.tcp_fin_timeout")
        .unwrap();
    assert_eq!(fin["desired"], "<=30");
    assert_eq!(fin["target"], "30");
}
