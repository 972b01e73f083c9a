//! Failures by layer (resolve, connect, tls, http), each with its likely cause and the next
//! step an operator takes. Pure: the connection code says what went wrong (`Problem`) and
//! where (`Context`); this module words it.
//!
//! Sources for the causes: a SYN to a listener with a full accept queue is dropped, not
//! refused (net/ipv4/tcp_input.c, tcp_conn_request); TLS alert names and meanings from RFC 8446
//! section 6.2; nginx's 502/504 messages and `proxy_read_timeout` (default 60 s) from its
//! ngx_http_proxy_module documentation; TLS 1.0/1.1 deprecated by RFC 8996.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rustls::{CertificateError, PeerIncompatible};
use serde::Serialize;

use super::tls::{alert_name, cert_error_text};

/// Where a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Resolve,
    Connect,
    Tls,
    Http,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Resolve => "resolve",
            Layer::Connect => "connect",
            Layer::Tls => "tls",
            Layer::Http => "http",
        }
    }
}

/// Who sent a TLS alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertFrom {
    /// The server sent it: it refused us.
    Server,
    /// We (rustls) refused the server and sent it.
    Client,
}

/// A classified failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub layer: Layer,
    /// Stable identifier, listed in docs/probe.md (e.g. `connect_timeout`, `tls_protocol_version`,
    /// `gateway_timeout`).
    pub class: String,
    /// The TLS alert's IANA name, when the failure is or causes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_from: Option<AlertFrom>,
    /// The HTTP status, for status failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What happened, with the underlying error.
    pub message: String,
    pub cause: String,
    pub next_step: String,
}

/// What went wrong, as the connection code saw it.
#[derive(Debug)]
pub enum Problem {
    Resolve(io::Error),
    ResolveTimeout,
    NoAddress,
    Connect(io::Error),
    ConnectTimeout,
    /// The handshake failed (tokio-rustls wraps rustls errors in io::Error).
    Tls(io::Error),
    TlsTimeout,
    /// The certificate failed verification (recorded by our verifier).
    Certificate(rustls::Error),
    /// `--http2` was asked for and the server did not pick h2 by ALPN.
    NoH2 {
        alpn: Option<String>,
    },
    /// The HTTP connection setup (h2 preface) failed.
    HttpSetup(hyper::Error),
    Status {
        status: u16,
    },
    HeadersTimeout,
    BodyTimeout {
        status: u16,
        bytes: u64,
    },
    /// hyper's error while sending or reading the response.
    Http(hyper::Error),
}

/// Where it happened.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub host: &'a str,
    pub port: u16,
    /// The name sent by SNI and checked in the certificate.
    pub server_name: &'a str,
    pub addr: Option<SocketAddr>,
    /// The address belongs to this host (loopback or a local interface).
    pub local: bool,
    pub timeout: Duration,
    /// Time from request sent to response headers, when known.
    pub processing: Option<Duration>,
    /// The Server header, when known.
    pub server: Option<&'a str>,
    /// HTTP/2 spoken over plain TCP without an upgrade (`--http2` on http://), and no
    /// response has come yet on this connection.
    pub h2_prior_knowledge: bool,
}

impl Context<'_> {
    fn addr_text(&self) -> String {
        self.addr
            .map(|a| a.to_string())
            .unwrap_or_else(|| format!("{}:{}", self.host, self.port))
    }

    fn ip_text(&self) -> String {
        self.addr
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| self.host.to_string())
    }

    fn s_client(&self) -> String {
        format!(
            "openssl s_client -connect {}:{} -servername {}",
            self.ip_text(),
            self.port,
            self.server_name
        )
    }
}

fn failure(layer: Layer, class: &str, message: String, cause: &str, next: String) -> Failure {
    Failure {
        layer,
        class: class.to_string(),
        alert: None,
        alert_from: None,
        status: None,
        message,
        cause: cause.to_string(),
        next_step: next,
    }
}

