//! A probe result as diagnose-style findings, for `diagnose --url URL`: one for the
//! upstream-timeout row (is the server or what is behind it slow or failing?) and, for https,
//! one for the TLS handshake row. Pure: a `TargetReport` in, findings out.
//!
//! Thresholds: certificate notAfter warn under 20 days, critical under 3 (a common rule, as in
//! docs/diagnose.md); server processing warn from 100 ms (`model::SLOW_SERVER`); clock skew
//! warn from 60 s (`model::SKEW_WARN_SECS`).

use serde::Serialize;

use super::classify::Layer;
use super::model::{ConnKind, SKEW_WARN_SECS, SLOW_SERVER, TargetReport, ms};

/// Days before notAfter from which a certificate is a warning / critical.
pub const CERT_WARN_DAYS: f64 = 20.0;
pub const CERT_CRIT_DAYS: f64 = 3.0;

/// pass, warn, crit, or error (the probe could not get far enough to judge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    Pass,
    Warn,
    Crit,
    Error,
}

/// What the probe says about one diagnose row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeFinding {
    /// `upstream-timeout` or `tls-handshake`.
    pub id: &'static str,
    pub status: FindingStatus,
    pub summary: String,
    /// Facts, one per line, e.g. `processing p50 1004 ms (new connections)`.
    pub evidence: Vec<String>,
    /// The command a person runs to see it for themselves.
    pub confirm: String,
    pub remedy: String,
}

/// How diagnose presents a probe row: a title, what a user of the service sees, the
/// troubleshooting question it answers, and the log to read (like diagnose's own checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowWords {
    pub title: &'static str,
    pub symptom: &'static str,
    pub question: &'static str,
    pub log: &'static str,
}

/// The words for a finding id (`upstream-timeout`, `tls-handshake`); `None` for others.
pub fn row_words(id: &str) -> Option<RowWords> {
    match id {
        "upstream-timeout" => Some(RowWords {
            title: "Slow or failing upstream",
            symptom: "requests time out or end in 502/503/504 while the host itself looks idle",
            question: "Is latency caused by the network, this server, or what is behind it?",
            log: "the proxy's error log, e.g. /var/log/nginx/error.log (\"upstream timed out\" while reading the response header: the backend is slow; while connecting: it is down or its accept queue is full)",
        }),
        "tls-handshake" => Some(RowWords {
            title: "TLS handshake failure",
            symptom: "clients fail before any request is sent, with a certificate or protocol error",
            question: "Why do clients fail the TLS handshake?",
            log: "the server's error log, e.g. /var/log/nginx/error.log (SSL_do_handshake() failed ... with the alert)",
        }),
        _ => None,
    }
}

/// The findings for one probed URL: `upstream-timeout` always, `tls-handshake` for https.
pub fn findings(t: &TargetReport) -> Vec<ProbeFinding> {
    let mut out = vec![upstream(t)];
    if t.url.starts_with("https://") {
        out.push(tls(t));
    }
    out
}

fn curl_w(url: &str) -> String {
    format!(
        "curl -s -o /dev/null -w 'connect %{{time_connect}} tls %{{time_appconnect}} first byte %{{time_starttransfer}} total %{{time_total}} status %{{http_code}}\\n' '{url}'"
    )
}

fn before_http(t: &TargetReport) -> Option<ProbeFinding> {
    let g = t.failures.iter().find(|g| g.failure.layer < Layer::Http)?;
    Some(ProbeFinding {
        id: "",
        status: FindingStatus::Error,
        summary: format!(
            "could not be judged: the request failed before HTTP ({} at {})",
            g.failure.class,
            g.failure.layer.as_str()
        ),
        evidence: vec![g.failure.message.clone()],
        confirm: curl_w(&t.url),
        remedy: g.failure.next_step.clone(),
    })
}

