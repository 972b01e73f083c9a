//! The per-namespace parts of the new settings against the real kernel, in a throwaway
//! network namespace: reserved ports computed from a listener the test starts there (the
//! inet_diag dump of that namespace), and an interface's NAPI settings (sysfs) on a veth
//! that exists only there. The host's own values never move.

mod common;

use std::process::{Command, Stdio};

use common::*;

#[test]
fn listeners_are_reserved_and_napi_settings_roll_back_in_a_namespace() {
    let test = "listeners_are_reserved_and_napi_settings_roll_back_in_a_namespace";
    let Some(ns) = Netns::create(test) else {
        return;
    };
    if Command::new("python3").arg("--version").output().is_err() {
        skip(test, "python3 is not installed (it holds the listener)");
        return;
    }
    ns.sh(
        "ip link add hpv0 type veth peer name hpv1 && ip link set hpv0 up && ip link set hpv1 up",
    );
    let napi = "/sys/class/net/hpv0/napi_defer_hard_irqs";
    if !ns.run("test", &["-w", napi]).status.success() {
        skip(
            test,
            "this kernel has no per-interface napi_defer_hard_irqs (Linux 5.10+)",
        );
        return;
    }
    // A listener inside the widened range, for as long as the test runs.
    let port = 40000 + (std::process::id() % 20000) as u16;
    let mut listener = Command::new("ip")
        .args(["netns", "exec", &ns.name, "python3", "-c"])
        .arg(format!(
            "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',{port}))\ns.listen()\nprint('up',flush=True)\ntime.sleep(60)"
        ))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(listener.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "up");
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let file = write(
        dir.path(),
        "ns.yaml",
        "sysctl:\n  net.ipv4.ip_local_port_range: [10240, 65535]\n  net.ipv4.ip_local_reserved_ports: {value: listeners, reason: test}\nsysfs:\n  net/hpv0/napi_defer_hard_irqs: {value: 2, reason: test}\n  net/hpv0/gro_flush_timeout: {value: 200000, reason: test}\n",
    );
    let host_reserved = host_sysctl("net.ipv4.ip_local_reserved_ports");
    let before = (
        ns.sysctl("net.ipv4.ip_local_reserved_ports"),
        stdout(&ns.run("cat", &[napi])).trim().to_string(),
    );
    let plan = ns.hostperf(&["plan", "--file", file.to_str().unwrap()]);
    assert!(
        stdout(&plan).contains(&format!("listening now, per the inet_diag dump: {port}")),
        "{}",
        describe(&plan)
    );
    let out = ns.apply_file(&state, &file);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let reserved = ns.sysctl("net.ipv4.ip_local_reserved_ports");
    assert!(
        reserved.split(',').any(|r| r == port.to_string()),
        "{port} not in {reserved:?}"
    );
    assert_eq!(stdout(&ns.run("cat", &[napi])).trim(), "2");
    let out = ns.hostperf(&["check", "--file", file.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    let out = ns.hostperf(&["--state-dir", state.to_str().unwrap(), "rollback"]);
    assert_eq!(code(&out), 0, "{}", describe(&out));
    assert_eq!(ns.sysctl("net.ipv4.ip_local_reserved_ports"), before.0);
    assert_eq!(stdout(&ns.run("cat", &[napi])).trim(), before.1);
    assert_eq!(
        host_sysctl("net.ipv4.ip_local_reserved_ports"),
        host_reserved,
        "the host's own value never moves"
    );
    let _ = listener.kill();
    let _ = listener.wait();
}