/// Words a problem.
pub fn classify(problem: &Problem, cx: &Context<'_>) -> Failure {
    let secs = |d: Duration| format_secs(d);
    match problem {
        Problem::Resolve(e) => resolve_failure(e, cx),
        Problem::ResolveTimeout => failure(
            Layer::Resolve,
            "resolve_timeout",
            format!("looking up {} took longer than {}", cx.host, secs(cx.timeout)),
            "the DNS server is slow or unreachable",
            format!(
                "dig {} and look at the query time; check the nameservers in /etc/resolv.conf",
                cx.host
            ),
        ),
        Problem::NoAddress => failure(
            Layer::Resolve,
            "name_not_found",
            format!("{} has no address", cx.host),
            "the name exists but has no A or AAAA record",
            format!("dig +short {0} A; dig +short {0} AAAA", cx.host),
        ),
        Problem::Connect(e) => connect_failure(e, cx),
        Problem::ConnectTimeout => connect_timeout(cx),
        Problem::Tls(e) => tls_failure(e, cx),
        Problem::TlsTimeout => failure(
            Layer::Tls,
            "tls_timeout",
            format!(
                "connected to {}, but the TLS handshake did not finish within the timeout",
                cx.addr_text()
            ),
            "the server accepted the connection but does not answer the ClientHello: an overloaded server (TLS handshakes are CPU-bound), a server that does not speak TLS on this port and waits for a request, or a middlebox holding the handshake",
            format!("{}; the server's CPU and its error log", cx.s_client()),
        ),
        Problem::Certificate(e) => certificate_failure(e, cx),
        Problem::NoH2 { alpn } => failure(
            Layer::Tls,
            "alpn_no_h2",
            format!(
                "--http2 was asked for, but the server chose {} by ALPN",
                alpn.as_deref().unwrap_or("no protocol")
            ),
            "the server does not offer HTTP/2 on this port (nginx: `http2` on the listen line)",
            "probe without --http2 to use HTTP/1.1, or enable HTTP/2 on the server".into(),
        ),
        Problem::HttpSetup(e) => failure(
            Layer::Http,
            "http_protocol_error",
            format!("the HTTP connection could not be set up: {}", error_chain(e)),
            "the server does not speak the HTTP version asked for on this port",
            "probe with --http1.1, or check the server's protocol configuration".into(),
        ),
        Problem::Status { status } => status_failure(*status, cx),
        Problem::HeadersTimeout => failure(
            Layer::Http,
            "headers_timeout",
            format!(
                "the request was sent, but no response headers came within the timeout ({})",
                secs(cx.timeout)
            ),
            "the application (or its upstream) is slow or stuck: the connection was up and the request was delivered, so the network did its part",
            "look for this request in the server's access log (request time) and the application's slow log; a proxy in front would answer 504 at its own timeout: a larger --timeout shows whether it does".into(),
        ),
        Problem::BodyTimeout { status, bytes } => Failure {
            status: Some(*status),
            ..failure(
                Layer::Http,
                "body_timeout",
                format!(
                    "response headers arrived (status {status}), but the body did not finish within the timeout ({} read)",
                    bytes_text(*bytes)
                ),
                "the server sends the body slowly or stalled mid-response (a slow upstream stream, a large body over a slow or lossy path)",
                format!(
                    "compare the body size with the time; look at the TCP retransmits and rtt in this report; ss -ti dst {}",
                    cx.ip_text()
                ),
            )
        },
        Problem::Http(e) => http_failure(e, cx),
    }
}

