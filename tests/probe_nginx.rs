//! `hostperf probe` against real servers on loopback: nginx (Debian's package, run in the
//! foreground from a temporary prefix and config on free high ports, never the system's
//! config) with a CA and certificates made here, python3's http.server (HTTP/1.0, closes
//! after every response), a listener whose accept queue is full, and a closed port. Each
//! case asserts the exact classification.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use serde_json::Value;

use common::{code, describe, hostperf, skip, stdout};

/// A CA and the certificates the servers present, written as PEM files into `dir`.
struct Pki {
    ca: PathBuf,
    good: (PathBuf, PathBuf),
    expired: (PathBuf, PathBuf),
    other_name: (PathBuf, PathBuf),
    untrusted: (PathBuf, PathBuf),
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (params, KeyPair::generate().unwrap())
}

fn leaf(
    dir: &Path,
    file: &str,
    names: &[&str],
    validity: Option<(i32, i32)>,
    issuer: &Issuer<'_, KeyPair>,
) -> (PathBuf, PathBuf) {
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    if let Some((from, to)) = validity {
        params.not_before = date_time_ymd(from, 1, 1);
        params.not_after = date_time_ymd(to, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    let crt = dir.join(format!("{file}.crt"));
    let pem = dir.join(format!("{file}.key"));
    std::fs::write(&crt, cert.pem()).unwrap();
    std::fs::write(&pem, key.serialize_pem()).unwrap();
    (crt, pem)
}

impl Pki {
    fn make(dir: &Path) -> Pki {
        let (params, key) = ca("hostperf test CA");
        let ca_cert = params.self_signed(&key).unwrap();
        let ca_path = dir.join("ca.crt");
        std::fs::write(&ca_path, ca_cert.pem()).unwrap();
        let issuer = Issuer::new(params, key);
        let (other_params, other_key) = ca("some other CA");
        let other = Issuer::new(other_params, other_key);
        let names = ["localhost", "127.0.0.1", "api.test"];
        Pki {
            ca: ca_path,
            good: leaf(dir, "good", &names, None, &issuer),
            expired: leaf(dir, "expired", &names, Some((2020, 2021)), &issuer),
            other_name: leaf(dir, "other", &["other.example"], None, &issuer),
            untrusted: leaf(dir, "untrusted", &names, None, &other),
        }
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn nginx_binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"));
    candidates.into_iter().find(|p| p.is_file())
}

/// nginx in the foreground (one process, no master) with its own prefix; killed on drop.
struct Nginx {
    dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    /// Starts nginx with these `server { ... }` blocks and waits until every port listens.
    /// `None` (with the reason printed) where nginx cannot run.
    fn start(test: &str, dir: tempfile::TempDir, servers: &str, ports: &[u16]) -> Option<Nginx> {
        let Some(bin) = nginx_binary() else {
            skip(
                test,
                "nginx is not installed (scripts/test.sh installs it as root)",
            );
            return None;
        };
        let d = dir.path().display().to_string();
        let conf = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 128; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n\
             fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n{servers}\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
        let child = match Command::new(&bin)
            .args([
                "-p",
                &d,
                "-c",
                &format!("{d}/nginx.conf"),
                "-e",
                &format!("{d}/error.log"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                skip(test, &format!("cannot run {}: {e}", bin.display()));
                return None;
            }
        };
        let mut nginx = Nginx { dir, child };
        let d = nginx.dir.path().to_path_buf();
        let logs = || {
            let read = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
            format!("{}\n{}", read("stderr"), read("error.log"))
        };
        for port in ports {
            wait_listening(&mut nginx.child, *port, "nginx", logs);
        }
        Some(nginx)
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `port` on loopback accepts, or `child` exits, or 10 s pass; panics then with
/// what `logs` returns.
fn wait_listening(child: &mut Child, port: u16, what: &str, logs: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited ({status}) before listening on {port}:\n{}",
                logs()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// python3's http.server on a free loopback port, serving an empty temporary directory; it
/// answers HTTP/1.0 without `Connection: keep-alive`, so it closes after every response.
/// Killed on drop.
struct PythonServer {
    _dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl PythonServer {
    /// `None` (with the reason printed) where python3 cannot run.
    fn start(test: &str) -> Option<PythonServer> {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("stderr");
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                skip(test, &format!("cannot run python3: {e}"));
                return None;
            }
        };
        let mut server = PythonServer {
            _dir: dir,
            child,
            port,
        };
        wait_listening(&mut server.child, port, "python3 -m http.server", || {
            std::fs::read_to_string(&log).unwrap_or_default()
        });
        Some(server)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts a run where every request was answered although the server closed each kept-alive
/// connection after one response: exit 0, no failure, every kept-alive request on a new
/// connection of its own (a reconnect each), the version the server answered with, and a
/// verdict that says so in `because`.
fn expect_no_keepalive(code: i32, r: &Value, count: u64, version: &str, because: &str) {
    assert_eq!(code, 0, "{r:#}");
    let t = &r["targets"][0];
    assert_eq!(t["success"], true, "{r:#}");
    assert_eq!(t["failures"].as_array().map(Vec::len), Some(0), "{r:#}");
    assert_eq!(t["http_version"], version, "{r:#}");
    let reused = &t["series"][1];
    assert_eq!(reused["connection"], "reused");
    assert_eq!(
        (reused["ok"].as_u64(), reused["failed"].as_u64()),
        (Some(count), Some(0)),
        "{reused}"
    );
    assert_eq!(reused["reconnects"].as_u64(), Some(count), "{reused}");
    assert_eq!(
        reused["closing_responses"].as_u64(),
        Some(count),
        "{reused}"
    );
    assert_eq!(reused["server_keeps_alive"], false, "{reused}");
    // Each kept-alive request opened its own connection, so it has a connect phase.
    assert_eq!(
        reused["phases"]["connect"]["samples"].as_u64(),
        Some(count),
        "{reused}"
    );
    for req in t["requests"].as_array().unwrap() {
        assert_eq!(req["http_version"], version, "{req}");
        assert_eq!(req["keep_alive"], false, "{req}");
    }
    assert!(t.get("keepalive_saving").is_none(), "{r:#}");
    let verdict = text(&t["verdict"], "text");
    assert!(
        verdict.contains(&format!(
            "the server does not keep connections alive ({because})"
        )),
        "{verdict}"
    );
    assert!(verdict.contains("measured new connections"), "{verdict}");
    assert!(!verdict.contains("failed"), "{verdict}");
}

#[test]
fn http10_server_closing_every_connection_is_not_a_failure() {
    let test = "http10_server_closing_every_connection_is_not_a_failure";
    let Some(server) = PythonServer::start(test) else {
        return;
    };
    let url = format!("http://127.0.0.1:{}/", server.port);
    let (code, r) = probe_json(&[&url, "-n", "4", "--timeout", "5"]);
    expect_no_keepalive(
        code,
        &r,
        4,
        "HTTP/1.0",
        "it answers HTTP/1.0 without Connection: keep-alive",
    );
    assert!(
        text(&r["targets"][0], "server").starts_with("SimpleHTTP/"),
        "{r:#}"
    );
    // Two workers, each opening its own connections: still no failure.
    let (code, r) = probe_json(&[&url, "-n", "4", "-c", "2", "--connections", "reused"]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["targets"][0]["series"][0]["ok"], 4, "{r:#}");
    // The table's head line names the version the server answered with.
    let out = hostperf(&["probe", &url, "-n", "2"]);
    assert_eq!(code_of(&out), 0, "{}", describe(&out));
    let table = stdout(&out);
    assert!(
        table
            .lines()
            .next()
            .unwrap_or("")
            .contains(", HTTP/1.0, status 200"),
        "{table}"
    );
    assert!(table.contains("0 failed"), "{table}");
}

#[test]
fn connection_close_from_nginx_is_not_a_failure() {
    let test = "connection_close_from_nginx_is_not_a_failure";
    let (closing, limited) = (free_port(), free_port());
    // keepalive_timeout 0: nginx answers HTTP/1.1 with Connection: close every time.
    // keepalive_requests 2: it keeps a connection for two requests, then closes it.
    let servers = format!(
        "  server {{\n    listen 127.0.0.1:{closing};\n    keepalive_timeout 0;\n    location / {{ return 200 \"hello\\n\"; }}\n  }}\n\
           server {{\n    listen 127.0.0.1:{limited};\n    keepalive_requests 2;\n    location / {{ return 200 \"hello\\n\"; }}\n  }}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let Some(_nginx) = Nginx::start(test, dir, &servers, &[closing, limited]) else {
        return;
    };
    let url = format!("http://127.0.0.1:{closing}/");
    let (code, r) = probe_json(&[&url, "-n", "4", "--timeout", "5"]);
    expect_no_keepalive(
        code,
        &r,
        4,
        "HTTP/1.1",
        "every response says Connection: close",
    );
    // A server that keeps connections, but only for two requests: each timed request is the
    // second on its connection and says Connection: close; the connection is reopened, and
    // keep-alive still shows.
    let url = format!("http://127.0.0.1:{limited}/");
    let (code, r) = probe_json(&[&url, "-n", "4", "--timeout", "5"]);
    assert_eq!(code, 0, "{r:#}");
    let t = &r["targets"][0];
    let reused = &t["series"][1];
    assert_eq!(
        (reused["ok"].as_u64(), reused["failed"].as_u64()),
        (Some(4), Some(0)),
        "{reused}"
    );
    assert_eq!(reused["server_keeps_alive"], true, "{reused}");
    assert_eq!(reused["closing_responses"], 4, "{reused}");
    assert!(reused["phases"].get("connect").is_none(), "{reused}");
    assert!(
        reused["reconnects"].as_u64().unwrap() >= 3,
        "after each closing response the next request reconnects: {reused}"
    );
    let verdict = text(&t["verdict"], "text");
    assert!(
        verdict.contains("the server ended 4 kept-alive connections with Connection: close"),
        "{verdict}"
    );
}

/// A TLS server block on `port` presenting `cert`.
fn tls_server(port: u16, cert: &(PathBuf, PathBuf), extra: &str) -> String {
    format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl http2;\n    ssl_certificate {};\n    ssl_certificate_key {};\n    {extra}\n    location / {{ return 200 \"hello\\n\"; }}\n  }}\n",
        cert.0.display(),
        cert.1.display()
    )
}

/// Runs `hostperf probe ARGS -o json` and returns the exit code and the parsed report.
fn probe_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["probe", "-o", "json"];
    all.extend_from_slice(args);
    let out = hostperf(&all);
    let json: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", describe(&out)));
    (code(&out), json)
}

/// Probes https://localhost:PORT/ once on a new connection, trusting `ca`; asserts exit 1.
fn probe_failing(ca: &str, port: u16) -> (String, Value) {
    let url = format!("https://localhost:{port}/");
    let (code, r) = probe_json(&[&url, "--cacert", ca, "--connections", "new"]);
    assert_eq!(code, 1, "{r:#}");
    (url, r)
}

/// A string field, or "" when absent.
fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// Asserts the first failure's layer, class and (when given) TLS alert, and returns it.
fn expect_failure<'a>(
    report: &'a Value,
    layer: &str,
    class: &str,
    alert: Option<&str>,
) -> &'a Value {
    let f = &report["targets"][0]["failures"][0];
    assert_eq!(
        (f["layer"].as_str(), f["class"].as_str()),
        (Some(layer), Some(class)),
        "{report:#}"
    );
    if alert.is_some() {
        assert_eq!(f["alert"].as_str(), alert, "{f}");
    }
    f
}

/// One nginx with one TLS server; runs `check` with the CA file and the port.
fn with_tls_server(
    test: &str,
    pick: fn(&Pki) -> &(PathBuf, PathBuf),
    extra: &str,
    check: impl FnOnce(&str, u16),
) {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::make(dir.path());
    let port = free_port();
    let servers = tls_server(port, pick(&pki), extra);
    let ca = pki.ca.display().to_string();
    let Some(_nginx) = Nginx::start(test, dir, &servers, &[port]) else {
        return;
    };
    check(&ca, port);
}

#[test]
fn tls13_with_http2_succeeds_and_reports_the_session() {
    with_tls_server(
        "tls13_with_http2_succeeds_and_reports_the_session",
        |p| &p.good,
        "ssl_protocols TLSv1.3;",
        |ca, port| {
            let url = format!("https://localhost:{port}/");
            let (code, r) = probe_json(&[&url, "--cacert", ca, "-n", "3"]);
            let t = &r["targets"][0];
            assert_eq!(code, 0, "{r:#}");
            assert_eq!(r["schema_version"], 1);
            assert_eq!(t["success"], true);
            assert_eq!(t["status"], 200);
            assert_eq!(t["http_version"], "HTTP/2");
            let tls = &t["tls"];
            assert_eq!(tls["version"], "TLSv1.3");
            assert_eq!(tls["alpn"], "h2");
            assert!(
                tls["cipher"].as_str().unwrap().starts_with("TLS13_"),
                "{tls}"
            );
            assert_eq!(tls["sni"], "localhost");
            assert_eq!(
                (
                    tls["trusted"].as_bool(),
                    tls["name_matches"].as_bool(),
                    tls["expired"].as_bool()
                ),
                (Some(true), Some(true), Some(false))
            );
            let leaf = &tls["chain"][0];
            assert_eq!(leaf["issuer"], "CN=hostperf test CA");
            assert!(
                leaf["sans"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s == "127.0.0.1")
            );
            assert!(leaf["days_left"].as_f64().unwrap() > 300.0, "{leaf}");
            // Both series, with every phase a new connection has, and TCP facts.
            let new = &t["series"][0];
            let reused = &t["series"][1];
            assert_eq!(
                (new["connection"].as_str(), new["ok"].as_u64()),
                (Some("new"), Some(3))
            );
            assert_eq!(
                (reused["connection"].as_str(), reused["ok"].as_u64()),
                (Some("reused"), Some(3))
            );
            for phase in [
                "resolve",
                "connect",
                "tls",
                "processing",
                "transfer",
                "total",
            ] {
                assert!(
                    new["phases"][phase]["p50"].as_f64().unwrap() >= 0.0,
                    "{phase}: {new}"
                );
            }
            assert!(reused["phases"].get("connect").is_none());
            assert!(reused["phases"]["processing"]["p50"].as_f64().is_some());
            assert_eq!(new["tcp"]["connections"], 3);
            assert!(t["requests"][0]["tcp"]["rtt_us"].as_u64().is_some());
            assert!(t["clock_skew_seconds"].as_f64().unwrap().abs() < 5.0);
            assert!(
                t["verdict"]["text"]
                    .as_str()
                    .unwrap()
                    .contains("keep-alive saves"),
                "{}",
                t["verdict"]
            );

            // --http1.1 on the same server: ALPN http/1.1.
            let (code, r) =
                probe_json(&[&url, "--cacert", ca, "--http1.1", "--connections", "new"]);
            assert_eq!(code, 0, "{r:#}");
            assert_eq!(r["targets"][0]["http_version"], "HTTP/1.1");
            assert_eq!(r["targets"][0]["tls"]["alpn"], "http/1.1");

            // --resolve: a name no DNS knows, pinned to loopback, checked against the SAN.
            let pinned = format!("https://api.test:{port}/");
            let resolve = format!("api.test:{port}:127.0.0.1");
            let (code, r) = probe_json(&[
                &pinned,
                "--cacert",
                ca,
                "--resolve",
                &resolve,
                "--connections",
                "new",
            ]);
            assert_eq!(code, 0, "{r:#}");
            assert_eq!(r["targets"][0]["address"], format!("127.0.0.1:{port}"));
            assert_eq!(r["targets"][0]["tls"]["sni"], "api.test");
            assert!(
                r["targets"][0]["series"][0]["phases"]
                    .get("resolve")
                    .is_none(),
                "no lookup with --resolve"
            );

            // The table and Prometheus text.
            let out = hostperf(&["probe", &url, "--cacert", ca]);
            assert_eq!(code_of(&out), 0, "{}", describe(&out));
            let text = stdout(&out);
            for needle in [
                "TLSv1.3",
                "ALPN h2",
                "PHASE (ms)",
                "KEPT-ALIVE p50",
                "verdict: ",
            ] {
                assert!(text.contains(needle), "{needle} missing:\n{text}");
            }
            let out = hostperf(&["probe", &url, "--cacert", ca, "-o", "prometheus"]);
            let text = stdout(&out);
            assert!(text.contains(&format!("hostperf_probe_duration_seconds{{url=\"{url}\",connection=\"new\",phase=\"tls\",quantile=\"0.5\"}}")), "{text}");
            assert!(
                text.contains(&format!("hostperf_probe_success{{url=\"{url}\"}} 1")),
                "{text}"
            );
            assert!(text.contains("hostperf_probe_tls_info{"), "{text}");

            // --fail-over: a limit no request meets.
            let (code, r) = probe_json(&[&url, "--cacert", ca, "--fail-over", "0.001"]);
            assert_eq!(code, 1, "{r:#}");
            assert_eq!(r["targets"][0]["over_limit"], true);
            assert!(
                r["targets"][0]["verdict"]["text"]
                    .as_str()
                    .unwrap()
                    .contains("over --fail-over")
            );
        },
    );
}

/// `common::code`, for tests where a local `code` shadows it.
fn code_of(out: &std::process::Output) -> i32 {
    code(out)
}

#[test]
fn tls12_only_server_is_reported_as_tls12() {
    with_tls_server(
        "tls12_only_server_is_reported_as_tls12",
        |p| &p.good,
        "ssl_protocols TLSv1.2;",
        |ca, port| {
            let url = format!("https://127.0.0.1:{port}/");
            let (code, r) = probe_json(&[&url, "--cacert", ca, "--connections", "new"]);
            assert_eq!(code, 0, "{r:#}");
            let tls = &r["targets"][0]["tls"];
            assert_eq!(tls["version"], "TLSv1.2");
            assert!(
                tls["cipher"]
                    .as_str()
                    .unwrap()
                    .starts_with("TLS_ECDHE_ECDSA_"),
                "{tls}"
            );
            assert!(tls.get("sni").is_none(), "no SNI for an IP address");
            assert_eq!(tls["name_matches"], true, "the IP address is in the SANs");
        },
    );
}

#[test]
fn tls10_only_server_is_a_protocol_version_failure() {
    // OpenSSL 3 refuses TLS 1.0 at its default security level; @SECLEVEL=0 lets nginx offer it.
    let extra = "ssl_protocols TLSv1; ssl_ciphers DEFAULT:@SECLEVEL=0;";
    with_tls_server(
        "tls10_only_server_is_a_protocol_version_failure",
        |p| &p.good,
        extra,
        |ca, port| {
            let (_, r) = probe_failing(ca, port);
            let f = expect_failure(&r, "tls", "tls_protocol_version", Some("protocol_version"));
            assert!(text(f, "cause").contains("TLS 1.0"), "{f}");
            assert_eq!(r["targets"][0]["verdict"]["bottleneck"], "failed");
        },
    );
}

#[test]
fn expired_certificate_is_reported_and_inspected() {
    with_tls_server(
        "expired_certificate_is_reported_and_inspected",
        |p| &p.expired,
        "",
        |ca, port| {
            let (url, r) = probe_failing(ca, port);
            expect_failure(
                &r,
                "tls",
                "certificate_expired",
                Some("certificate_expired"),
            );
            let tls = &r["targets"][0]["tls"];
            assert_eq!(tls["expired"], true);
            assert_eq!(tls["trusted"], true, "expired, but from the trusted CA");
            assert_eq!(tls["name_matches"], true);
            assert!(
                tls["chain"][0]["days_left"].as_f64().unwrap() < -300.0,
                "{tls}"
            );
            assert_eq!(tls["chain"][0]["not_after"], "2021-01-01T00:00:00Z");
            // --insecure sends the request anyway; the certificate is still reported.
            let (code, r) = probe_json(&[&url, "--cacert", ca, "--connections", "new", "-k"]);
            assert_eq!(code, 0, "{r:#}");
            assert_eq!(r["targets"][0]["status"], 200);
            assert_eq!(r["targets"][0]["tls"]["expired"], true);
        },
    );
}

#[test]
fn certificate_for_another_name_is_a_name_mismatch() {
    with_tls_server(
        "certificate_for_another_name_is_a_name_mismatch",
        |p| &p.other_name,
        "",
        |ca, port| {
            let (url, r) = probe_failing(ca, port);
            expect_failure(
                &r,
                "tls",
                "certificate_name_mismatch",
                Some("bad_certificate"),
            );
            let tls = &r["targets"][0]["tls"];
            assert_eq!(
                (tls["name_matches"].as_bool(), tls["trusted"].as_bool()),
                (Some(false), Some(true))
            );
            assert_eq!(tls["chain"][0]["sans"][0], "other.example");
            // With --sni the server's name is asked for and checked: it passes.
            let (code, r) = probe_json(&[
                &url,
                "--cacert",
                ca,
                "--connections",
                "new",
                "--sni",
                "other.example",
            ]);
            assert_eq!(code, 0, "{r:#}");
            assert_eq!(r["targets"][0]["tls"]["checked_name"], "other.example");
        },
    );
}

#[test]
fn certificate_from_an_untrusted_ca_is_unknown_ca() {
    with_tls_server(
        "certificate_from_an_untrusted_ca_is_unknown_ca",
        |p| &p.untrusted,
        "",
        |ca, port| {
            let (_, r) = probe_failing(ca, port);
            let f = expect_failure(&r, "tls", "certificate_untrusted", Some("unknown_ca"));
            assert_eq!(f["alert_from"], "client", "{f}");
            let tls = &r["targets"][0]["tls"];
            assert_eq!(
                (tls["trusted"].as_bool(), tls["name_matches"].as_bool()),
                (Some(false), Some(true))
            );
            assert_eq!(tls["chain"][0]["issuer"], "CN=some other CA");
            assert!(tls["roots"].as_str().unwrap().starts_with("--cacert "));
        },
    );
}

#[test]
fn proxy_to_a_slow_upstream_is_a_gateway_timeout() {
    let test = "proxy_to_a_slow_upstream_is_a_gateway_timeout";
    // The upstream: a listener that never accepts. The kernel completes nginx's connection and
    // queues it; nginx sends the request and waits for an answer that never comes.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = upstream.local_addr().unwrap();
    let port = free_port();
    let servers = format!(
        "  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://{up};\n      proxy_read_timeout 1s;\n    }}\n  }}\n"
    );
    let Some(nginx) = Nginx::start(test, tempfile::tempdir().unwrap(), &servers, &[port]) else {
        return;
    };
    let url = format!("http://127.0.0.1:{port}/api");
    let (code, r) = probe_json(&[&url, "--connections", "new", "--timeout", "10"]);
    assert_eq!(code, 1, "{r:#}");
    let f = expect_failure(&r, "http", "gateway_timeout", None);
    assert_eq!(f["status"], 504, "{f}");
    assert!(text(f, "cause").contains("upstream is slow"), "{f}");
    assert!(text(f, "cause").contains("timeout is about 1 s"), "{f}");
    assert!(text(f, "next_step").contains("upstream timed out"), "{f}");
    assert!(
        text(f, "message").contains("nginx"),
        "the Server header: {f}"
    );
    // The processing phase is the proxy's read timeout.
    let processing = r["targets"][0]["series"][0]["phases"]["processing"]["p50"]
        .as_f64()
        .unwrap();
    assert!((0.9..3.0).contains(&processing), "processing {processing}");
    // HTTP/2 with prior knowledge to a server that speaks only HTTP/1.1 here.
    let (code, r) = probe_json(&[&url, "--connections", "new", "--http2"]);
    assert_eq!(code, 1, "{r:#}");
    let f = expect_failure(&r, "http", "http_protocol_error", None);
    assert!(text(f, "cause").contains("h2c"), "{f}");
    // And nginx says the same in its error log.
    let log = nginx.read("error.log");
    assert!(log.contains("upstream timed out"), "{log}");
    drop(upstream);
}

#[test]
fn full_accept_queue_is_a_connect_timeout() {
    // A listener with backlog 0 that never accepts: once its accept queue holds a connection,
    // the kernel drops further SYNs (tcp_conn_request), so connect() waits and times out.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    assert!(fillers.len() < 8, "the accept queue never filled");
    let url = format!("http://{addr}/");
    let (code, r) = probe_json(&[&url, "--connections", "new", "--timeout", "1"]);
    assert_eq!(code, 1, "{r:#}");
    let f = expect_failure(&r, "connect", "connect_timeout", None);
    assert!(text(f, "cause").contains("accept queue is full"), "{f}");
    let next = text(f, "next_step");
    assert!(
        next.contains("hostperf diagnose --check listen-overflow"),
        "{f}"
    );
}

#[test]
fn closed_port_is_refused() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let (code, r) = probe_json(&[&url, "--timeout", "2"]);
    assert_eq!(code, 1, "{r:#}");
    let f = expect_failure(&r, "connect", "connection_refused", None);
    assert!(
        text(f, "next_step").contains(&format!("sport = :{port}")),
        "{f}"
    );
    // Both series met it: the kept-alive series opens its connection first.
    assert_eq!(
        (f["new"].as_u64(), f["reused"].as_u64()),
        (Some(1), Some(1)),
        "{f}"
    );
    // Report files beside standard output.
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("probe.prom");
    let json = dir.path().join("probe.json");
    let out = hostperf(&[
        "probe",
        &url,
        "-o",
        "prometheus",
        "--output",
        &format!("prometheus={}", prom.display()),
        "--output",
        &format!("json={}", json.display()),
    ]);
    assert_eq!(code_of(&out), 1, "{}", describe(&out));
    assert_eq!(std::fs::read_to_string(&prom).unwrap(), stdout(&out));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(saved["targets"][0]["success"], false);
    assert!(
        stdout(&out).contains("class=\"connection_refused\""),
        "{}",
        describe(&out)
    );
}

#[test]
fn closed_ipv6_port_is_refused() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        skip(
            "closed_ipv6_port_is_refused",
            "no IPv6 loopback address (::1)",
        );
        return;
    };
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://[::1]:{port}/");
    let (code, r) = probe_json(&[&url, "--connections", "new", "--timeout", "2"]);
    assert_eq!(code, 1, "{r:#}");
    expect_failure(&r, "connect", "connection_refused", None);
    assert_eq!(r["targets"][0]["address"], format!("[::1]:{port}"));
}

#[test]
fn an_empty_system_bundle_is_said() {
    // SSL_CERT_FILE pointing at an empty file: rustls-native-certs finds no root.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("none.pem");
    std::fs::write(&empty, "").unwrap();
    let port = free_port();
    let out = Command::new(common::bin())
        .args([
            "probe",
            &format!("https://127.0.0.1:{port}/"),
            "--connections",
            "new",
            "-o",
            "json",
        ])
        .env("SSL_CERT_FILE", &empty)
        .env("SSL_CERT_DIR", dir.path())
        .output()
        .unwrap();
    let r: Value =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", describe(&out)));
    let notes = r["notes"].to_string();
    assert!(notes.contains("no CA certificates were found"), "{r:#}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["probe", "example.com"],
        vec!["probe", "ftp://example.com/"],
        vec!["probe", "http://x/", "--resolve", "x:80"],
        vec!["probe", "https://x/", "--cacert", "/nonexistent/ca.pem"],
        vec!["probe", "http://x/", "--count", "0"],
        vec!["probe", "http://x/", "--count", "99999999999"],
        vec!["probe", "http://x/", "--http1.1", "--http2"],
    ] {
        let out = hostperf(&args);
        assert_eq!(code(&out), 2, "{args:?}: {}", describe(&out));
    }
    // The limit stated is the real one, not the integer type's.
    let out = hostperf(&["probe", "http://x/", "--count", "99999999999"]);
    assert!(describe(&out).contains("1..=100000"), "{}", describe(&out));
}
