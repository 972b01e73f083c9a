//! `hostperf bench` against the real kernel: each scenario briefly (a second or two per run)
//! in bench's own namespaces, asserting what holds on any machine, and that the host's own
//! settings are the same afterwards.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// Host sysctls the scenarios below touch inside their namespaces.
const WATCHED: &[&str] = &[
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_tw_reuse",
    "net.core.somaxconn",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.ip_forward",
    "net.ipv4.tcp_rmem",
];

fn host_values() -> Vec<String> {
    WATCHED.iter().map(|k| host_sysctl(k)).collect()
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Runs bench with JSON on stdout; returns the report, or None (after a SKIP line) where the
/// scenario could not run here.
fn bench(test: &str, args: &[&str]) -> Option<Value> {
    if !is_root() {
        skip(test, "bench needs root to create network namespaces");
        return None;
    }
    let before = host_values();
    let mut all = vec!["bench", "-o", "json"];
    all.extend_from_slice(args);
    let out = hostperf(&all);
    assert_eq!(
        host_values(),
        before,
        "the host's own settings changed: {}",
        describe(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no JSON report: {}", describe(&out)));
    assert!(
        report["host_check"]["changed"]
            .as_array()
            .is_some_and(|a| a.is_empty()),
        "bench saw the host change: {}",
        report["host_check"]
    );
    assert!(
        report["host_check"]["compared"].as_u64().unwrap_or(0) > 0,
        "{}",
        report["host_check"]
    );
    let scenario = &report["scenarios"][0];
    match scenario["status"]["status"].as_str() {
        Some("done") => {}
        Some("skipped") => {
            skip(
                test,
                scenario["status"]["reason"].as_str().unwrap_or("skipped"),
            );
            return None;
        }
        _ => panic!("scenario did not finish: {}", describe(&out)),
    }
    assert_eq!(code(&out), 0, "{}", describe(&out));
    Some(report)
}

fn run<'a>(report: &'a Value, arm: usize, phase: &str) -> &'a Value {
    let r = &report["scenarios"][0]["arms"][arm][phase];
    assert!(r.is_object(), "no {phase} run for arm {arm}: {report}");
    r
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn profile_file(dir: &std::path::Path, yaml: &str) -> String {
    write(dir, "p.yaml", yaml).to_string_lossy().into_owned()
}

#[test]
fn port_exhaustion_with_200_ports_fails_without_tw_reuse_and_not_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = profile_file(dir.path(), "sysctl:\n  net.ipv4.tcp_tw_reuse: 1\n");
    let plots = dir.path().join("plots");
    let Some(report) = bench(
        "port_exhaustion_with_200_ports_fails_without_tw_reuse_and_not_with_it",
        &[
            "--file",
            &file,
            "--scenario",
            "port-exhaustion",
            "--sysctl",
            "net.ipv4.ip_local_port_range=40000 40199",
            "--sysctl",
            "net.ipv4.tcp_tw_reuse=0",
            "--rate",
            "150",
            "--duration",
            "2",
            "--warmup",
            "0.3",
            "--plot",
            plots.to_str().unwrap(),
        ],
    ) else {
        return;
    };
    let baseline = run(&report, 0, "baseline");
    let profile = run(&report, 0, "profile");
    assert!(
        num(&baseline["errors"]["addr_not_available"]) > 0.0,
        "200 ports, no reuse: {baseline}"
    );
    assert!(num(&baseline["client"]["time_wait"]) >= 150.0, "{baseline}");
    assert_eq!(
        num(&profile["errors"]["addr_not_available"]),
        0.0,
        "{profile}"
    );
    assert_eq!(num(&profile["errors"]["unsent"]), 0.0, "{profile}");
    let keys = report["scenarios"][0]["keys_in_effect"].to_string();
    assert!(keys.contains("net.ipv4.tcp_tw_reuse 1"), "{keys}");
    // The plot, as SVG and PNG.
    let svg = std::fs::read_to_string(plots.join("port-exhaustion.svg"));
    let png = std::fs::read(plots.join("port-exhaustion.png"));
    match (svg, png) {
        (Ok(svg), Ok(png)) => {
            assert!(svg.contains("<svg") && svg.contains("baseline"), "{svg}");
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        }
        _ => skip(
            "port_exhaustion plot",
            "no plot written (no TrueType font? apt-get install fonts-dejavu-core)",
        ),
    }
}

#[test]
fn accept_burst_with_backlog_1_drops_and_stalls_and_a_deep_backlog_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let file = profile_file(dir.path(), "sysctl:\n  net.core.somaxconn: \">=4096\"\n");
    let Some(report) = bench(
        "accept_burst_with_backlog_1_drops_and_stalls_and_a_deep_backlog_does_not",
        &[
            "--file",
            &file,
            "--scenario",
            "accept-burst",
            "--sysctl",
            "net.core.somaxconn=1",
            "--rate",
            "300",
            "--duration",
            "1",
            "--warmup",
            "0",
        ],
    ) else {
        return;
    };
    let baseline = run(&report, 0, "baseline");
    let profile = run(&report, 0, "profile");
    assert!(num(&baseline["server"]["listen_drops"]) > 0.0, "{baseline}");
    // A dropped handshake is retried after 1 s: connect stalls show in p99.
    assert!(num(&baseline["latency_ms"]["p99"]) >= 900.0, "{baseline}");
    assert_eq!(num(&profile["server"]["listen_drops"]), 0.0, "{profile}");
    assert!(num(&profile["latency_ms"]["p99"]) < 900.0, "{profile}");
}