fn resolve_failure(e: &io::Error, cx: &Context<'_>) -> Failure {
    let text = e.to_string();
    // glibc's gai_strerror texts for EAI_NONAME and EAI_NODATA.
    if text.contains("Name or service not known")
        || text.contains("No address associated")
        || text.contains("nodename nor servname")
    {
        failure(
            Layer::Resolve,
            "name_not_found",
            format!("{}: no such name ({text})", cx.host),
            "the name does not exist in DNS (NXDOMAIN) or in /etc/hosts: a typo, or a missing record",
            format!(
                "dig {} (status NXDOMAIN confirms); getent hosts {}",
                cx.host, cx.host
            ),
        )
    } else {
        failure(
            Layer::Resolve,
            "resolve_failed",
            format!("looking up {} failed: {text}", cx.host),
            "the resolver could not be reached or answered with an error (SERVFAIL, timeout)",
            format!(
                "check the nameservers in /etc/resolv.conf; dig {} @NAMESERVER",
                cx.host
            ),
        )
    }
}

fn connect_failure(e: &io::Error, cx: &Context<'_>) -> Failure {
    let addr = cx.addr_text();
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => failure(
            Layer::Connect,
            "connection_refused",
            format!("{addr}: connection refused"),
            "nothing listens on this port (the kernel answered the SYN with a reset), or a firewall rejects the connection",
            if cx.local {
                format!(
                    "ss -ltnp 'sport = :{}' shows whether anything listens; start the service or fix the port",
                    cx.port
                )
            } else {
                format!(
                    "on {}: ss -ltnp 'sport = :{}'; check REJECT rules on the path",
                    cx.ip_text(),
                    cx.port
                )
            },
        ),
        Some(libc::EHOSTUNREACH | libc::ENETUNREACH) => failure(
            Layer::Connect,
            "unreachable",
            format!("{addr}: {e}"),
            "no route to the address (no local route, or a router answered ICMP unreachable)",
            format!("ip route get {}; ping {}", cx.ip_text(), cx.ip_text()),
        ),
        Some(libc::EADDRNOTAVAIL) => failure(
            Layer::Connect,
            "no_local_port",
            format!("{addr}: {e}"),
            "no free local port for this destination: the ephemeral range is used up (many TIME_WAIT sockets)",
            "hostperf diagnose --check port-exhaustion".into(),
        ),
        Some(libc::ETIMEDOUT) => connect_timeout(cx),
        _ => failure(
            Layer::Connect,
            "connect_failed",
            format!("{addr}: {e}"),
            "the connection could not be made",
            format!("ip route get {}; ss -tn dst {}", cx.ip_text(), cx.ip_text()),
        ),
    }
}

fn connect_timeout(cx: &Context<'_>) -> Failure {
    let message = format!(
        "{}: no answer to SYN within {}",
        cx.addr_text(),
        format_secs(cx.timeout)
    );
    let (cause, next) = if cx.local {
        (
            "the SYNs were dropped. This is this host: the listener's accept queue is full (the application does not accept connections as fast as they come, or its backlog is small), or a local firewall drops them",
            format!(
                "hostperf diagnose --check listen-overflow; ss -ltn 'sport = :{}' (Recv-Q at Send-Q means the accept queue is full); nstat -az TcpExtListenOverflows",
                cx.port
            ),
        )
    } else {
        (
            "the SYNs were dropped on the way or at the server: a firewall or security group that drops, a full accept queue on the server, or the host is down",
            format!(
                "on the server: hostperf diagnose --check listen-overflow; from here: traceroute -T -p {} {}",
                cx.port,
                cx.ip_text()
            ),
        )
    };
    failure(Layer::Connect, "connect_timeout", message, cause, next)
}

fn alert_failure(
    alert: String,
    from: AlertFrom,
    message: String,
    cause: &str,
    next: String,
) -> Failure {
    Failure {
        alert: Some(alert.clone()),
        alert_from: Some(from),
        ..failure(Layer::Tls, &format!("tls_{alert}"), message, cause, next)
    }
}

