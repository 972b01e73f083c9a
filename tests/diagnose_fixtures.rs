//! `hostperf diagnose --from DIR` over fixture captures: the base capture is real files from a
//! Linux 6.18 VM (made with `hostperf snapshot` and trimmed of processes); each test copies it
//! and edits the copy to make one check pass, warn or crit, or to break a file.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hostperf");

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose/base")
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        let meta = fs::symlink_metadata(entry.path()).unwrap();
        if meta.file_type().is_symlink() {
            symlink(fs::read_link(entry.path()).unwrap(), &dst).unwrap();
        } else if meta.is_dir() {
            copy_tree(&entry.path(), &dst);
        } else {
            fs::copy(entry.path(), &dst).unwrap();
        }
    }
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&base(), dir.path());
        Fixture { dir }
    }

    fn path(&self, sample: usize, abs: &str) -> PathBuf {
        self.dir
            .path()
            .join(format!("sample{sample}"))
            .join(abs.trim_start_matches('/'))
    }

    fn read(&self, sample: usize, abs: &str) -> String {
        fs::read_to_string(self.path(sample, abs)).unwrap()
    }

    fn write(&self, sample: usize, abs: &str, text: &str) {
        let p = self.path(sample, abs);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn write_both(&self, abs: &str, text: &str) {
        self.write(0, abs, text);
        self.write(1, abs, text);
    }

    /// Adds `add` to `Prefix: Field` in a netstat/snmp-style table of sample 1.
    fn bump_table(&self, abs: &str, prefix: &str, field: &str, add: i64) {
        let text = self.read(1, abs);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut done = false;
        for i in (0..lines.len()).step_by(2) {
            let names: Vec<&str> = lines[i].split_whitespace().collect();
            if names.first() != Some(&format!("{prefix}:").as_str()) {
                continue;
            }
            if let Some(col) = names.iter().position(|n| *n == field) {
                let mut values: Vec<String> = lines[i + 1]
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                let v: i64 = values[col].parse().unwrap();
                values[col] = (v + add).to_string();
                lines[i + 1] = values.join(" ");
                done = true;
            }
        }
        assert!(done, "{prefix}:{field} not in {abs}");
        self.write(1, abs, &(lines.join("\n") + "\n"));
    }

    /// Replaces the value of `key` in `key value` or `Key: value kB` lines of sample 1.
    fn set_line(&self, abs: &str, key: &str, value: &str) {
        let text = self.read(1, abs);
        let out: Vec<String> = text
            .lines()
            .map(|l| {
                let k = l.split([' ', ':']).next().unwrap_or("");
                if k == key {
                    if l.contains(':') {
                        format!("{key}: {value} kB")
                    } else {
                        format!("{key} {value}")
                    }
                } else {
                    l.to_string()
                }
            })
            .collect();
        self.write(1, abs, &(out.join("\n") + "\n"));
    }

    fn field(&self, sample: usize, abs: &str, key: &str) -> u64 {
        self.read(sample, abs)
            .lines()
            .find(|l| l.split([' ', ':']).next() == Some(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    }

    fn sockets(&self, sockets: &[Value]) {
        let dump = serde_json::json!({"states_mask": 0xffe, "sockets": sockets});
        self.write_both("/.hostperf/sockets.json", &dump.to_string());
    }

    /// A process with `fds` descriptors (the first `sockets` are sockets with inodes 9000+i)
    /// and a soft limit of `limit`, in both samples.
    fn process(&self, pid: u32, name: &str, fds: usize, sockets: usize, limit: u64) {
        for s in 0..2 {
            self.write(
                s,
                &format!("/proc/{pid}/status"),
                &format!("Name:\t{name}\nVmData:\t  1024 kB\nVmRSS:\t  2048 kB\n"),
            );
            self.write(
                s,
                &format!("/proc/{pid}/limits"),
                &format!("Limit                     Soft Limit           Hard Limit           Units     \nMax open files            {limit}                 {limit}               files     \n"),
            );
            let fd = self.path(s, &format!("/proc/{pid}/fd"));
            fs::create_dir_all(&fd).unwrap();
            for i in 0..fds {
                let target = if i < sockets {
                    format!("socket:[{}]", 9000 + i)
                } else {
                    "/dev/null".to_string()
                };
                symlink(target, fd.join(i.to_string())).unwrap();
            }
        }
    }

    fn run(&self, args: &[&str]) -> (i32, Value) {
        let out = Command::new(BIN)
            .arg("diagnose")
            .arg("--from")
            .arg(self.dir.path())
            .args(["--format", "json"])
            .args(args)
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: stdout {} stderr {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), json)
    }

    fn status(&self, id: &str, args: &[&str]) -> (String, Value) {
        let (_, json) = self.run(&[&["--check", id], args].concat());
        let f = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap_or_else(|| panic!("no finding {id}: {json}"))
            .clone();
        (f["status"].as_str().unwrap().to_string(), f)
    }
}

fn tcp(state: u8, local: &str, remote: &str, inode: u32) -> Value {
    serde_json::json!({"state": state, "local": local, "remote": remote,
        "recv_q": 0, "send_q": 0, "inode": inode, "uid": 0})
}

#[test]
fn the_base_capture_is_healthy() {
    let f = Fixture::new();
    let (code, json) = f.run(&[]);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["interval_secs"], 2.0);
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 12);
    for finding in findings {
        let s = finding["status"].as_str().unwrap();
        assert!(s == "pass" || s == "skip", "{finding}");
        for key in [
            "id",
            "summary",
            "fault_line",
            "confirm",
            "log",
            "remediation",
            "observed",
            "evidence",
        ] {
            assert!(finding.get(key).is_some(), "{key} missing in {finding}");
        }
    }
    assert_eq!(code, 0);
}