#[test]
fn bufferbloat_deep_queue_p99_is_several_times_the_shallow_one() {
    let Some(report) = bench(
        "bufferbloat_deep_queue_p99_is_several_times_the_shallow_one",
        &[
            "latency-profile",
            "--key",
            "net.ipv4.tcp_congestion_control",
            "--scenario",
            "bufferbloat",
            "--rate",
            "40",
            "--duration",
            "1.5",
            "--warmup",
            "1",
        ],
    ) else {
        return;
    };
    let deep = num(&run(&report, 0, "baseline")["latency_ms"]["p99"]);
    let shallow = num(&run(&report, 1, "baseline")["latency_ms"]["p99"]);
    assert!(
        deep >= 3.0 * shallow,
        "deep p99 {deep} ms, shallow p99 {shallow} ms"
    );
    // The bulk download really crossed the 20 Mbit/s bottleneck.
    let mbit = num(&run(&report, 1, "baseline")["bulk_mbit"]);
    assert!(mbit > 5.0 && mbit < 21.0, "bulk {mbit} Mbit/s");
}

#[test]
fn keepalive_achieves_more_than_a_connection_per_request() {
    let Some(report) = bench(
        "keepalive_achieves_more_than_a_connection_per_request",
        &[
            "latency-profile",
            "--scenario",
            "keepalive",
            "--rate",
            "30000",
            "--duration",
            "1",
            "--warmup",
            "0.3",
        ],
    ) else {
        return;
    };
    // What a namespace can show of the profile, and what it cannot.
    let reach = |key: &str| {
        report["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .map(|r| r["reach"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{key} not in {}", report["settings"]))
    };
    assert_eq!(reach("net.ipv4.tcp_tw_reuse"), "in-effect");
    assert_eq!(reach("vm.swappiness"), "host-wide");
    assert_eq!(reach("fs.file-max"), "host-wide");
    // Busy polling is the opt-in busy-poll profile's, no longer latency-profile's.
    assert!(
        !report["settings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["key"] == "net.core.busy_read")
    );
    for phase in ["baseline", "profile"] {
        let keep = num(&run(&report, 0, phase)["achieved_rps"]);
        let fresh = num(&run(&report, 1, phase)["achieved_rps"]);
        assert!(
            keep > fresh,
            "{phase}: keep-alive {keep} req/s, new connection {fresh}"
        );
    }
}

#[test]
fn nagle_with_delayed_acks_adds_tens_of_milliseconds() {
    let Some(report) = bench(
        "nagle_with_delayed_acks_adds_tens_of_milliseconds",
        &[
            "latency-profile",
            "--key",
            "net.ipv4.tcp_tw_reuse",
            "--scenario",
            "nodelay",
            "--duration",
            "1",
            "--warmup",
            "0.3",
        ],
    ) else {
        return;
    };
    let on = num(&run(&report, 0, "baseline")["latency_ms"]["p50"]);
    let off = num(&run(&report, 1, "baseline")["latency_ms"]["p50"]);
    assert!(
        off >= 20.0 && off > 5.0 * on,
        "nodelay on p50 {on} ms, off {off} ms"
    );
}

#[test]
fn bench_refuses_without_root_and_on_bad_input() {
    if !is_root() {
        let out = hostperf(&["bench", "--scenario", "nodelay"]);
        assert_eq!(code(&out), 2, "{}", describe(&out));
        assert!(stderr(&out).contains("needs root"), "{}", describe(&out));
        return;
    }
    // As another user: exit 2 before anything is created.
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            bin(),
        ])
        .args(["bench", "--scenario", "nodelay", "--duration", "1"])
        .env("HOSTPERF_PROFILE_DIR", "/nonexistent")
        .output();
    match out {
        Ok(out) => {
            assert_eq!(code(&out), 2, "{}", describe(&out));
            assert!(stderr(&out).contains("needs root"), "{}", describe(&out));
        }
        Err(e) => skip("bench_refuses_without_root", &format!("no setpriv: {e}")),
    }
    for (args, says) in [
        (vec!["bench", "--scenario", "nope"], "unknown scenario"),
        (vec!["bench", "--key", "vm.nope"], "no such setting"),
        (vec!["bench", "--key", "vm.swappiness"], "vm.* is global"),
        (vec!["bench", "--duration", "0"], "between"),
        (
            vec!["bench", "--sysctl", "vm.swappiness=1"],
            "per-namespace",
        ),
    ] {
        let out = hostperf(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", describe(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", describe(&out));
    }
}