fn tls_failure(e: &io::Error, cx: &Context<'_>) -> Failure {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::AlertReceived(a)) => received_alert(alert_name(*a), cx),
        Some(rustls::Error::PeerIncompatible(p)) => {
            let version = matches!(
                p,
                PeerIncompatible::ServerDoesNotSupportTls12Or13
                    | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
                    | PeerIncompatible::SupportedVersionsExtensionRequired
                    | PeerIncompatible::Tls12NotOffered
                    | PeerIncompatible::Tls12NotOfferedOrEnabled
            );
            if version {
                alert_failure(
                    "protocol_version".into(),
                    AlertFrom::Client,
                    format!("the server chose a TLS version we do not speak ({p:?})"),
                    "the server offers only TLS 1.0 or 1.1, deprecated since 2021 (RFC 8996); this probe, like current browsers, speaks TLS 1.2 and 1.3",
                    format!(
                        "{} -tls1 (and -tls1_1) shows what it speaks; enable TLS 1.2 and 1.3 on the server (nginx: ssl_protocols TLSv1.2 TLSv1.3)",
                        cx.s_client()
                    ),
                )
            } else {
                alert_failure(
                    "handshake_failure".into(),
                    AlertFrom::Client,
                    format!("the server's handshake is incompatible with ours ({p:?})"),
                    "no cipher suite, key exchange group or signature algorithm in common",
                    format!(
                        "{}; compare the server's ssl_ciphers and ssl_protocols with TLS 1.2/1.3 suites",
                        cx.s_client()
                    ),
                )
            }
        }
        Some(rustls::Error::InvalidMessage(m)) => {
            let plain = matches!(m, rustls::InvalidMessage::InvalidContentType);
            if plain {
                failure(
                    Layer::Tls,
                    "not_tls",
                    format!(
                        "{}: the answer to our ClientHello is not TLS",
                        cx.addr_text()
                    ),
                    "the port speaks plain text (HTTP without TLS?)",
                    format!("try http://{}:{}/", cx.host, cx.port),
                )
            } else {
                alert_failure(
                    "decode_error".into(),
                    AlertFrom::Client,
                    format!("the server sent a malformed TLS message ({m:?})"),
                    "a broken TLS implementation or a middlebox that corrupts the handshake",
                    cx.s_client(),
                )
            }
        }
        Some(rustls::Error::InvalidCertificate(_)) => {
            certificate_failure(inner.expect("matched above"), cx)
        }
        Some(rustls::Error::NoApplicationProtocol) => {
            received_alert("no_application_protocol".into(), cx)
        }
        Some(other) => failure(
            Layer::Tls,
            "tls_failed",
            format!("TLS handshake with {} failed: {other}", cx.addr_text()),
            "the handshake broke off",
            cx.s_client(),
        ),
        None => match e.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => failure(
                Layer::Tls,
                "tls_closed",
                format!(
                    "{} closed the connection during the TLS handshake ({e})",
                    cx.addr_text()
                ),
                "the server refused the handshake without an alert (some servers close on an unknown SNI name or an unsupported version), the port does not speak TLS, or a middlebox cut the connection",
                cx.s_client(),
            ),
            _ => failure(
                Layer::Tls,
                "tls_failed",
                format!("TLS handshake with {} failed: {e}", cx.addr_text()),
                "the handshake broke off",
                cx.s_client(),
            ),
        },
    }
}