#[test]
fn port_exhaustion_warns_and_goes_critical() {
    for (n, want) in [(30, "pass"), (65, "warn"), (90, "crit")] {
        let f = Fixture::new();
        f.write_both("/proc/sys/net/ipv4/ip_local_port_range", "40000\t40099\n");
        let socks: Vec<Value> = (0..n)
            .map(|i| tcp(6, &format!("127.0.0.1:{}", 40000 + i), "127.0.0.1:8080", 0))
            .collect();
        f.sockets(&socks);
        let (s, finding) = f.status("port-exhaustion", &[]);
        assert_eq!(s, want, "{n} sockets: {finding}");
        if want != "pass" {
            assert!(
                finding["summary"]
                    .as_str()
                    .unwrap()
                    .contains("127.0.0.1:8080")
            );
            assert!(
                finding["remediation"]
                    .as_str()
                    .unwrap()
                    .contains("keep-alive")
            );
        }
    }
}

#[test]
fn listen_overflow_from_counter_rates_and_full_queues() {
    for (add, want) in [(4, "warn"), (20, "crit")] {
        let f = Fixture::new();
        f.bump_table("/proc/net/netstat", "TcpExt", "ListenOverflows", add);
        f.bump_table("/proc/net/netstat", "TcpExt", "ListenDrops", add);
        assert_eq!(f.status("listen-overflow", &[]).0, want);
    }
    // A listener whose accept queue is full, named by its port.
    let f = Fixture::new();
    let mut l = tcp(10, "0.0.0.0:8080", "0.0.0.0:0", 1);
    l["recv_q"] = 129.into();
    l["send_q"] = 128.into();
    f.sockets(&[l]);
    let (s, finding) = f.status("listen-overflow", &[]);
    assert_eq!(s, "crit");
    assert!(
        finding["summary"].as_str().unwrap().contains("port 8080"),
        "{finding}"
    );
}

#[test]
fn syn_flood_from_syn_queue_counters() {
    let f = Fixture::new();
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPReqQFullDrop", 20);
    assert_eq!(f.status("syn-flood", &[]).0, "crit");
    let f = Fixture::new();
    f.bump_table("/proc/net/netstat", "TcpExt", "SyncookiesSent", 4);
    assert_eq!(f.status("syn-flood", &[]).0, "warn");
}

