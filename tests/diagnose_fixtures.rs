//! `hostperf diagnose --from DIR` over fixture captures. The base capture is a real snapshot
//! of this project's Linux 6.18 VM (see tests/fixtures/diagnose/README.md for how it was made
//! and what was edited); each test copies it and edits the copy to stage one cause.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_hostperf");

fn base() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose/base")
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dst = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
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

    fn remove_both(&self, abs: &str) {
        for s in 0..2 {
            let p = self.path(s, abs);
            if p.is_dir() {
                fs::remove_dir_all(p).unwrap();
            } else {
                fs::remove_file(p).unwrap();
            }
        }
    }

    fn json(&self, sample: usize, abs: &str) -> Value {
        serde_json::from_str(&self.read(sample, abs)).unwrap()
    }

    fn set_json(&self, sample: usize, abs: &str, v: &Value) {
        self.write(sample, abs, &v.to_string());
    }

    /// Adds `add` to `Prefix: Field` in a netstat/snmp-style table of sample 1.
    fn bump_table(&self, abs: &str, prefix: &str, field: &str, add: i64) {
        let text = self.read(1, abs);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut done = false;
        for i in 0..lines.len().saturating_sub(1) {
            let names: Vec<&str> = lines[i].split_whitespace().collect();
            if names.first() != Some(&format!("{prefix}:").as_str()) {
                continue;
            }
            if let Some(col) = names.iter().position(|n| *n == field) {
                let mut values: Vec<String> = lines[i + 1]
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                if values.len() != names.len() {
                    continue;
                }
                let v: i64 = values[col].parse().unwrap();
                values[col] = (v + add).to_string();
                lines[i + 1] = values.join(" ");
                done = true;
                break;
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

    fn sockets_in(&self, sample: usize, sockets: &[Value]) {
        let dump = json!({"states_mask": 0xffe, "sockets": sockets});
        self.set_json(sample, "/.hostperf/sockets.json", &dump);
    }

    fn sockets(&self, sockets: &[Value]) {
        self.sockets_in(0, sockets);
        self.sockets_in(1, sockets);
    }

    /// Adds a process to both samples' process list.
    fn process(&self, sample: usize, p: Value) {
        let mut procs = self.json(sample, "/.hostperf/procs.json");
        procs["list"].as_array_mut().unwrap().push(p);
        let mut list = procs["list"].as_array().unwrap().clone();
        list.sort_by_key(|p| p["pid"].as_u64());
        procs["list"] = Value::Array(list);
        self.set_json(sample, "/.hostperf/procs.json", &procs);
    }

    fn process_both(&self, p: Value) {
        self.process(0, p.clone());
        self.process(1, p);
    }

    /// Kernel log messages inside the capture's interval.
    fn kernel_log(&self, lines: &[&str]) {
        let t0 = self.json(0, "/.hostperf/sample.json")["clock_usec"]
            .as_u64()
            .unwrap();
        let t1 = self.json(1, "/.hostperf/sample.json")["clock_usec"]
            .as_u64()
            .unwrap();
        let lines: Vec<Value> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| json!({"usec": t0 + 1000 + i as u64, "text": l}))
            .collect();
        let log = json!({"source": "/dev/kmsg", "from_usec": t0.saturating_sub(3_600_000_000), "to_usec": t1, "lines": lines});
        self.set_json(1, "/.hostperf/kernel-log.json", &log);
    }

    /// Sets a recorded directory listing in both samples.
    fn listing(&self, dir: &str, names: &[&str]) {
        for s in 0..2 {
            let mut d = self.json(s, "/.hostperf/dirs.json");
            d[dir] = json!(names);
            self.set_json(s, "/.hostperf/dirs.json", &d);
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
        let f = finding(&json, id);
        (f["status"].as_str().unwrap().to_string(), f)
    }
}

fn finding(report: &Value, id: &str) -> Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no finding {id}: {report}"))
        .clone()
}

fn tcp(state: u8, local: &str, remote: &str, inode: u32) -> Value {
    json!({"state": state, "local": local, "remote": remote,
        "recv_q": 0, "send_q": 0, "inode": inode, "uid": 0, "timer": 0, "expires_ms": 0})
}

fn text(f: &Value, key: &str) -> String {
    f[key].to_string()
}

#[test]
fn the_base_capture_is_healthy() {
    let f = Fixture::new();
    let (code, json) = f.run(&[]);
    assert_eq!(json["schema_version"], 2);
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 19);
    for finding in findings {
        assert_eq!(finding["status"], "pass", "{finding}");
        for key in [
            "id",
            "title",
            "summary",
            "symptom",
            "question",
            "confirm",
            "log",
            "remediation",
            "observed",
            "evidence",
        ] {
            assert!(finding.get(key).is_some(), "{key} missing in {finding}");
        }
    }
    let all = json.to_string();
    for word in ["fault line", "Fault line", "matrix", "Admin desk", "seed"] {
        assert!(!all.contains(word), "{word:?} in the report");
    }
    assert_eq!(code, 0);
}

