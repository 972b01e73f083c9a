//! `diagnose --url`: the probe's verdict on an upstream joins the host's findings. The
//! servers are tiny HTTP/1.1 responders on loopback started by the test.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use common::{code, describe, hostperf};

/// Serves `status` with a short body to every connection, for the life of the test.
fn serve(status: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "ok\n";
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// A port nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn findings(args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let mut all = vec![
        "diagnose",
        "--interval",
        "0",
        "--check",
        "oom-kills",
        "-o",
        "json",
    ];
    all.extend_from_slice(args);
    let out = hostperf(&all);
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    let list = json["findings"].as_array().cloned().unwrap_or_default();
    (code(&out), list, describe(&out))
}

fn upstream(list: &[serde_json::Value]) -> &serde_json::Value {
    list.iter()
        .find(|f| f["id"] == "upstream-timeout")
        .expect("an upstream-timeout finding")
}

#[test]
fn a_healthy_upstream_passes() {
    let port = serve("200 OK");
    let url = format!("http://127.0.0.1:{port}/");
    let (exit, list, all) = findings(&["--url", &url]);
    let f = upstream(&list);
    assert_eq!(f["status"], "pass", "{all}");
    assert!(f["summary"].as_str().unwrap().contains(&url), "{all}");
    assert_eq!(exit, 0, "{all}");
    assert!(
        !list.iter().any(|f| f["id"] == "tls-handshake"),
        "no TLS row for http: {all}"
    );
}

#[test]
fn a_gateway_timeout_is_critical_and_names_the_upstream() {
    let port = serve("504 Gateway Time-out");
    let (exit, list, all) = findings(&["--url", &format!("http://127.0.0.1:{port}/")]);
    let f = upstream(&list);
    assert_eq!(f["status"], "crit", "{all}");
    assert!(
        f["summary"].as_str().unwrap().contains("gateway_timeout"),
        "{all}"
    );
    assert!(
        f["log"].as_str().unwrap().contains("upstream timed out"),
        "{all}"
    );
    assert_eq!(exit, 1, "crit is at or above the default --fail-on: {all}");
}

#[test]
fn an_unreachable_upstream_is_critical_not_unknown() {
    let port = closed_port();
    let (exit, list, all) = findings(&["--url", &format!("http://127.0.0.1:{port}/")]);
    let f = upstream(&list);
    assert_eq!(f["status"], "crit", "{all}");
    assert!(
        f["summary"].as_str().unwrap().contains("unreachable"),
        "{all}"
    );
    assert!(
        f["remediation"].as_str().unwrap().contains("ss -ltnp"),
        "{all}"
    );
    assert_eq!(exit, 1, "{all}");
}

#[test]
fn a_malformed_url_is_a_usage_error_before_sampling() {
    let out = hostperf(&["diagnose", "--interval", "0", "--url", "notaurl"]);
    assert_eq!(code(&out), 2, "{}", describe(&out));
    assert!(
        common::stderr(&out).contains("notaurl"),
        "{}",
        describe(&out)
    );
    let out = hostperf(&[
        "diagnose",
        "--from",
        "x.tar.gz",
        "--url",
        "http://127.0.0.1:1/",
    ]);
    assert_eq!(code(&out), 2, "--url probes this host, not a capture");
}
