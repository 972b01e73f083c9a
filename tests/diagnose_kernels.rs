//! Diagnose on the layouts of other kernels and runtimes: Linux 2.6.32, gVisor, a host with an
//! offline CPU (tests/fixtures/diagnose/kernels, built from cited real layouts), and the public
//! captures of other projects in ../shared/fixtures/public-proc when present. No check may end
//! in `error` for a layout a kernel really prints, and no library's internal text may show.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hostperf");

fn kernels(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/diagnose/kernels")
        .join(name)
}

fn diagnose(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), json, stdout)
}

fn finding(report: &Value, id: &str) -> Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap()
        .clone()
}

fn no_errors(report: &Value, text: &str) {
    for f in report["findings"].as_array().unwrap() {
        assert_ne!(f["status"], "error", "{f}");
    }
    for bad in ["please report", "Internal error", "panicked"] {
        assert!(!text.contains(bad), "{bad:?} in {text}");
    }
}

fn from(name: &str) -> (i32, Value, String) {
    let dir = kernels(name);
    diagnose(&[
        "diagnose",
        "--format",
        "json",
        "--from",
        dir.to_str().unwrap(),
    ])
}

#[test]
fn linux_2_6_32_layouts_are_read() {
    let (code, r, text) = from("linux-2.6.32");
    no_errors(&r, &text);
    assert_ne!(code, 3);
    // snmp without InCsumErrors/IgnoredMulti: the Tcp counters are there.
    let retrans = finding(&r, "tcp-retransmits");
    assert_eq!(retrans["status"], "pass", "{retrans}");
    assert!(
        retrans["summary"].as_str().unwrap().contains("40 of 20040"),
        "{retrans}"
    );
    // netstat without TCPReqQFullDrop: SYN drops come from ListenDrops - ListenOverflows.
    assert_eq!(finding(&r, "syn-flood")["status"], "pass");
    // softnet_stat rows without a CPU column are the online CPUs in order.
    assert_eq!(finding(&r, "softnet-drops")["status"], "pass");
    let mem = finding(&r, "memory-pressure");
    assert!(
        mem["notes"].to_string().contains("no MemAvailable"),
        "{mem}"
    );
    assert_eq!(finding(&r, "udp-errors")["status"], "pass");
}

#[test]
fn gvisor_layouts_are_read() {
    let (_, r, text) = from("gvisor");
    no_errors(&r, &text);
    let mem = finding(&r, "memory-pressure");
    assert_eq!(mem["status"], "pass", "{mem}");
    assert!(
        mem["summary"].as_str().unwrap().contains("MemAvailable"),
        "{mem}"
    );
    // netstat names without values: no counters, not an error.
    assert_ne!(finding(&r, "listen-overflow")["status"], "error");
}

#[test]
fn an_offline_cpu_is_named_by_its_label() {
    let (_, r, text) = from("offline-cpu");
    no_errors(&r, &text);
    let f = finding(&r, "softirq-imbalance");
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains("busiest CPU3") && summary.contains("CPU3 processed"),
        "{f}"
    );
    assert!(
        summary.contains("3 CPUs"),
        "online CPUs, not the possible ones: {f}"
    );
}

/// The public captures of other projects, read as `--root` trees (one sample).
#[test]
fn public_captures_of_other_projects() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(dir) = [
        manifest.join("../shared/fixtures/public-proc"),
        manifest.join("../../shared/fixtures/public-proc"),
    ]
    .into_iter()
    .find(|d| d.is_dir()) else {
        common::skip(
            "public_captures_of_other_projects",
            "no ../shared/fixtures/public-proc beside the repository",
        );
        return;
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let root = entry.unwrap().path();
        if !root.join("proc").is_dir() {
            continue;
        }
        seen += 1;
        let (code, r, text) = diagnose(&[
            "--root",
            root.to_str().unwrap(),
            "diagnose",
            "--interval",
            "0",
            "--format",
            "json",
        ]);
        no_errors(&r, &text);
        assert_ne!(code, 3, "{}", root.display());
    }
    assert!(seen > 0);
}