#[test]
fn softirq_imbalance_needs_a_busy_cpu_and_skew() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    // Two CPUs cannot show max/mean >= 3; lower the skew threshold for this capture.
    fs::write(&cfg, "softirq-imbalance:\n  skew-warn: 1.5\n").unwrap();
    let cfg = cfg.to_str().unwrap();
    for (ticks, want) in [(80u64, "warn"), (600, "crit")] {
        let f = Fixture::new();
        let stat = f.read(1, "/proc/stat");
        let stat: Vec<String> = stat
            .lines()
            .map(|l| {
                if l.starts_with("cpu0 ") {
                    let mut v: Vec<String> = l.split_whitespace().map(str::to_string).collect();
                    v[7] = (v[7].parse::<u64>().unwrap() + ticks).to_string();
                    v.join(" ")
                } else {
                    l.to_string()
                }
            })
            .collect();
        f.write(1, "/proc/stat", &(stat.join("\n") + "\n"));
        let softirqs = f.read(1, "/proc/softirqs");
        let softirqs: Vec<String> = softirqs
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("NET_RX:") {
                    let v: Vec<&str> = l.split_whitespace().collect();
                    let cpu0: u64 = v[1].parse::<u64>().unwrap() + 100_000;
                    format!("      NET_RX: {cpu0} {}", v[2..].join(" "))
                } else {
                    l.to_string()
                }
            })
            .collect();
        f.write(1, "/proc/softirqs", &(softirqs.join("\n") + "\n"));
        let (s, finding) = f.status("softirq-imbalance", &["--config", cfg]);
        assert_eq!(s, want, "{finding}");
    }
}

#[test]
fn softnet_drops_per_cpu() {
    for (add, want) in [(1u64, "warn"), (0x100, "crit")] {
        let f = Fixture::new();
        let text = f.read(1, "/proc/net/softnet_stat");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut v: Vec<String> = lines[0].split_whitespace().map(str::to_string).collect();
        v[1] = format!("{:08x}", u64::from_str_radix(&v[1], 16).unwrap() + add);
        lines[0] = v.join(" ");
        f.write(1, "/proc/net/softnet_stat", &(lines.join("\n") + "\n"));
        assert_eq!(f.status("softnet-drops", &[]).0, want);
    }
}

#[test]
fn memory_pressure_from_mem_available() {
    let f0 = Fixture::new();
    let total = f0.field(1, "/proc/meminfo", "MemTotal");
    for (pct, want) in [(8, "warn"), (3, "crit")] {
        let f = Fixture::new();
        f.set_line(
            "/proc/meminfo",
            "MemAvailable",
            &(total * pct / 100).to_string(),
        );
        let (s, finding) = f.status("memory-pressure", &[]);
        assert_eq!(s, want, "{finding}");
    }
}

#[test]
fn memory_fragmentation_when_free_memory_is_in_small_blocks() {
    let f = Fixture::new();
    f.write_both(
        "/proc/buddyinfo",
        "Node 0, zone   Normal  900000 400000 1000 0 0 0 0 0 0 0 0 \n",
    );
    let (s, finding) = f.status("memory-fragmentation", &[]);
    assert_eq!(s, "crit", "{finding}");
}

#[test]
fn heap_growth_of_a_focused_process_is_reported_apart() {
    let f = Fixture::new();
    f.process(4242, "api", 3, 0, 1024);
    f.write(
        1,
        "/proc/4242/status",
        "Name:\tapi\nVmData:\t  9216 kB\nVmRSS:\t  8192 kB\n",
    );
    let (s, finding) = f.status("memory-fragmentation", &["--process", "api"]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("api (4242) VmData")
    );
}

#[test]
fn oom_kill_in_the_interval_is_critical() {
    let f = Fixture::new();
    let n = f.field(1, "/proc/vmstat", "oom_kill");
    f.set_line("/proc/vmstat", "oom_kill", &(n + 1).to_string());
    f.write(
        1,
        "/.hostperf/kmsg",
        "3,1234,5678901,-;Out of memory: Killed process 5678 (nginx) total-vm:1000kB\n",
    );
    let (s, finding) = f.status("oom-kills", &[]);
    assert_eq!(s, "crit");
    assert!(
        finding["notes"]
            .to_string()
            .contains("Killed process 5678 (nginx)")
    );
}