fn received_alert(name: String, cx: &Context<'_>) -> Failure {
    let s_client = cx.s_client();
    let (cause, next): (&str, String) = match name.as_str() {
        "protocol_version" => (
            "the server supports none of the TLS versions we offer (1.2 and 1.3): it probably speaks only TLS 1.0 or 1.1, deprecated since 2021 (RFC 8996)",
            format!(
                "{s_client} -tls1 (and -tls1_1) shows what it speaks; enable TLS 1.2 and 1.3 on the server (nginx: ssl_protocols TLSv1.2 TLSv1.3)"
            ),
        ),
        "handshake_failure" => (
            "no cipher suite, group or signature algorithm in common, or the server wants something we did not send (a client certificate, a known SNI name)",
            format!("{s_client}; compare the server's ssl_ciphers and ssl_protocols"),
        ),
        "unrecognized_name" => (
            "the server has no certificate for the name we sent by SNI",
            format!(
                "{s_client} with the name the server is configured for (server_name), or --sni NAME"
            ),
        ),
        "no_application_protocol" => (
            "the server speaks none of the HTTP versions we offered by ALPN",
            "probe without --http2 / --http1.1".into(),
        ),
        "certificate_required" | "bad_certificate" => (
            "the server requires a client certificate (mutual TLS), which the probe does not send",
            format!("{s_client} -cert CLIENT.pem -key CLIENT.key"),
        ),
        "internal_error" => (
            "the server failed during the handshake: usually a configuration it cannot serve, such as a protocol version enabled with no usable cipher (OpenSSL 3 needs @SECLEVEL=0 for TLS 1.0)",
            "the server's error log".into(),
        ),
        "insufficient_security" => (
            "the server requires stronger parameters than we offered",
            s_client.clone(),
        ),
        "access_denied" => (
            "the server refused this client by policy",
            "the server's access rules".into(),
        ),
        _ => (
            "the server ended the handshake with this alert",
            s_client.clone(),
        ),
    };
    alert_failure(
        name.clone(),
        AlertFrom::Server,
        format!("the server refused the TLS handshake: alert {name}"),
        cause,
        next,
    )
}

fn certificate_failure(e: &rustls::Error, cx: &Context<'_>) -> Failure {
    let next = format!(
        "{} -showcerts shows the chain; --insecure sends the request anyway",
        cx.s_client()
    );
    let (class, alert, message, cause) = match e {
        rustls::Error::InvalidCertificate(ce) => match ce {
            CertificateError::UnknownIssuer => (
                "certificate_untrusted",
                "unknown_ca",
                "the certificate does not chain to a trusted root".to_string(),
                "signed by a private or unknown CA, or the server does not send its intermediate certificates",
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
                "certificate_expired",
                "certificate_expired",
                "the certificate has expired".into(),
                "the certificate was not renewed, or the renewed one was not loaded (reload the server); or this host's clock is ahead",
            ),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
                "certificate_not_yet_valid",
                "certificate_expired",
                "the certificate is not valid yet".into(),
                "this host's clock is behind, or the certificate was issued with a future start date",
            ),
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                (
                    "certificate_name_mismatch",
                    "bad_certificate",
                    format!("the certificate is not valid for {}", cx.server_name),
                    "the server sent a certificate for other names: a wrong or default server block, a missing SNI name (--sni), or a certificate without this name in subjectAltName",
                )
            }
            CertificateError::Revoked => (
                "certificate_revoked",
                "certificate_revoked",
                "the certificate is revoked".into(),
                "the CA revoked it",
            ),
            _ => (
                "certificate_invalid",
                "bad_certificate",
                format!("the certificate is invalid: {}", cert_error_text(e)),
                "the certificate or its chain is malformed or uses an unsupported algorithm",
            ),
        },
        other => (
            "certificate_invalid",
            "bad_certificate",
            format!("the certificate is invalid: {}", cert_error_text(other)),
            "the certificate or its chain is malformed",
        ),
    };
    Failure {
        alert: Some(alert.into()),
        alert_from: Some(AlertFrom::Client),
        ..failure(Layer::Tls, class, message, cause, next)
    }
}

