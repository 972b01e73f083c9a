//! Live tests: each runs in a fresh network namespace (the test binary re-executes itself
//! under `unshare -n`), creates a real fault on loopback and asserts that diagnose names it at
//! the right status. Only per-namespace net.* settings are written, and only after checking
//! that the namespace is not the one the test started in. Without the right to create a
//! namespace (not root, no unshare, no ip) each test prints why it skipped and passes.

mod common;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hostperf");
const CHILD: &str = "HOSTPERF_NETNS_CHILD";
const PARENT_NS: &str = "HOSTPERF_PARENT_NETNS";

fn netns() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The unshare flags that work here, or why none does.
fn unshare_flags() -> Result<&'static str, String> {
    if Command::new("ip").arg("-V").output().is_err() {
        return Err("`ip` (iproute2) is not installed".into());
    }
    for flags in ["-n", "-rn"] {
        match Command::new("unshare").args([flags, "true"]).status() {
            Ok(s) if s.success() => return Ok(flags),
            Ok(_) => {}
            Err(e) => return Err(format!("unshare: {e}")),
        }
    }
    Err("cannot create a network namespace (needs root or user namespaces)".into())
}

/// Runs `name` again inside a new network namespace; true when this process is that child.
fn in_namespace(name: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        let parent = std::env::var(PARENT_NS).unwrap_or_default();
        assert_ne!(
            parent,
            netns(),
            "refusing to run: not in a new network namespace"
        );
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        assert!(up.is_ok_and(|s| s.success()), "ip link set lo up failed");
        return true;
    }
    let flags = match unshare_flags() {
        Ok(f) => f,
        Err(why) => {
            common::skip(name, &why);
            return false;
        }
    };
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .arg(flags)
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .env(PARENT_NS, netns())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "namespace child failed:\n{stdout}\n{stderr}"
    );
    false
}

/// Writes a per-namespace sysctl (only ever called inside the new namespace).
fn ns_sysctl(key: &str, value: &str) {
    assert!(key.starts_with("net/"), "only net.* in a test namespace");
    assert!(std::env::var_os(CHILD).is_some());
    std::fs::write(format!("/proc/sys/{key}"), value).unwrap();
}

fn diagnose(args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .arg("diagnose")
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
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

#[test]
fn clean_namespace_fires_nothing() {
    if !in_namespace("clean_namespace_fires_nothing") {
        return;
    }
    let pid = std::process::id().to_string();
    let report = diagnose(&[
        "--interval",
        "1",
        "--check",
        "port-exhaustion",
        "--check",
        "listen-overflow",
        "--check",
        "syn-flood",
        "--check",
        "socket-leak",
        "--check",
        "tcp-retransmits",
        "--check",
        "fd-exhaustion",
        "--pid",
        &pid,
    ]);
    for f in report["findings"].as_array().unwrap() {
        let s = f["status"].as_str().unwrap();
        assert!(s == "pass" || s == "skip", "{f}");
    }
}

#[test]
fn time_wait_exhaustion() {
    if !in_namespace("time_wait_exhaustion") {
        return;
    }
    ns_sysctl("net/ipv4/ip_local_port_range", "40000 40099");
    ns_sysctl("net/ipv4/tcp_tw_reuse", "0");
    let listener = TcpListener::bind("127.0.0.1:18080").unwrap();
    for _ in 0..90 {
        let client = TcpStream::connect("127.0.0.1:18080").unwrap();
        let (mut server, _) = listener.accept().unwrap();
        drop(client); // the client closes first: its side ends in TIME_WAIT
        let mut buf = [0u8; 1];
        let _ = server.read(&mut buf);
    }
    let report = diagnose(&["--interval", "0", "--check", "port-exhaustion"]);
    let f = finding(&report, "port-exhaustion");
    assert_eq!(f["status"], "crit", "{f}");
    assert!(
        f["summary"].as_str().unwrap().contains("127.0.0.1:18080"),
        "{f}"
    );
}

#[test]
fn accept_queue_overflow() {
    if !in_namespace("accept_queue_overflow") {
        return;
    }
    // A listener with backlog 1 that never accepts.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 18081u16.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    };
    let rc = unsafe {
        libc::bind(
            fd,
            &addr as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    assert_eq!(unsafe { libc::listen(fd, 1) }, 0);

    let child = Command::new(BIN)
        .args([
            "diagnose",
            "--format",
            "json",
            "--interval",
            "2",
            "--check",
            "listen-overflow",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let target: SocketAddr = "127.0.0.1:18081".parse().unwrap();
    let clients: Vec<_> = (0..40)
        .map(|_| {
            std::thread::spawn(move || {
                TcpStream::connect_timeout(&target, Duration::from_millis(2500))
            })
        })
        .collect();
    let out = child.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = finding(&report, "listen-overflow");
    assert_eq!(f["status"], "crit", "{f}");
    assert!(f["summary"].as_str().unwrap().contains("port 18081"), "{f}");
    for c in clients {
        let _ = c.join();
    }
    unsafe { libc::close(fd) };
}

#[test]
fn process_near_its_fd_limit() {
    if !in_namespace("process_near_its_fd_limit") {
        return;
    }
    // This process's own soft limit (not a global setting), then fill most of it.
    let lim = libc::rlimit {
        rlim_cur: 256,
        rlim_max: 256,
    };
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    let mut files = Vec::new();
    while std::fs::read_dir("/proc/self/fd").unwrap().count() < 240 {
        files.push(std::fs::File::open("/dev/null").unwrap());
    }
    let pid = std::process::id().to_string();
    let report = diagnose(&["--interval", "0", "--check", "fd-exhaustion", "--pid", &pid]);
    let f = finding(&report, "fd-exhaustion");
    assert_eq!(f["status"], "crit", "{f}");
    assert!(
        f["summary"].as_str().unwrap().contains(&format!("({pid})")),
        "{f}"
    );
    drop(files);
}