#[test]
fn fd_exhaustion_system_wide_and_per_process() {
    let f = Fixture::new();
    f.write_both("/proc/sys/fs/file-nr", "950\t0\t1000\n");
    assert_eq!(f.status("fd-exhaustion", &[]).0, "crit");
    let f = Fixture::new();
    f.process(4242, "api", 75, 0, 100);
    let (s, finding) = f.status("fd-exhaustion", &["--pid", "4242"]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("api (4242) 75 of 100")
    );
}

#[test]
fn socket_leak_maps_close_wait_to_the_process() {
    let f = Fixture::new();
    f.process(4242, "api", 25, 20, 1024);
    let socks: Vec<Value> = (0..15)
        .map(|i| {
            tcp(
                8,
                &format!("10.0.0.1:{}", 50000 + i),
                "10.0.0.2:5432",
                9000 + i,
            )
        })
        .collect();
    f.sockets(&socks);
    let (s, finding) = f.status("socket-leak", &[]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("api (4242): 15 CLOSE_WAIT")
    );
}

#[test]
fn retransmit_ratio() {
    let f = Fixture::new();
    f.bump_table("/proc/net/snmp", "Tcp", "OutSegs", 10_000);
    f.bump_table("/proc/net/snmp", "Tcp", "RetransSegs", 1_500);
    assert_eq!(f.status("tcp-retransmits", &[]).0, "crit");
    let f = Fixture::new();
    f.bump_table("/proc/net/snmp", "Tcp", "OutSegs", 10_000);
    f.bump_table("/proc/net/snmp", "Tcp", "RetransSegs", 300);
    assert_eq!(f.status("tcp-retransmits", &[]).0, "warn");
}

#[test]
fn io_wait_from_psi() {
    let f = Fixture::new();
    let psi = f.read(1, "/proc/pressure/io");
    let bump = |line: &str, add: u64| -> String {
        let (head, total) = line.rsplit_once("total=").unwrap();
        format!("{head}total={}", total.trim().parse::<u64>().unwrap() + add)
    };
    let lines: Vec<String> = psi.lines().map(|l| bump(l, 1_500_000)).collect();
    f.write(1, "/proc/pressure/io", &(lines.join("\n") + "\n"));
    let (s, finding) = f.status("io-wait", &[]);
    assert_eq!(s, "crit", "{finding}");
}