#[test]
fn port_exhaustion_without_tw_reuse() {
    for (n, want) in [(30, "pass"), (65, "warn"), (90, "crit")] {
        let f = Fixture::new();
        f.write_both("/proc/sys/net/ipv4/ip_local_port_range", "40000\t40099\n");
        f.write_both("/proc/sys/net/ipv4/tcp_tw_reuse", "0\n");
        let socks: Vec<Value> = (0..n)
            .map(|i| tcp(6, &format!("127.0.0.1:{}", 40000 + i), "127.0.0.1:8080", 0))
            .collect();
        f.sockets(&socks);
        let (s, finding) = f.status("port-exhaustion", &[]);
        assert_eq!(s, want, "{n} sockets: {finding}");
        if want != "pass" {
            assert!(
                text(&finding, "summary").contains("127.0.0.1:8080"),
                "{finding}"
            );
            assert!(text(&finding, "remediation").contains("keep-alive"));
        }
    }
}

/// 85 ESTABLISHED connections to one destination in a 100-port range: the confirm command
/// counts sockets per destination in every state (not TIME_WAIT only, which shows none here),
/// and the TIME-WAIT count says where it comes from.
#[test]
fn port_exhaustion_confirm_counts_what_was_measured() {
    let f = Fixture::new();
    f.write_both("/proc/sys/net/ipv4/ip_local_port_range", "40000\t40099\n");
    let socks: Vec<Value> = (0..85)
        .map(|i| tcp(1, &format!("127.0.0.1:{}", 40000 + i), "127.0.0.1:8080", 0))
        .collect();
    f.sockets(&socks);
    let (s, finding) = f.status("port-exhaustion", &[]);
    assert_eq!(s, "crit", "{finding}");
    let summary = text(&finding, "summary");
    assert!(
        summary.contains("127.0.0.1:8080 holds 85 of 100"),
        "{finding}"
    );
    assert!(summary.contains("0 sockets in TIME-WAIT"), "{finding}");
    let confirm = text(&finding, "confirm");
    assert!(
        confirm.starts_with("\"ss -tan | awk 'NR>1 {print $5}' | sort | uniq -c"),
        "{confirm}"
    );
    // Without a socket dump the count is sockstat's tw, labelled as what it counts.
    let f = Fixture::new();
    f.remove_both("/.hostperf/sockets.json");
    let (_, finding) = f.status("port-exhaustion", &[]);
    assert!(
        text(&finding, "summary")
            .contains("sockets in TIME-WAIT or FIN-WAIT-2 timewait (sockstat tw)"),
        "{finding}"
    );
}

/// tcp_tw_reuse=1: TIME_WAIT sockets older than the reuse delay do not hold a port for
/// connect(); code that binds first still finds the range 90 % used (a warning).
#[test]
fn port_exhaustion_counts_capacity_with_tw_reuse() {
    let staged = |reuse: &str, expires: u64| {
        let f = Fixture::new();
        f.write_both("/proc/sys/net/ipv4/ip_local_port_range", "40000\t40999\n");
        f.write_both("/proc/sys/net/ipv4/tcp_tw_reuse", reuse);
        let socks: Vec<Value> = (0..900)
            .map(|i| {
                let mut s = tcp(6, &format!("10.0.0.1:{}", 40000 + i), "10.0.0.2:5432", 0);
                s["timer"] = 3.into();
                s["expires_ms"] = expires.into();
                s
            })
            .collect();
        f.sockets(&socks);
        f.status("port-exhaustion", &[])
    };
    let (s, finding) = staged("1\n", 50_000);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "summary").contains("no destination holds ports"),
        "{finding}"
    );
    assert!(
        text(&finding, "notes").contains("tcp_tw_reuse=1"),
        "{finding}"
    );
    // Younger than tcp_tw_reuse_delay: they still hold their ports.
    assert_eq!(staged("1\n", 59_900).0, "crit");
    // Reuse 2 is for loopback only: a remote destination is exhausted.
    assert_eq!(staged("2\n", 50_000).0, "crit");
    assert_eq!(staged("0\n", 50_000).0, "crit");
}

#[test]
fn listen_overflow_judges_overflows_and_syn_drops_go_to_syn_flood() {
    for (add, want) in [(4, "warn"), (20, "crit")] {
        let f = Fixture::new();
        f.bump_table("/proc/net/netstat", "TcpExt", "ListenOverflows", add);
        f.bump_table("/proc/net/netstat", "TcpExt", "ListenDrops", add);
        assert_eq!(f.status("listen-overflow", &[]).0, want);
        assert_eq!(
            f.status("syn-flood", &[]).0,
            "pass",
            "every drop was an overflow"
        );
    }
    // ListenDrops without ListenOverflows: dropped before the accept queue, not an overflow.
    let f = Fixture::new();
    f.bump_table("/proc/net/netstat", "TcpExt", "ListenDrops", 40);
    assert_eq!(f.status("listen-overflow", &[]).0, "pass");
    let (s, finding) = f.status("syn-flood", &[]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "summary").contains("another reason"),
        "{finding}"
    );
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPReqQFullDrop", 40);
    let (s, finding) = f.status("syn-flood", &[]);
    assert_eq!(s, "crit", "{finding}");
    assert!(
        text(&finding, "summary").contains("full SYN queue"),
        "{finding}"
    );
    // A listener whose accept queue is full, named by its port.
    let f = Fixture::new();
    let mut l = tcp(10, "0.0.0.0:8080", "0.0.0.0:0", 1);
    l["recv_q"] = 129.into();
    l["send_q"] = 128.into();
    f.sockets(&[l]);
    let (s, finding) = f.status("listen-overflow", &[]);
    assert_eq!(s, "crit");
    assert!(text(&finding, "summary").contains("port 8080"), "{finding}");
}

