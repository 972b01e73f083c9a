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
    // The checks of what a network namespace owns (CPU, memory, disks, NICs and the clock
    // are the host's, shared with whatever else runs on it).
    let mut args = vec!["--interval", "1", "--pid", &pid];
    for id in [
        "port-exhaustion",
        "listen-overflow",
        "syn-flood",
        "socket-leak",
        "tcp-retransmits",
        "udp-errors",
        "conntrack",
        "fd-exhaustion",
    ] {
        args.extend(["--check", id]);
    }
    let report = diagnose(&args);
    for f in report["findings"].as_array().unwrap() {
        let s = f["status"].as_str().unwrap();
        assert!(s == "pass" || s == "skip", "{f}");
    }
}

/// `count` TIME_WAIT sockets from this side towards `listener` (the client closes first).
fn make_time_wait(listener: &TcpListener, count: usize) {
    let target = listener.local_addr().unwrap();
    for _ in 0..count {
        let client = TcpStream::connect(target).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        drop(client);
        let mut buf = [0u8; 1];
        let _ = server.read(&mut buf);
    }
}

/// Opens `count` connections (accepted and held); returns how many failed with
/// EADDRNOTAVAIL.
fn connects_refused(listener: &TcpListener, count: usize) -> usize {
    let target = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..count {
        match TcpStream::connect(target) {
            Ok(c) => {
                let s = listener.accept().unwrap();
                held.push((c, s));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => refused += 1,
            Err(e) => panic!("connect: {e}"),
        }
    }
    refused
}

fn port_exhaustion_with_reuse(reuse: &str) -> (Value, usize) {
    ns_sysctl("net/ipv4/ip_local_port_range", "40000 40999");
    ns_sysctl("net/ipv4/tcp_tw_reuse", reuse);
    let listener = TcpListener::bind("127.0.0.1:18090").unwrap();
    make_time_wait(&listener, 900);
    // Older than tcp_tw_reuse_delay (1 s), where reuse applies.
    std::thread::sleep(Duration::from_millis(1300));
    let report = diagnose(&["--interval", "0", "--check", "port-exhaustion"]);
    let f = finding(&report, "port-exhaustion");
    (f, connects_refused(&listener, 150))
}

/// 900 TIME_WAIT sockets in a 1000-port range without tcp_tw_reuse: critical, and the kernel
/// agrees: connect() fails with EADDRNOTAVAIL once the 100 free ports are used.
#[test]
fn port_exhaustion_without_tw_reuse_is_real() {
    if !in_namespace("port_exhaustion_without_tw_reuse_is_real") {
        return;
    }
    let (f, refused) = port_exhaustion_with_reuse("0");
    assert_eq!(f["status"], "crit", "{f}");
    assert!(
        f["summary"].as_str().unwrap().contains("127.0.0.1:18090"),
        "{f}"
    );
    assert!(refused >= 40, "only {refused} of 150 connects failed");
}

/// The same with tcp_tw_reuse=1: connect() reuses the old TIME_WAIT ports, so diagnose does
/// not call it critical (a warning remains for code that binds before connecting), and 150
/// more connects succeed.
#[test]
fn port_exhaustion_with_tw_reuse_is_not_critical() {
    if !in_namespace("port_exhaustion_with_tw_reuse_is_not_critical") {
        return;
    }
    let (f, refused) = port_exhaustion_with_reuse("1");
    assert_eq!(f["status"], "warn", "{f}");
    assert!(f["notes"].to_string().contains("tcp_tw_reuse=1"), "{f}");
    assert_eq!(refused, 0, "connect() reused the TIME_WAIT ports");
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum = sum.wrapping_add(u32::from(word));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One SYN from a spoofed, unreachable source to `dst`:`port` over a raw socket: the SYN-ACK
/// goes nowhere and the request stays in the listener's SYN queue.
fn send_syn(raw: libc::c_int, src: [u8; 4], dst: [u8; 4], port: u16, sport: u16) {
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&port.to_be_bytes());
    tcp[4..8].copy_from_slice(&(u32::from(sport) * 7919).to_be_bytes());
    tcp[12] = 5 << 4; // data offset: 5 words
    tcp[13] = 0x02; // SYN
    tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
    let mut pseudo = Vec::with_capacity(32);
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, 6, 0, 20]);
    pseudo.extend_from_slice(&tcp);
    let c = checksum(&pseudo);
    tcp[16..18].copy_from_slice(&c.to_be_bytes());
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&40u16.to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&src);
    ip[16..20].copy_from_slice(&dst);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut packet = ip.to_vec();
    packet.extend_from_slice(&tcp);
    let to = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes(dst).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sendto on a raw socket with a valid buffer and address.
    unsafe {
        libc::sendto(
            raw,
            packet.as_ptr().cast(),
            packet.len(),
            0,
            &to as *const libc::sockaddr_in as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
}

/// A listener bound with a small backlog that never accepts.
fn listen_raw(ip: [u8; 4], port: u16, backlog: i32) -> libc::c_int {
    // SAFETY: plain socket/bind/listen calls, results checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes(ip).to_be(),
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
    assert_eq!(unsafe { libc::listen(fd, backlog) }, 0);
    fd
}

/// A SYN flood with syncookies off: the SYN queue fills and drops connection attempts.
/// syn-flood names it; listen-overflow does not (no accept-queue overflow happened).
#[test]
fn syn_flood_with_cookies_off_is_told_apart_from_accept_overflow() {
    if !in_namespace("syn_flood_with_cookies_off_is_told_apart_from_accept_overflow") {
        return;
    }
    ns_sysctl("net/ipv4/tcp_syncookies", "0");
    ns_sysctl("net/ipv4/conf/all/rp_filter", "0");
    ns_sysctl("net/ipv4/conf/lo/rp_filter", "0");
    // SYN-ACKs to 10.77.0.0/16 go to a neighbour that never answers ARP: they are sent into
    // the void, and each request stays in the SYN queue.
    for cmd in [
        "ip link add v0 type veth peer name v1",
        "ip addr add 10.78.0.1/24 dev v0",
        "ip link set v0 up",
        "ip link set v1 up",
        "ip route add 10.77.0.0/16 via 10.78.0.2 dev v0",
    ] {
        let args: Vec<&str> = cmd.split(' ').collect();
        let ok = Command::new(args[0])
            .args(&args[1..])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{cmd}");
    }
    // Not on loopback: a SYN-ACK from 127.0.0.1 may not leave through v0.
    let fd = listen_raw([10, 78, 0, 1], 18091, 8);
    // SAFETY: a raw IPv4 socket in this throwaway namespace, closed below.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    assert!(raw >= 0, "raw socket");
    let child = Command::new(BIN)
        .args([
            "diagnose",
            "--format",
            "json",
            "--interval",
            "2",
            "--check",
            "syn-flood",
            "--check",
            "listen-overflow",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // About 400 SYNs over 1.5 s, from 400 different sources.
    for i in 0..400u16 {
        let src = [10, 77, (i >> 8) as u8, (i & 0xff) as u8];
        send_syn(raw, src, [10, 78, 0, 1], 18091, 20000 + i);
        std::thread::sleep(Duration::from_micros(3500));
    }
    let out = child.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let syn = finding(&report, "syn-flood");
    let listen = finding(&report, "listen-overflow");
    assert_eq!(syn["status"], "crit", "{syn}");
    assert!(
        syn["summary"].as_str().unwrap().contains("full SYN queue"),
        "{syn}"
    );
    assert!(syn["kernel_log"].to_string().contains("18091"), "{syn}");
    assert!(
        !syn["kernel_log"].to_string().contains(":8080"),
        "other namespaces' listeners: {syn}"
    );
    assert_eq!(listen["status"], "pass", "{listen}");
    unsafe {
        libc::close(raw);
        libc::close(fd);
    }
}

/// CLOSE_WAIT sockets held by another user's process, diagnosed by an unprivileged user: the
/// holder cannot be named, but the leak is measured by the sockets' owner and the finding
/// says it is partial.
#[test]
fn close_wait_of_another_user_seen_unprivileged() {
    if !in_namespace("close_wait_of_another_user_seen_unprivileged") {
        return;
    }
    // The system's python, which any user may run (not a per-user shim on root's PATH).
    let python = "/usr/bin/python3";
    if Command::new("setpriv").arg("--version").output().is_err()
        || !std::path::Path::new(python).exists()
    {
        common::skip(
            "close_wait_of_another_user_seen_unprivileged",
            "needs setpriv and /usr/bin/python3",
        );
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:18092").unwrap();
    // The holder (uid 65534) connects 120 times, then once every 40 ms, and never closes.
    let holder = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", python, "-c"])
        .arg(
            "import socket, time\n\
             held = []\n\
             for i in range(120): held.append(socket.create_connection(('127.0.0.1', 18092)))\n\
             for i in range(100):\n    held.append(socket.create_connection(('127.0.0.1', 18092))); time.sleep(0.04)\n\
             time.sleep(30)\n",
        )
        .spawn()
        .unwrap();
    // Accepts for at most 15 s; the server closes each: the holder's side is CLOSE_WAIT.
    listener.set_nonblocking(true).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let accepter = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let mut accepted = 0;
        while accepted < 220
            && std::time::Instant::now() < deadline
            && !stopped.load(std::sync::atomic::Ordering::Relaxed)
        {
            match listener.accept() {
                Ok((s, _)) => {
                    drop(s);
                    accepted += 1;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    std::thread::sleep(Duration::from_millis(800));
    let out = Command::new("setpriv")
        .args(["--reuid=65533", "--regid=65533", "--clear-groups", BIN])
        .args([
            "diagnose",
            "--format",
            "json",
            "--interval",
            "1.5",
            "--check",
            "socket-leak",
        ])
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut holder = holder;
    let _ = holder.kill();
    let _ = holder.wait();
    let _ = accepter.join();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let f = finding(&report, "socket-leak");
    assert!(f["status"] == "crit" || f["status"] == "warn", "{f}");
    assert!(f["summary"].as_str().unwrap().contains("uid 65534"), "{f}");
    assert!(
        f["partial"].as_str().unwrap_or("").contains("cannot read"),
        "{f}"
    );
}

#[test]
fn accept_queue_overflow() {
    if !in_namespace("accept_queue_overflow") {
        return;
    }
    // A listener with backlog 1 that never accepts.
    let fd = listen_raw([127, 0, 0, 1], 18081, 1);

    let child = Command::new(BIN)
        .args([
            "diagnose",
            "--format",
            "json",
            "--interval",
            "2",
            "--check",
            "listen-overflow",
            "--check",
            "syn-flood",
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
    let syn = finding(&report, "syn-flood");
    assert_ne!(
        syn["status"], "crit",
        "an accept-queue overflow is not a SYN flood: {syn}"
    );
    for c in clients {
        let _ = c.join();
    }
    unsafe { libc::close(fd) };
}

/// A listener with backlog 0 (`listen(fd, 0)`) that never accepts: the kernel queues one
/// connection (`ss -lnt` Recv-Q 1, Send-Q 0) and drops the next, so its queue is full and
/// listen-overflow names it.
#[test]
fn accept_queue_of_backlog_zero_is_full_with_one_connection() {
    if !in_namespace("accept_queue_of_backlog_zero_is_full_with_one_connection") {
        return;
    }
    let fd = listen_raw([127, 0, 0, 1], 18083, 0);
    let target: SocketAddr = "127.0.0.1:18083".parse().unwrap();
    let held = TcpStream::connect_timeout(&target, Duration::from_secs(2)).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let report = diagnose(&["--interval", "0", "--check", "listen-overflow"]);
    let f = finding(&report, "listen-overflow");
    assert_eq!(f["status"], "crit", "{f}");
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("port 18083: 1 queued, backlog 0"),
        "{f}"
    );
    drop(held);
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