#[test]
fn malformed_file_is_an_error_with_exit_3() {
    let f = Fixture::new();
    f.write(
        1,
        "/proc/net/netstat",
        "TcpExt: ListenOverflows\nTcpExt: banana\n",
    );
    let (code, json) = f.run(&["--check", "listen-overflow"]);
    assert_eq!(json["findings"][0]["status"], "error");
    assert!(
        json["findings"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("/proc/net/netstat")
    );
    assert_eq!(code, 3);
    // An empty sockstat is an error too, never a panic.
    let f = Fixture::new();
    f.write(1, "/proc/net/sockstat", "");
    assert_eq!(f.status("port-exhaustion", &[]).0, "error");
}

#[test]
fn missing_files_skip_or_degrade() {
    let f = Fixture::new();
    for s in 0..2 {
        fs::remove_dir_all(f.path(s, "/proc/pressure")).unwrap();
        fs::remove_file(f.path(s, "/proc/buddyinfo")).unwrap();
        fs::remove_file(f.path(s, "/proc/net/softnet_stat")).unwrap();
    }
    let (code, json) = f.run(&[]);
    let st = |id: &str| {
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(st("memory-fragmentation")["status"], "skip");
    assert_eq!(st("softnet-drops")["status"], "skip");
    assert_eq!(st("memory-pressure")["status"], "pass");
    assert!(st("memory-pressure")["notes"].to_string().contains("PSI"));
    assert_eq!(st("io-wait")["status"], "pass");
    assert_eq!(code, 0);
}

#[test]
fn one_sample_skips_rate_checks() {
    let f = Fixture::new();
    let manifest = f.dir.path().join("manifest.json");
    let mut m: Value = serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    m["samples"] = serde_json::json!(["sample0"]);
    fs::write(&manifest, m.to_string()).unwrap();
    let (code, json) = f.run(&[]);
    assert_eq!(json["interval_secs"], 0.0);
    for finding in json["findings"].as_array().unwrap() {
        let id = finding["id"].as_str().unwrap();
        let s = finding["status"].as_str().unwrap();
        if [
            "syn-flood",
            "softirq-imbalance",
            "softnet-drops",
            "tcp-retransmits",
            "oom-kills",
        ]
        .contains(&id)
        {
            assert_eq!(s, "skip", "{finding}");
        } else {
            assert_eq!(s, "pass", "{finding}");
        }
    }
    assert_eq!(code, 0);
}

#[test]
fn fail_on_warn() {
    let f = Fixture::new();
    f.bump_table("/proc/net/netstat", "TcpExt", "SyncookiesSent", 4);
    assert_eq!(f.run(&["--check", "syn-flood"]).0, 0);
    assert_eq!(f.run(&["--check", "syn-flood", "--fail-on", "warn"]).0, 1);
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPReqQFullDrop", 20);
    assert_eq!(f.run(&["--check", "syn-flood"]).0, 1);
}

#[test]
fn usage_errors_exit_2() {
    let f = Fixture::new();
    let out = Command::new(BIN)
        .args(["diagnose", "--check", "nope", "--from"])
        .arg(f.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("port-exhaustion") && err.contains("io-wait"),
        "{err}"
    );

    let cfg = f.dir.path().join("bad.yaml");
    fs::write(&cfg, "port-exhaustion:\n  warn-pct: 50\n  crit-pc: 70\n").unwrap();
    let out = Command::new(BIN)
        .args(["diagnose", "--config"])
        .arg(&cfg)
        .arg("--from")
        .arg(f.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("crit-pc"), "{err}");

    let out = Command::new(BIN)
        .args(["diagnose", "--from", "/nonexistent.tar.gz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_overrides_thresholds() {
    let f = Fixture::new();
    f.write_both("/proc/sys/net/ipv4/ip_local_port_range", "40000\t40099\n");
    let socks: Vec<Value> = (0..30)
        .map(|i| tcp(6, &format!("127.0.0.1:{}", 40000 + i), "127.0.0.1:8080", 0))
        .collect();
    f.sockets(&socks);
    let cfg = f.dir.path().join("c.yaml");
    fs::write(&cfg, "port-exhaustion:\n  warn-pct: 20\n  crit-pct: 25\n").unwrap();
    let (s, _) = f.status("port-exhaustion", &["--config", cfg.to_str().unwrap()]);
    assert_eq!(s, "crit");
}

#[test]
fn prometheus_file_is_written_atomically_and_well_formed() {
    let f = Fixture::new();
    let out_dir = tempfile::tempdir().unwrap();
    let prom = out_dir.path().join("hostperf.prom");
    let yaml = out_dir.path().join("report.yaml");
    let out = Command::new(BIN)
        .args(["diagnose", "--from"])
        .arg(f.dir.path())
        .arg("--output")
        .arg(format!("prometheus={}", prom.display()))
        .arg("--output")
        .arg(format!("yaml={}", yaml.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("port-exhaustion") && stdout.contains("PASS"));
    assert!(!stdout.contains('\x1b'), "no colour into a pipe");
    let text = fs::read_to_string(&prom).unwrap();
    let names: Vec<&str> = fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<Vec<_>>()
        .leak()
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(names.len(), 2, "no temp files left: {names:?}");
    assert!(text.contains("hostperf_diagnose_status{check=\"port-exhaustion\",status=\"pass\"} 1"));
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.starts_with("hostperf_"), "{line}");
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok() || value == "NaN", "{line}");
    }
    for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
        if line.ends_with(" counter") {
            assert!(line.contains("_total "), "{line}");
        }
    }
    let y = fs::read_to_string(&yaml).unwrap();
    assert!(y.contains("schema_version: 1"));
}