/// A listener with backlog 0 (`listen(fd, 0)`) holding one connection it never accepts: the
/// kernel drops the next one, so its queue is full; an idle one with backlog 0 is counted and
/// not full.
#[test]
fn listen_overflow_counts_a_listener_with_backlog_zero() {
    let f = Fixture::new();
    let mut full = tcp(10, "0.0.0.0:8080", "0.0.0.0:0", 1);
    full["recv_q"] = 1.into();
    let idle = tcp(10, "0.0.0.0:8081", "0.0.0.0:0", 2);
    f.sockets(&[full, idle]);
    f.bump_table("/proc/net/netstat", "TcpExt", "ListenOverflows", 25);
    let (s, finding) = f.status("listen-overflow", &[]);
    assert_eq!(s, "crit", "{finding}");
    let summary = text(&finding, "summary");
    assert!(
        summary.contains("full accept queue: port 8080: 1 queued, backlog 0"),
        "{finding}"
    );
    assert!(!summary.contains("8081"), "{finding}");
    assert!(
        finding["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "listeners" && e["value"] == 2.0),
        "{finding}"
    );
}

#[test]
fn syn_flood_from_counters_and_the_kernel_log() {
    let f = Fixture::new();
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPReqQFullDrop", 20);
    assert_eq!(f.status("syn-flood", &[]).0, "crit");
    let f = Fixture::new();
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPReqQFullDoCookies", 4);
    assert_eq!(f.status("syn-flood", &[]).0, "warn");
    // Kernel messages about this host's listeners count; the kernel log is shared by every
    // network namespace, so a message about a port nobody here listens on does not.
    let f = Fixture::new();
    f.sockets(&[tcp(10, "0.0.0.0:8080", "0.0.0.0:0", 1)]);
    f.kernel_log(&[
        "TCP: request_sock_TCP: Possible SYN flooding on port 10.1.2.3:9999. Sending cookies.",
    ]);
    assert_eq!(f.status("syn-flood", &[]).0, "pass");
    f.kernel_log(&["TCP: request_sock_TCP: Possible SYN flooding on port 8080. Sending cookies.  Check SNMP counters."]);
    let (s, finding) = f.status("syn-flood", &[]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "kernel_log").contains("port 8080"),
        "{finding}"
    );
    assert!(text(&finding, "remediation").contains("listen() backlog"));
}

/// On 2 CPUs with a 2-queue NIC, all packets on one CPU that is busy in softirq is an
/// imbalance (max/mean of softirq events could never show it on 2 CPUs).
#[test]
fn softirq_imbalance_from_packets_against_queues() {
    let staged = |queues: &[&str], ticks: u64| {
        let f = Fixture::new();
        f.listing("/sys/class/net/eth0/queues", queues);
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
        let softnet = f.read(1, "/proc/net/softnet_stat");
        let mut lines: Vec<String> = softnet.lines().map(str::to_string).collect();
        let mut v: Vec<String> = lines[0].split_whitespace().map(str::to_string).collect();
        v[0] = format!("{:08x}", u64::from_str_radix(&v[0], 16).unwrap() + 200_000);
        lines[0] = v.join(" ");
        f.write(1, "/proc/net/softnet_stat", &(lines.join("\n") + "\n"));
        f.status("softirq-imbalance", &[])
    };
    let (s, finding) = staged(&["rx-0", "rx-1", "tx-0", "tx-1"], 100);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "summary").contains("busiest CPU0"),
        "{finding}"
    );
    assert_eq!(staged(&["rx-0", "rx-1", "tx-0", "tx-1"], 300).0, "crit");
    // One queue: the spread cannot be wider; the advice is RPS or more queues, a warning.
    let (s, finding) = staged(&["rx-0", "tx-0"], 300);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "notes").contains("receive queue"),
        "{finding}"
    );
}

#[test]
fn softnet_drops_per_second() {
    for (add, want) in [(10u64, "pass"), (40, "warn"), (0x400, "crit")] {
        let f = Fixture::new();
        let text = f.read(1, "/proc/net/softnet_stat");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut v: Vec<String> = lines[0].split_whitespace().map(str::to_string).collect();
        v[1] = format!("{:08x}", u64::from_str_radix(&v[1], 16).unwrap() + add);
        lines[0] = v.join(" ");
        f.write(1, "/proc/net/softnet_stat", &(lines.join("\n") + "\n"));
        assert_eq!(f.status("softnet-drops", &[]).0, want, "{add} drops in 2 s");
    }
}