fn status_failure(status: u16, cx: &Context<'_>) -> Failure {
    let server = cx
        .server
        .map(|s| format!(" (Server: {s})"))
        .unwrap_or_default();
    let took = cx
        .processing
        .map(|d| format!(" after {}", format_secs(d)))
        .unwrap_or_default();
    let (class, cause, next): (&str, String, String) = match status {
        502 => (
            "bad_gateway",
            "this server is a proxy or gateway and its upstream failed (refused, reset, or answered with something that is not HTTP): the upstream is the problem, not this server or the network to it".into(),
            "the proxy's error log names the upstream: nginx logs \"connect() failed (111: Connection refused) while connecting to upstream\" or \"upstream prematurely closed connection\"; then probe the upstream directly".into(),
        ),
        503 => (
            "service_unavailable",
            "the server or its upstream pool refuses work: overloaded, in maintenance, rate limited (nginx limit_req and limit_conn answer 503), or no healthy upstream left".into(),
            "the Retry-After header; the proxy's error log (\"no live upstreams\"); the upstreams' health".into(),
        ),
        504 => {
            let hint = cx
                .processing
                .map(|d| {
                    format!(
                        " It answered{took}, so the proxy's timeout is about {} (nginx proxy_read_timeout, default 60 s).",
                        format_secs(round_to_timeout(d))
                    )
                })
                .unwrap_or_default();
            (
                "gateway_timeout",
                format!("the proxy gave up waiting for its upstream: the upstream is slow, not this server or the network to it.{hint}"),
                "look for \"upstream timed out (110: Connection timed out) while reading response header from upstream\" in the proxy's error log (nginx: error_log, /var/log/nginx/error.log by default): it names the upstream; then probe the upstream directly and look at its slow requests".into(),
            )
        }
        500..=599 => (
            "server_error",
            "the server failed while handling the request (an application error)".into(),
            "the application's error log for this request".into(),
        ),
        _ => (
            "client_error",
            "the server refused this request (wrong path, method, or missing credentials); the network and the server are up".into(),
            "check the URL; 401 and 403 need credentials the probe does not send".into(),
        ),
    };
    Failure {
        status: Some(status),
        ..failure(
            Layer::Http,
            class,
            format!("HTTP {status}{server}{took}"),
            &cause,
            next,
        )
    }
}

/// A proxy timeout is configured in whole seconds: 1.004 s -> 1 s.
fn round_to_timeout(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs_f64().round().max(1.0) as u64)
}

/// The error with its sources: hyper's own text is often just "http2 error".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn http_failure(e: &hyper::Error, cx: &Context<'_>) -> Failure {
    let text = error_chain(e);
    if cx.h2_prior_knowledge {
        failure(
            Layer::Http,
            "http_protocol_error",
            format!("HTTP/2 without TLS (prior knowledge) failed: {text}"),
            "the server does not speak HTTP/2 in clear text (h2c) on this port: --http2 over http:// sends the HTTP/2 preface straight away",
            "probe without --http2".into(),
        )
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        failure(
            Layer::Http,
            "connection_closed",
            format!("the server closed the connection before answering ({text})"),
            "a crashed or restarted worker, a request the server would not take, or a plain-text/TLS mix-up on this port",
            format!("the server's error log; curl -v {}:{}", cx.host, cx.port),
        )
    } else if e.is_parse() || e.is_parse_status() {
        failure(
            Layer::Http,
            "http_protocol_error",
            format!("the response is not valid HTTP ({text})"),
            "the port does not speak HTTP (or not this HTTP version), or a middlebox corrupted the response",
            format!("curl -v http://{}:{}/", cx.host, cx.port),
        )
    } else {
        failure(
            Layer::Http,
            "http_failed",
            format!("the request failed: {text}"),
            "the HTTP exchange broke off",
            "the server's error log".into(),
        )
    }
}

/// `1.5 s`, `250 ms`, `0.42 ms`.
pub fn format_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        let text = format!("{s:.1}");
        format!("{} s", text.trim_end_matches(".0"))
    } else if s >= 0.01 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{:.2} ms", s * 1000.0)
    }
}

