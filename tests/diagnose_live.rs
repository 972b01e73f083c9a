//! Live CPU faults: a busy loop under a 10 % CFS quota in a throwaway cgroup (cpu-throttling),
//! and busy loops on every CPU (cpu-saturation). Each is bounded to a few seconds, and the
//! cgroup is removed whatever happens.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hostperf");

fn diagnose(args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["diagnose", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn busy_loop() -> Child {
    Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap()
}

/// Busy loops killed on drop.
struct Loops(Vec<Child>);

impl Drop for Loops {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A cgroup v1 cpu directory, removed on drop (after its processes are gone).
struct Cgroup {
    dir: PathBuf,
    loops: Loops,
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for c in &mut self.loops.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn a_ten_percent_quota_throttles_a_busy_loop() {
    let name = "a_ten_percent_quota_throttles_a_busy_loop";
    let root = Path::new("/sys/fs/cgroup/cpu");
    if !nix::unistd::geteuid().is_root() {
        common::skip(name, "needs root to create a cgroup");
        return;
    }
    if !root.join("cpu.cfs_quota_us").exists() {
        common::skip(
            name,
            "no cgroup v1 cpu controller with CFS bandwidth at /sys/fs/cgroup/cpu",
        );
        return;
    }
    let dir = root.join(format!("hostperf-test-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&dir) {
        common::skip(name, &format!("cannot create {}: {e}", dir.display()));
        return;
    }
    let mut cg = Cgroup {
        dir: dir.clone(),
        loops: Loops(Vec::new()),
    };
    std::fs::write(dir.join("cpu.cfs_period_us"), "100000").unwrap();
    std::fs::write(dir.join("cpu.cfs_quota_us"), "10000").unwrap();
    let child = busy_loop();
    let pid = child.id();
    cg.loops.0.push(child);
    std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let report = diagnose(&["--interval", "1", "--check", "cpu-throttling"]);
    let f = &report["findings"][0];
    assert_eq!(f["status"], "crit", "{f}");
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("hostperf-test-{}", std::process::id())),
        "{f}"
    );
    assert!(summary.contains(&format!("sh ({pid})")), "{f}");
    assert!(summary.contains("0.10 CPUs"), "{f}");
    drop(cg);
    assert!(!dir.exists(), "the cgroup is removed");
}

#[test]
fn busy_loops_on_every_cpu_saturate() {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Twice as many loops as CPUs: runnable tasks wait, whatever else runs here.
    let _loops = Loops((0..2 * cpus).map(|_| busy_loop()).collect());
    std::thread::sleep(Duration::from_millis(200));
    let report = diagnose(&["--interval", "1", "--check", "cpu-saturation"]);
    let f = &report["findings"][0];
    let s = f["status"].as_str().unwrap();
    assert!(s == "crit" || s == "warn", "{f}");
    let names: Vec<&str> = f["observed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["warn"].is_number() && o["value"].as_f64() >= o["warn"].as_f64())
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"cpu_busy_ratio") && names.contains(&"run_queue_per_cpu"),
        "{f}"
    );
}

/// A `--pid` or `--process` that names no process is a usage error, not silently ignored.
#[test]
fn a_named_process_that_does_not_exist_is_exit_2() {
    for args in [["--pid", "999999"], ["--process", "hostperf-nosuch"]] {
        let out = Command::new(BIN)
            .args(["diagnose", "--interval", "0", "--check", "fd-exhaustion"])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("no process"), "{err}");
    }
}