#[test]
fn memory_pressure_from_available_psi_swap_in_and_reclaim() {
    let f0 = Fixture::new();
    let total = f0.field(1, "/proc/meminfo", "MemTotal");
    for (pct, want) in [(8, "warn"), (3, "crit")] {
        let f = Fixture::new();
        f.set_line(
            "/proc/meminfo",
            "MemAvailable",
            &(total * pct / 100).to_string(),
        );
        assert_eq!(f.status("memory-pressure", &[]).0, want);
    }
    let f = Fixture::new();
    let n = f.field(1, "/proc/vmstat", "pswpin");
    f.set_line("/proc/vmstat", "pswpin", &(n + 4000).to_string());
    assert_eq!(f.status("memory-pressure", &[]).0, "crit");
    let f = Fixture::new();
    let n = f.field(1, "/proc/vmstat", "allocstall_normal");
    f.set_line("/proc/vmstat", "allocstall_normal", &(n + 50).to_string());
    assert_eq!(f.status("memory-pressure", &[]).0, "warn");
    // Nothing measurable: no MemAvailable, no PSI, one sample -> skip, never pass.
    let f = Fixture::new();
    f.remove_both("/proc/pressure");
    for s in 0..2 {
        let m = f.read(s, "/proc/meminfo");
        let m: String = m
            .lines()
            .filter(|l| !l.starts_with("MemAvailable"))
            .map(|l| format!("{l}\n"))
            .collect();
        f.write(s, "/proc/meminfo", &m);
    }
    assert_eq!(f.status("memory-pressure", &[]).0, "pass");
    let manifest = f.dir.path().join("manifest.json");
    let mut m: Value = serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    m["samples"] = json!(["sample0"]);
    fs::write(&manifest, m.to_string()).unwrap();
    assert_eq!(f.status("memory-pressure", &[]).0, "skip");
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
    f.kernel_log(&["nginx: page allocation failure: order:4, mode:0x40dc0"]);
    let (_, finding) = f.status("memory-fragmentation", &[]);
    assert!(
        text(&finding, "kernel_log").contains("order:4"),
        "{finding}"
    );
}

#[test]
fn heap_growth_of_a_focused_process_is_reported_apart() {
    let f = Fixture::new();
    f.process(
        0,
        json!({"pid": 4242, "comm": "api", "uid": 0, "vm_data_kb": 1024, "vm_rss_kb": 2048}),
    );
    f.process(
        1,
        json!({"pid": 4242, "comm": "api", "uid": 0, "vm_data_kb": 9216, "vm_rss_kb": 8192}),
    );
    let (s, finding) = f.status("memory-fragmentation", &["--process", "api"]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "summary").contains("api (4242) VmData"),
        "{finding}"
    );
}

#[test]
fn oom_kill_in_the_window_is_critical() {
    let f = Fixture::new();
    let n = f.field(1, "/proc/vmstat", "oom_kill");
    f.set_line("/proc/vmstat", "oom_kill", &(n + 1).to_string());
    f.kernel_log(&["Out of memory: Killed process 5678 (nginx) total-vm:1000kB, anon-rss:10kB"]);
    let (s, finding) = f.status("oom-kills", &[]);
    assert_eq!(s, "crit");
    assert!(
        text(&finding, "summary").contains("nginx (5678)"),
        "{finding}"
    );
    // The kernel log alone (an older kernel without vmstat oom_kill) is enough.
    let f = Fixture::new();
    for s in 0..2 {
        let v = f.read(s, "/proc/vmstat");
        let v: String = v
            .lines()
            .filter(|l| !l.starts_with("oom_kill"))
            .map(|l| format!("{l}\n"))
            .collect();
        f.write(s, "/proc/vmstat", &v);
    }
    f.kernel_log(&["Out of memory: Kill process 42 (java) score 900 or sacrifice child"]);
    assert_eq!(f.status("oom-kills", &[]).0, "crit");
}

#[test]
fn fd_exhaustion_system_wide_per_process_and_partial() {
    let f = Fixture::new();
    f.write_both("/proc/sys/fs/file-nr", "950\t0\t1000\n");
    assert_eq!(f.status("fd-exhaustion", &[]).0, "crit");
    let f = Fixture::new();
    f.process_both(json!({"pid": 4242, "comm": "api", "uid": 1000, "fds": {"Ok": 75}, "nofile_soft": {"Ok": 100}}));
    let (s, finding) = f.status("fd-exhaustion", &["--pid", "4242"]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "summary").contains("api (4242) 75 of 100"),
        "{finding}"
    );
    assert!(finding.get("partial").is_none());
    // Processes whose fd table could not be read make the finding partial, with the count.
    f.process_both(json!({"pid": 4243, "comm": "db", "uid": 1001, "fds": {"Err": "Permission denied"}, "nofile_soft": {"Ok": 1024}}));
    let (s, finding) = f.status("fd-exhaustion", &[]);
    assert_eq!(s, "warn");
    assert!(
        text(&finding, "partial").contains("1 of 3 processes"),
        "{finding}"
    );
    let out = Command::new(BIN)
        .args(["diagnose", "--check", "fd-exhaustion", "--from"])
        .arg(f.dir.path())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("WARN (partial)"), "{table}");
}

fn close_wait(port: u32, uid: u32) -> Value {
    let mut s = tcp(
        8,
        &format!("10.0.0.1:{}", 50000 + port),
        "10.0.0.2:5432",
        9000 + port,
    );
    s["uid"] = uid.into();
    s
}