fn bytes_text(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context {
            host: "api.example.com",
            port: 443,
            server_name: "api.example.com",
            addr: Some("10.0.0.5:443".parse().unwrap()),
            local: false,
            timeout: Duration::from_secs(5),
            processing: None,
            server: None,
            h2_prior_knowledge: false,
        }
    }

    #[test]
    fn refused_and_timeouts_point_at_the_right_place() {
        let f = classify(
            &Problem::Connect(io::Error::from_raw_os_error(libc::ECONNREFUSED)),
            &cx(),
        );
        assert_eq!(
            (f.layer, f.class.as_str()),
            (Layer::Connect, "connection_refused")
        );
        assert!(f.next_step.contains("on 10.0.0.5"));
        let mut local = cx();
        local.local = true;
        let f = classify(&Problem::ConnectTimeout, &local);
        assert_eq!(f.class, "connect_timeout");
        assert!(
            f.next_step
                .contains("hostperf diagnose --check listen-overflow")
        );
        assert!(f.cause.contains("accept queue is full"));
        let f = classify(
            &Problem::Connect(io::Error::from_raw_os_error(libc::ETIMEDOUT)),
            &cx(),
        );
        assert_eq!(f.class, "connect_timeout");
        assert!(f.next_step.contains("traceroute"));
    }

    #[test]
    fn tls_alerts_are_named() {
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion),
        );
        let f = classify(&Problem::Tls(e), &cx());
        assert_eq!(f.class, "tls_protocol_version");
        assert_eq!(f.alert.as_deref(), Some("protocol_version"));
        assert_eq!(f.alert_from, Some(AlertFrom::Server));
        assert!(f.cause.contains("TLS 1.0"));
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13),
        );
        let f = classify(&Problem::Tls(e), &cx());
        assert_eq!(
            (f.class.as_str(), f.alert_from),
            ("tls_protocol_version", Some(AlertFrom::Client))
        );
        let e = io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof");
        assert_eq!(classify(&Problem::Tls(e), &cx()).class, "tls_closed");
        let e = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        assert_eq!(classify(&Problem::Tls(e), &cx()).class, "not_tls");
    }

    #[test]
    fn certificates() {
        let cert = |ce| Problem::Certificate(rustls::Error::InvalidCertificate(ce));
        let f = classify(&cert(CertificateError::UnknownIssuer), &cx());
        assert_eq!(
            (f.class.as_str(), f.alert.as_deref()),
            ("certificate_untrusted", Some("unknown_ca"))
        );
        let f = classify(&cert(CertificateError::Expired), &cx());
        assert_eq!(
            (f.class.as_str(), f.alert.as_deref()),
            ("certificate_expired", Some("certificate_expired"))
        );
        let f = classify(&cert(CertificateError::NotValidForName), &cx());
        assert_eq!(f.class, "certificate_name_mismatch");
        assert!(f.message.contains("api.example.com"));
    }

    #[test]
    fn gateway_statuses_blame_the_upstream() {
        let mut c = cx();
        c.processing = Some(Duration::from_millis(1004));
        c.server = Some("nginx/1.22.1");
        let f = classify(&Problem::Status { status: 504 }, &c);
        assert_eq!(
            (f.layer, f.class.as_str(), f.status),
            (Layer::Http, "gateway_timeout", Some(504))
        );
        assert!(f.cause.contains("timeout is about 1 s"), "{}", f.cause);
        assert!(f.next_step.contains("upstream timed out"));
        assert!(f.message.contains("nginx/1.22.1"));
        for (status, class) in [
            (502, "bad_gateway"),
            (503, "service_unavailable"),
            (500, "server_error"),
            (404, "client_error"),
        ] {
            assert_eq!(classify(&Problem::Status { status }, &c).class, class);
        }
    }

    #[test]
    fn resolver_texts() {
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(
            classify(&Problem::Resolve(e), &cx()).class,
            "name_not_found"
        );
        let e = io::Error::other(
            "failed to lookup address information: Temporary failure in name resolution",
        );
        assert_eq!(
            classify(&Problem::Resolve(e), &cx()).class,
            "resolve_failed"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_secs(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(format_secs(Duration::from_secs(2)), "2 s");
        assert_eq!(format_secs(Duration::from_millis(250)), "250 ms");
        assert_eq!(format_secs(Duration::from_micros(420)), "0.42 ms");
    }
}