fn upstream(t: &TargetReport) -> ProbeFinding {
    let id = "upstream-timeout";
    let http = t.failures.iter().find(|g| g.failure.layer == Layer::Http);
    if let Some(g) = http {
        let f = &g.failure;
        let mut evidence = vec![format!("{} of the requests: {}", g.count, f.message)];
        if let Some(s) = &t.server {
            evidence.push(format!("Server: {s}"));
        }
        let upstream_class = matches!(
            f.class.as_str(),
            "gateway_timeout"
                | "bad_gateway"
                | "service_unavailable"
                | "headers_timeout"
                | "body_timeout"
        );
        return ProbeFinding {
            id,
            status: if upstream_class || f.class == "server_error" {
                FindingStatus::Crit
            } else {
                FindingStatus::Warn
            },
            summary: format!("{}: {}", f.class, f.cause),
            evidence,
            confirm: if f.class == "gateway_timeout" {
                "grep 'upstream timed out' /var/log/nginx/error.log (or the proxy's error log)"
                    .into()
            } else {
                curl_w(&t.url)
            },
            remedy: f.next_step.clone(),
        };
    }
    if let Some(f) = before_http(t) {
        // For this row an upstream that cannot be reached at all is the worst answer, not
        // a missing one: nothing listens, or the SYN goes unanswered.
        return ProbeFinding {
            id,
            status: FindingStatus::Crit,
            summary: f
                .summary
                .replacen("could not be judged: ", "unreachable: ", 1),
            ..f
        };
    }
    let main = t
        .series
        .iter()
        .find(|s| s.connection == ConnKind::New)
        .or_else(|| t.series.first());
    let processing = main.and_then(|s| s.phases.get("processing"));
    let mut evidence = Vec::new();
    if let (Some(s), Some(st)) = (main, processing) {
        evidence.push(format!(
            "processing p50 {} ms, max {} ms ({} connections)",
            ms(st.p50),
            ms(st.max),
            s.connection.as_str()
        ));
    }
    evidence.push(t.verdict.text.clone());
    let slow = processing.is_some_and(|st| st.p50 >= SLOW_SERVER.as_secs_f64());
    ProbeFinding {
        id,
        status: if slow {
            FindingStatus::Warn
        } else {
            FindingStatus::Pass
        },
        summary: if slow {
            "the server answers slowly: the application or its upstream, not the network".into()
        } else {
            "the server answers promptly".into()
        },
        evidence,
        confirm: curl_w(&t.url),
        remedy: if slow {
            "look at the application's slow requests and the latency of what it calls (databases, upstream services)".into()
        } else {
            "none needed".into()
        },
    }
}