#[test]
fn socket_leak_needs_the_same_close_wait_sockets_and_growth() {
    // 15 CLOSE_WAIT sockets in both samples and 5 more in the second: a leak.
    let f = Fixture::new();
    f.sockets_in(0, &(0..15).map(|i| close_wait(i, 1000)).collect::<Vec<_>>());
    f.sockets_in(1, &(0..20).map(|i| close_wait(i, 1000)).collect::<Vec<_>>());
    f.process(0, json!({"pid": 4242, "comm": "api", "uid": 1000}));
    let held: Vec<u32> = (9000..9015).collect();
    f.process(
        1,
        json!({"pid": 4242, "comm": "api", "uid": 1000, "close_wait": {"Ok": held}}),
    );
    let (s, finding) = f.status("socket-leak", &[]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "summary")
            .contains("api (4242): 15 that stayed open for the whole interval"),
        "{finding}"
    );
    // A pool: the same 15 sockets, no growth. Reported, not judged a leak.
    let f = Fixture::new();
    f.sockets(&(0..15).map(|i| close_wait(i, 1000)).collect::<Vec<_>>());
    assert_eq!(f.status("socket-leak", &[]).0, "pass");
    // Different sockets each time (connections closing normally): not a leak either.
    let f = Fixture::new();
    f.sockets_in(0, &(0..15).map(|i| close_wait(i, 1000)).collect::<Vec<_>>());
    f.sockets_in(
        1,
        &(100..120).map(|i| close_wait(i, 1000)).collect::<Vec<_>>(),
    );
    assert_eq!(f.status("socket-leak", &[]).0, "pass");
    // Held by another user's process this user cannot read: judged by uid, and partial.
    let f = Fixture::new();
    f.sockets_in(
        0,
        &(0..150).map(|i| close_wait(i, 1001)).collect::<Vec<_>>(),
    );
    f.sockets_in(
        1,
        &(0..160).map(|i| close_wait(i, 1001)).collect::<Vec<_>>(),
    );
    f.process(1, json!({"pid": 777, "comm": "worker", "uid": 1001, "close_wait": {"Err": "Permission denied"}}));
    let (s, finding) = f.status("socket-leak", &[]);
    assert_eq!(s, "crit", "{finding}");
    assert!(
        text(&finding, "partial").contains("cannot read"),
        "{finding}"
    );
    assert!(
        text(&finding, "summary").contains("uid 1001: 150"),
        "{finding}"
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

/// The summary leads with what crossed its threshold and never shows a share over 100 % or
/// "of 0": only retransmitted SYNs (OutSegs does not count them), then heavy loss where
/// RetransSegs exceeds OutSegs.
#[test]
fn retransmit_summary_leads_with_what_was_judged() {
    let f = Fixture::new();
    f.bump_table("/proc/net/snmp", "Tcp", "RetransSegs", 38);
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPSynRetrans", 38);
    let (s, finding) = f.status("tcp-retransmits", &[]);
    assert_eq!(s, "warn", "{finding}");
    let summary = finding["summary"].as_str().unwrap();
    let lead = summary.split("; ").next().unwrap();
    assert!(
        lead.ends_with("SYN retransmits/s (connection attempts not answered)"),
        "{summary}"
    );
    assert!(
        summary.contains("(38 of 38 in 2.0 s, too few to judge)"),
        "{summary}"
    );
    assert!(!summary.contains(" of 0 "), "{summary}");

    let f = Fixture::new();
    f.bump_table("/proc/net/snmp", "Tcp", "OutSegs", 520);
    f.bump_table("/proc/net/snmp", "Tcp", "RetransSegs", 522);
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPTimeouts", 100);
    let (s, finding) = f.status("tcp-retransmits", &[]);
    assert_eq!(s, "crit", "{finding}");
    let summary = finding["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("50.1% of segments sent were retransmissions (522 of 1042"),
        "{summary}"
    );
    assert!(summary.contains("retransmission timeouts/s"), "{summary}");
}

#[test]
fn tcp_memory_and_udp_errors() {
    let f = Fixture::new();
    let mem = f.read(1, "/proc/sys/net/ipv4/tcp_mem");
    let max: u64 = mem.split_whitespace().nth(2).unwrap().parse().unwrap();
    let sockstat = f.read(1, "/proc/net/sockstat");
    let sockstat: String = sockstat
        .lines()
        .map(|l| {
            if l.starts_with("TCP:") {
                let mut v: Vec<String> = l.split_whitespace().map(str::to_string).collect();
                let at = v.iter().position(|x| x == "mem").unwrap();
                v[at + 1] = (max * 95 / 100).to_string();
                v.join(" ") + "\n"
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    f.write(1, "/proc/net/sockstat", &sockstat);
    assert_eq!(f.status("tcp-memory", &[]).0, "crit");
    let f = Fixture::new();
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPMemoryPressures", 1);
    assert_eq!(f.status("tcp-memory", &[]).0, "warn");
    let f = Fixture::new();
    f.kernel_log(&["TCP: out of memory -- consider tuning tcp_mem"]);
    assert_eq!(f.status("tcp-memory", &[]).0, "crit");
    let f = Fixture::new();
    f.bump_table("/proc/net/snmp", "Udp", "RcvbufErrors", 60);
    let (s, finding) = f.status("udp-errors", &[]);
    assert_eq!(s, "warn", "{finding}");
    f.bump_table("/proc/net/snmp", "Udp", "RcvbufErrors", 400);
    assert_eq!(f.status("udp-errors", &[]).0, "crit");
}

#[test]
fn conntrack_table_and_drops() {
    let f = Fixture::new();
    f.write_both("/proc/sys/net/netfilter/nf_conntrack_count", "250000\n");
    assert_eq!(f.status("conntrack", &[]).0, "crit");
    let f = Fixture::new();
    f.kernel_log(&["nf_conntrack: nf_conntrack: table full, dropping packet"]);
    assert_eq!(f.status("conntrack", &[]).0, "crit");
    let f = Fixture::new();
    f.remove_both("/proc/sys/net/netfilter");
    let (s, finding) = f.status("conntrack", &[]);
    assert_eq!(s, "skip");
    assert!(text(&finding, "summary").contains("not loaded"));
}

#[test]
fn nic_drops_from_statistics_and_driver_counters() {
    let f = Fixture::new();
    let packets = f.read(1, "/sys/class/net/eth0/statistics/rx_packets");
    let packets: u64 = packets.trim().parse().unwrap();
    f.write(
        1,
        "/sys/class/net/eth0/statistics/rx_packets",
        &format!("{}\n", packets + 10_000),
    );
    let dropped: u64 = f
        .read(1, "/sys/class/net/eth0/statistics/rx_dropped")
        .trim()
        .parse()
        .unwrap();
    f.write(
        1,
        "/sys/class/net/eth0/statistics/rx_dropped",
        &format!("{}\n", dropped + 500),
    );
    let (s, finding) = f.status("nic-drops", &[]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "summary").contains("eth0 dropped 500"),
        "{finding}"
    );
    let f = Fixture::new();
    let mut stats = f.json(1, "/.hostperf/nic-driver-stats.json");
    stats["eth0"] = json!({"Ok": [["rx_drops", 0], ["rx0_drops", 25]]});
    f.set_json(1, "/.hostperf/nic-driver-stats.json", &stats);
    let (s, finding) = f.status("nic-drops", &[]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "summary").contains("rx0_drops +25"),
        "{finding}"
    );
    let f = Fixture::new();
    f.kernel_log(&["NETDEV WATCHDOG: eth0 (virtio_net): transmit queue 0 timed out 5000 ms"]);
    assert_eq!(f.status("nic-drops", &[]).0, "crit");
}

#[test]
fn cpu_saturation_and_throttling() {
    let f = Fixture::new();
    let stat = f.read(0, "/proc/stat");
    let busy: Vec<String> = stat
        .lines()
        .map(|l| {
            let v: Vec<&str> = l.split_whitespace().collect();
            if v.first().is_some_and(|c| c.starts_with("cpu")) {
                let n = if v[0] == "cpu" { 2 } else { 1 };
                let mut v: Vec<u64> = v[1..].iter().map(|x| x.parse().unwrap()).collect();
                v[0] += 196 * n;
                v[3] += 4 * n;
                format!(
                    "{} {}",
                    l.split_whitespace().next().unwrap(),
                    v.iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            } else if l.starts_with("procs_running") {
                "procs_running 7".into()
            } else {
                l.to_string()
            }
        })
        .collect();
    f.write(1, "/proc/stat", &(busy.join("\n") + "\n"));
    let (s, finding) = f.status("cpu-saturation", &[]);
    assert_eq!(s, "crit", "{finding}");
    // cgroup v1 and v2 throttling, named by unit and process.
    for (v2, dir) in [
        (false, "/sys/fs/cgroup/cpu/system.slice/api.service"),
        (true, "/sys/fs/cgroup/unified/kubepods/pod1"),
    ] {
        let f = Fixture::new();
        if v2 {
            f.write_both(&format!("{dir}/cpu.max"), "10000 100000\n");
            f.write(
                0,
                &format!("{dir}/cpu.stat"),
                "usage_usec 1\nnr_periods 100\nnr_throttled 10\nthrottled_usec 5000\n",
            );
            f.write(
                1,
                &format!("{dir}/cpu.stat"),
                "usage_usec 2\nnr_periods 120\nnr_throttled 28\nthrottled_usec 1500000\n",
            );
        } else {
            f.write_both(&format!("{dir}/cpu.cfs_quota_us"), "10000\n");
            f.write_both(&format!("{dir}/cpu.cfs_period_us"), "100000\n");
            f.write(
                0,
                &format!("{dir}/cpu.stat"),
                "nr_periods 100\nnr_throttled 10\nthrottled_time 5000000\n",
            );
            f.write(
                1,
                &format!("{dir}/cpu.stat"),
                "nr_periods 120\nnr_throttled 28\nthrottled_time 1500000000\n",
            );
        }
        f.write(1, &format!("{dir}/cgroup.procs"), "4242\n");
        f.write(1, "/proc/4242/comm", "api\n");
        let (s, finding) = f.status("cpu-throttling", &[]);
        assert_eq!(s, "crit", "{finding}");
        let summary = text(&finding, "summary");
        assert!(
            summary.contains(dir) && summary.contains("api (4242)"),
            "{finding}"
        );
        assert!(summary.contains("0.10 CPUs"), "{finding}");
    }
}

#[test]
fn io_wait_from_time_per_io_and_hung_tasks() {
    let f = Fixture::new();
    let d = f.read(1, "/proc/diskstats");
    let d: Vec<String> = d
        .lines()
        .map(|l| {
            let mut v: Vec<String> = l.split_whitespace().map(str::to_string).collect();
            if v[2] == "vda" {
                v[3] = (v[3].parse::<u64>().unwrap() + 100).to_string();
                v[6] = (v[6].parse::<u64>().unwrap() + 30_000).to_string();
            }
            v.join(" ")
        })
        .collect();
    f.write(1, "/proc/diskstats", &(d.join("\n") + "\n"));
    let (s, finding) = f.status("io-wait", &[]);
    assert_eq!(s, "warn", "{finding}");
    assert!(
        text(&finding, "summary").contains("vda 300.0 ms per I/O"),
        "{finding}"
    );
    let f = Fixture::new();
    f.kernel_log(&["INFO: task nginx:812 blocked for more than 120 seconds."]);
    assert_eq!(f.status("io-wait", &[]).0, "crit");
}

#[test]
fn clock_unsynchronised_or_slow() {
    let f = Fixture::new();
    for s in 0..2 {
        f.set_json(
            s,
            "/.hostperf/clock.json",
            &json!({"state": 5, "status": 64, "maxerror_us": 16000000, "esterror_us": 16000000}),
        );
    }
    assert_eq!(f.status("clock", &[]).0, "warn");
    let f = Fixture::new();
    f.write_both(
        "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        "hpet\n",
    );
    let (s, finding) = f.status("clock", &[]);
    assert_eq!(s, "warn", "{finding}");
    assert!(text(&finding, "summary").contains("hpet"));
}

#[test]
fn malformed_files_are_errors_with_exit_3_in_plain_words() {
    let f = Fixture::new();
    f.write(
        1,
        "/proc/net/netstat",
        "TcpExt: ListenOverflows\nTcpExt: banana\n",
    );
    let (code, json) = f.run(&["--check", "listen-overflow"]);
    assert_eq!(json["findings"][0]["status"], "error");
    assert!(text(&json["findings"][0], "summary").contains("/proc/net/netstat"));
    assert_eq!(code, 3);
    // An empty sockstat is an error too, never a panic.
    let f = Fixture::new();
    f.write(1, "/proc/net/sockstat", "");
    assert_eq!(f.status("port-exhaustion", &[]).0, "error");
    // Garbage everywhere: errors or skips, never a crash or a library's internal text.
    let f = Fixture::new();
    for p in [
        "/proc/stat",
        "/proc/meminfo",
        "/proc/net/snmp",
        "/proc/pressure/memory",
        "/proc/vmstat",
        "/proc/buddyinfo",
        "/proc/diskstats",
        "/proc/net/softnet_stat",
    ] {
        f.write_both(p, "\u{0}\u{1}garbage 18446744073709551616 -5\n");
    }
    let out = Command::new(BIN)
        .args(["diagnose", "--format", "json", "--from"])
        .arg(f.dir.path())
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0 | 1 | 3)), "{all}");
    assert!(
        !all.contains("please report") && !all.contains("Internal error"),
        "{all}"
    );
}

#[test]
fn missing_files_skip_or_degrade() {
    let f = Fixture::new();
    f.remove_both("/proc/pressure");
    f.remove_both("/proc/buddyinfo");
    f.remove_both("/proc/net/softnet_stat");
    let (code, json) = f.run(&[]);
    assert_eq!(finding(&json, "memory-fragmentation")["status"], "skip");
    assert_eq!(finding(&json, "softnet-drops")["status"], "skip");
    assert_eq!(finding(&json, "memory-pressure")["status"], "pass");
    assert!(text(&finding(&json, "memory-pressure"), "notes").contains("PSI"));
    assert_eq!(finding(&json, "io-wait")["status"], "pass");
    assert_eq!(code, 0);
}

#[test]
fn one_sample_skips_rate_checks() {
    let f = Fixture::new();
    let manifest = f.dir.path().join("manifest.json");
    let mut m: Value = serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
    m["samples"] = json!(["sample0"]);
    fs::write(&manifest, m.to_string()).unwrap();
    let (code, json) = f.run(&[]);
    assert_eq!(json["interval_secs"], 0.0);
    for finding in json["findings"].as_array().unwrap() {
        let id = finding["id"].as_str().unwrap();
        let s = finding["status"].as_str().unwrap();
        let rate_only = [
            "syn-flood",
            "tcp-retransmits",
            "udp-errors",
            "nic-drops",
            "softirq-imbalance",
            "softnet-drops",
            "cpu-throttling",
            "oom-kills",
        ];
        if rate_only.contains(&id) {
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
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPReqQFullDoCookies", 4);
    assert_eq!(f.run(&["--check", "syn-flood"]).0, 0);
    assert_eq!(f.run(&["--check", "syn-flood", "--fail-on", "warn"]).0, 1);
    f.bump_table("/proc/net/netstat", "TcpExt", "TCPReqQFullDrop", 20);
    assert_eq!(f.run(&["--check", "syn-flood"]).0, 1);
}

fn run_raw(args: &[&str], from: &Path) -> std::process::Output {
    Command::new(BIN)
        .arg("diagnose")
        .args(args)
        .arg("--from")
        .arg(from)
        .output()
        .unwrap()
}

#[test]
fn usage_errors_exit_2() {
    let f = Fixture::new();
    let out = run_raw(&["--check", "nope"], f.dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("port-exhaustion") && err.contains("clock"),
        "{err}"
    );

    let cfg = f.dir.path().join("bad.yaml");
    fs::write(&cfg, "port-exhaustion:\n  warn-pct: 50\n  crit-pc: 70\n").unwrap();
    let out = run_raw(&["--config", cfg.to_str().unwrap()], f.dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3") && err.contains("crit-pc"), "{err}");

    for (yaml, want) in [
        (
            "syn-flood:\n  warn-per-sec: .nan\n",
            "syn-flood.warn-per-sec is NaN",
        ),
        (
            "fd-exhaustion:\n  warn-pct: -5\n",
            "fd-exhaustion.warn-pct is -5",
        ),
        (
            "conntrack:\n  warn-pct: 99\n",
            "conntrack.warn-pct (99) must be below conntrack.crit-pct (95)",
        ),
    ] {
        fs::write(&cfg, yaml).unwrap();
        let out = run_raw(&["--config", cfg.to_str().unwrap()], f.dir.path());
        assert_eq!(out.status.code(), Some(2), "{yaml}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{yaml}: {err}");
    }

    let out = run_raw(&[], Path::new("/nonexistent.tar.gz"));
    assert_eq!(out.status.code(), Some(2));
    for args in [["--pid", "999999"], ["--process", "nosuch"]] {
        let out = run_raw(&args, f.dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no process"), "{err}");
    }
}

#[test]
fn config_overrides_thresholds() {
    let f = Fixture::new();
    f.write_both("/proc/sys/net/ipv4/ip_local_port_range", "40000\t40099\n");
    let socks: Vec<Value> = (0..30)
        .map(|i| tcp(6, &format!("10.1.1.1:{}", 40000 + i), "10.0.0.9:8080", 0))
        .collect();
    f.sockets(&socks);
    let cfg = f.dir.path().join("c.yaml");
    fs::write(&cfg, "port-exhaustion:\n  warn-pct: 20\n  crit-pct: 25\n").unwrap();
    let (s, _) = f.status("port-exhaustion", &["--config", cfg.to_str().unwrap()]);
    assert_eq!(s, "crit");
}

/// Every metric has its own HELP; labels identify what was measured, values are samples.
#[test]
fn prometheus_file_is_written_atomically_and_well_formed() {
    let f = Fixture::new();
    // Stage findings so that labelled metrics appear.
    f.process_both(json!({"pid": 4242, "comm": "api", "uid": 1000, "fds": {"Ok": 75}, "nofile_soft": {"Ok": 100}}));
    let mut l = tcp(10, "0.0.0.0:8080", "0.0.0.0:0", 1);
    l["recv_q"] = 5.into();
    l["send_q"] = 128.into();
    f.sockets(&[l, tcp(1, "10.1.1.1:40000", "10.0.0.9:5432", 2)]);
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("port-exhaustion") && stdout.contains("PASS"));
    assert!(!stdout.contains('\x1b'), "no colour into a pipe");
    let names: Vec<String> = fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "no temp files left: {names:?}");
    let text = fs::read_to_string(&prom).unwrap();
    assert!(text.contains("hostperf_diagnose_status{check=\"port-exhaustion\",status=\"pass\"} 1"));
    assert!(
        text.contains(
            "hostperf_process_open_fds{check=\"fd-exhaustion\",name=\"api\",pid=\"4242\"} 75"
        ),
        "{text}"
    );
    assert!(text.contains("hostperf_accept_queue_length{check=\"listen-overflow\",address=\"0.0.0.0\",port=\"8080\"} 5"), "{text}");
    let identity = [
        "check",
        "status",
        "cpu",
        "device",
        "port",
        "address",
        "destination",
        "pid",
        "name",
        "uid",
        "cgroup",
        "counter",
        "clocksource",
        "source",
        "field",
    ];
    let mut helped = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(
                !help.contains("measured by hostperf diagnose."),
                "generic HELP for {name}"
            );
            helped.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            if line.ends_with(" counter") {
                assert!(line.contains("_total "), "{line}");
            }
            continue;
        }
        assert!(line.starts_with("hostperf_"), "{line}");
        let name = line.split(['{', ' ']).next().unwrap();
        assert!(helped.contains(name), "no HELP before {line}");
        if let Some(labels) = line
            .split_once('{')
            .map(|(_, l)| l.split_once('}').unwrap().0)
        {
            for pair in labels.split("\",") {
                let key = pair.split('=').next().unwrap();
                assert!(identity.contains(&key), "label {key} in {line}");
            }
        }
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok() || value == "NaN", "{line}");
    }
    let y = fs::read_to_string(&yaml).unwrap();
    assert!(y.contains("schema_version: 2"));
}