fn tls(t: &TargetReport) -> ProbeFinding {
    let id = "tls-handshake";
    let host_port = t
        .url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("");
    let name = t
        .tls
        .as_ref()
        .map(|r| r.checked_name.clone())
        .unwrap_or_default();
    let confirm =
        format!("openssl s_client -connect {host_port} -servername {name} -showcerts </dev/null");
    if let Some(g) = t.failures.iter().find(|g| g.failure.layer == Layer::Tls) {
        let f = &g.failure;
        let alert = f
            .alert
            .as_deref()
            .map(|a| format!(" (alert {a})"))
            .unwrap_or_default();
        return ProbeFinding {
            id,
            status: FindingStatus::Crit,
            summary: format!("{}{alert}: {}", f.message, f.cause),
            evidence: tls_evidence(t),
            confirm,
            remedy: f.next_step.clone(),
        };
    }
    if let Some(f) = before_http(t).filter(|_| t.tls.is_none()) {
        return ProbeFinding { id, ..f };
    }
    let Some(r) = &t.tls else {
        return ProbeFinding {
            id,
            status: FindingStatus::Error,
            summary: "no TLS handshake was made".into(),
            evidence: Vec::new(),
            confirm,
            remedy: "probe an https:// URL".into(),
        };
    };
    let days = r.days_left();
    let (status, summary, remedy) = if !r.trusted || !r.name_matches || r.expired {
        (
            FindingStatus::Crit,
            format!(
                "the certificate fails verification (sent anyway with --insecure): {}",
                [r.trust_error.as_deref(), r.name_error.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            "install a certificate for this name from a trusted CA, with its intermediates"
                .to_string(),
        )
    } else if let Some(d) = days.filter(|d| *d < CERT_CRIT_DAYS) {
        (
            FindingStatus::Crit,
            format!("a certificate of the chain expires in {d:.1} days"),
            "renew the certificate now and reload the server".to_string(),
        )
    } else if let Some(d) = days.filter(|d| *d < CERT_WARN_DAYS) {
        (
            FindingStatus::Warn,
            format!("a certificate of the chain expires in {d:.1} days"),
            "renew the certificate and reload the server; check that automatic renewal runs"
                .to_string(),
        )
    } else if let Some(s) = t.clock_skew_seconds.filter(|s| s.abs() >= SKEW_WARN_SECS) {
        (
            FindingStatus::Warn,
            format!("the server's clock differs from ours by {s:+.0} s"),
            "check time synchronisation (chronyc tracking, timedatectl) on both hosts".to_string(),
        )
    } else {
        (
            FindingStatus::Pass,
            format!(
                "{} {}, ALPN {}, certificate trusted and valid for {}{}",
                r.version.as_deref().unwrap_or("?"),
                r.cipher.as_deref().unwrap_or("?"),
                r.alpn.as_deref().unwrap_or("none"),
                r.checked_name,
                days.map(|d| format!(", {d:.0} days left"))
                    .unwrap_or_default()
            ),
            "none needed".to_string(),
        )
    };
    ProbeFinding {
        id,
        status,
        summary,
        evidence: tls_evidence(t),
        confirm,
        remedy,
    }
}

fn tls_evidence(t: &TargetReport) -> Vec<String> {
    let mut ev = Vec::new();
    if let Some(r) = &t.tls {
        if let Some(v) = &r.version {
            ev.push(format!(
                "{v} {}, ALPN {}",
                r.cipher.as_deref().unwrap_or(""),
                r.alpn.as_deref().unwrap_or("none")
            ));
        }
        if let Some(leaf) = r.chain.first() {
            ev.push(format!(
                "leaf {} issued by {}, notAfter {} ({} days)",
                leaf.subject, leaf.issuer, leaf.not_after, leaf.days_left
            ));
        }
        ev.push(format!(
            "trusted by {}: {}; valid for {}: {}",
            r.roots,
            if r.trusted { "yes" } else { "no" },
            r.checked_name,
            if r.name_matches { "yes" } else { "no" }
        ));
    }
    if let Some(s) = t.clock_skew_seconds {
        ev.push(format!(
            "server clock {} s against ours",
            super::render::signed_secs(s)
        ));
    }
    ev
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::classify::{Context, Problem, classify};
    use super::super::model::{Attempt, Phases, Series, Verdict, group_failures};
    use super::*;

    fn report(url: &str, attempts: Vec<Attempt>) -> TargetReport {
        let series = vec![Series::from_attempts(ConnKind::New, &attempts, None)];
        TargetReport {
            url: url.into(),
            address: None,
            http_version: None,
            status: None,
            server: None,
            success: true,
            over_limit: false,
            tls: None,
            clock_skew_seconds: None,
            keepalive_saving: None,
            failures: group_failures(&attempts),
            verdict: Verdict {
                bottleneck: "processing".into(),
                text: "v".into(),
            },
            series,
            notes: Vec::new(),
            requests: attempts,
        }
    }

    fn cx() -> Context<'static> {
        Context {
            host: "h",
            port: 443,
            server_name: "h",
            addr: None,
            local: false,
            timeout: Duration::from_secs(5),
            processing: Some(Duration::from_secs(1)),
            server: Some("nginx"),
            h2_prior_knowledge: false,
        }
    }

    #[test]
    fn a_504_is_a_critical_upstream_timeout() {
        let mut a = Attempt::new(0, ConnKind::New, 0, Duration::ZERO);
        a.failure = Some(classify(&Problem::Status { status: 504 }, &cx()));
        let f = findings(&report("http://h/", vec![a]));
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].id, f[0].status),
            ("upstream-timeout", FindingStatus::Crit)
        );
        assert!(f[0].confirm.contains("upstream timed out"));
        assert!(f[0].summary.starts_with("gateway_timeout"));
    }

    #[test]
    fn a_refused_connection_is_an_unreachable_upstream_and_no_tls_verdict() {
        let mut a = Attempt::new(0, ConnKind::New, 0, Duration::ZERO);
        a.failure = Some(classify(
            &Problem::Connect(std::io::Error::from_raw_os_error(libc::ECONNREFUSED)),
            &cx(),
        ));
        let f = findings(&report("https://h/", vec![a]));
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].id, "upstream-timeout");
        assert_eq!(f[0].status, FindingStatus::Crit, "{f:?}");
        assert!(f[0].summary.starts_with("unreachable"), "{f:?}");
        assert_eq!(f[1].status, FindingStatus::Error, "{f:?}");
    }

    #[test]
    fn a_slow_server_warns_and_a_fast_one_passes() {
        let mut a = Attempt::new(0, ConnKind::New, 0, Duration::ZERO);
        a.phases = Phases {
            processing: Some(0.25),
            ..Phases::default()
        };
        a.total_seconds = 0.25;
        let f = findings(&report("http://h/", vec![a.clone()]));
        assert_eq!(f[0].status, FindingStatus::Warn);
        a.phases.processing = Some(0.002);
        let f = findings(&report("http://h/", vec![a]));
        assert_eq!(f[0].status, FindingStatus::Pass);
    }

    #[test]
    fn tls_alerts_are_critical() {
        let mut a = Attempt::new(0, ConnKind::New, 0, Duration::ZERO);
        let e = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion),
        );
        a.failure = Some(classify(&Problem::Tls(e), &cx()));
        let f = findings(&report("https://h:8443/", vec![a]));
        assert_eq!(
            (f[1].id, f[1].status),
            ("tls-handshake", FindingStatus::Crit)
        );
        assert!(f[1].summary.contains("protocol_version"));
        assert!(f[1].confirm.starts_with("openssl s_client -connect h:8443"));
    }
}