/// CPUs are named by their label: with CPU1 offline the second line is CPU2.
#[test]
fn an_offline_cpu_does_not_shift_names() {
    let f = Fixture::new();
    f.write_both("/sys/devices/system/cpu/online", "0,2\n");
    for s in 0..2 {
        let stat = f.read(s, "/proc/stat").replace("cpu1 ", "cpu2 ");
        f.write(s, "/proc/stat", &stat);
    }
    let stat = f.read(1, "/proc/stat");
    let stat: Vec<String> = stat
        .lines()
        .map(|l| {
            if l.starts_with("cpu2 ") {
                let mut v: Vec<String> = l.split_whitespace().map(str::to_string).collect();
                v[7] = (v[7].parse::<u64>().unwrap() + 150).to_string();
                v.join(" ")
            } else {
                l.to_string()
            }
        })
        .collect();
    f.write(1, "/proc/stat", &(stat.join("\n") + "\n"));
    let (_, finding) = f.status("softirq-imbalance", &[]);
    assert!(
        text(&finding, "summary").contains("busiest CPU2"),
        "{finding}"
    );
}

#[test]
fn partitions_are_not_disks() {
    let f = Fixture::new();
    for s in 0..2 {
        let d = f.read(s, "/proc/diskstats");
        let vda = d
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some("vda"))
            .unwrap()
            .to_string();
        let part = vda.replacen(" vda ", " vda1 ", 1);
        f.write(s, "/proc/diskstats", &format!("{d}{part}\n"));
    }
    let (_, finding) = f.status("io-wait", &[]);
    assert!(!text(&finding, "observed").contains("vda1"), "{finding}");
    // Without /sys/block in the tree, partitions are told by their names.
    f.listing("/sys/block", &[]);
    let (_, finding) = f.status("io-wait", &[]);
    assert!(!text(&finding, "observed").contains("vda1"), "{finding}");
    assert!(text(&finding, "observed").contains("vda"), "{finding}");
}
