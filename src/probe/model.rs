//! What a probe returns: every request with its phases, per-series percentiles, TLS facts,
//! failures grouped by class, and the verdict. Pure: built from the requests, no I/O.
//!
//! Phases are durations, blackbox_exporter's names: `resolve` (DNS), `connect` (TCP
//! handshake), `tls` (TLS handshake), `processing` (request sent to response headers: server
//! time plus one round trip), `transfer` (headers to the end of the body). curl's `-w` stamps
//! are cumulative; these are the differences (connect = time_connect - time_namelookup, tls =
//! time_appconnect - time_connect, processing = time_starttransfer - time_appconnect (or
//! time_connect for http; curl stamps time_pretransfer only after it has written the request),
//! transfer = time_total - time_starttransfer).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::classify::{Failure, format_secs};
use super::tcp_info::TcpInfo;
use super::tls::CertFacts;

/// JSON schema version of [`ProbeReport`] (docs/probe.md).
pub const SCHEMA_VERSION: u32 = 1;

/// The phase names, in order.
pub const PHASES: [&str; 5] = ["resolve", "connect", "tls", "processing", "transfer"];

/// A processing time from which the verdict calls the application "slow" rather than "the
/// larger part" (a common latency budget for an API call; not a published standard).
pub const SLOW_SERVER: Duration = Duration::from_millis(100);
/// A median total under which nothing is called slow: on loopback or in one rack, the split
/// between a 0.1 ms connect and a 0.1 ms answer says nothing about network or application.
pub const FAST_TOTAL: Duration = Duration::from_millis(5);
/// Clock skew from which the report warns: minutes of skew make certificates look expired or
/// not yet valid near their dates and break signed URLs and one-time codes. Date has
/// one-second resolution, so anything under a few seconds is noise.
pub const SKEW_WARN_SECS: f64 = 60.0;

/// New connection per request, or a kept-alive one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConnKind {
    New,
    Reused,
}

impl ConnKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnKind::New => "new",
            ConnKind::Reused => "reused",
        }
    }
}

/// Phase durations of one request in seconds; `None` when the phase did not happen (no lookup
/// for an IP address, no TLS for http://, nothing but processing and transfer on a reused
/// connection, or the request failed before it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Phases {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolve: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer: Option<f64>,
}

impl Phases {
    /// A phase by name (one of [`PHASES`]).
    pub fn get(&self, phase: &str) -> Option<f64> {
        match phase {
            "resolve" => self.resolve,
            "connect" => self.connect,
            "tls" => self.tls,
            "processing" => self.processing,
            "transfer" => self.transfer,
            _ => None,
        }
    }
}

/// One request.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Attempt {
    /// Index within its series, from 0.
    pub seq: u32,
    pub connection: ConnKind,
    /// Which connection carried it (several requests share one when reused).
    pub connection_id: u32,
    /// Seconds from the start of the probe to the start of this request.
    pub started_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    pub phases: Phases,
    /// Wall time of the request, seconds.
    pub total_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The version the server answered with (`HTTP/1.0`, `HTTP/1.1`, `HTTP/2`); without a
    /// response, the version spoken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    /// Whether the response let the connection carry another request: false for
    /// `Connection: close`, or HTTP/1.0 without `Connection: keep-alive` (RFC 9112 section
    /// 9.3). Absent without a response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<u64>,
    /// The server's Date minus our clock when the headers arrived, seconds (Date has
    /// one-second resolution).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_skew_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// TCP_INFO after the response (or the failure), when the socket was connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

impl Attempt {
    pub fn new(seq: u32, connection: ConnKind, connection_id: u32, started: Duration) -> Self {
        Attempt {
            seq,
            connection,
            connection_id,
            started_seconds: started.as_secs_f64(),
            address: None,
            phases: Phases::default(),
            total_seconds: 0.0,
            status: None,
            http_version: None,
            keep_alive: None,
            body_bytes: None,
            clock_skew_seconds: None,
            server: None,
            tcp: None,
            failure: None,
        }
    }
}

/// Percentiles of one phase over the successful requests of a series, seconds. Nearest-rank
/// on the sorted samples (exact, not interpolated).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Stats {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub samples: usize,
}

impl Stats {
    /// `None` for no samples.
    pub fn of(mut samples: Vec<f64>) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let n = samples.len();
        let rank = |q: f64| {
            let r = (q * n as f64).ceil() as usize;
            samples[r.clamp(1, n) - 1]
        };
        Some(Stats {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: samples[n - 1],
            samples: n,
        })
    }
}

/// TCP facts over the connections of a series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TcpSummary {
    pub connections: u32,
    /// Median smoothed RTT (tcpi_rtt), seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_p50_seconds: Option<f64>,
    /// Lowest tcpi_min_rtt seen, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rtt_seconds: Option<f64>,
    /// tcpi_total_retrans summed over the connections (each counted once, at its last read).
    pub retransmits: u64,
}

/// One series: new connections, or kept-alive ones.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Series {
    pub connection: ConnKind,
    pub requests: u32,
    pub ok: u32,
    pub failed: u32,
    /// Per phase: every request that completed the phase (a 504 still has its connect and
    /// processing times); `total`: every request that got a response.
    pub phases: BTreeMap<String, Stats>,
    pub tcp: TcpSummary,
    /// Kept-alive series: connections the server closed that had to be opened again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconnects: Option<u32>,
    /// Kept-alive series: responses that said the server closes the connection after them
    /// (`Connection: close`, or HTTP/1.0 without `Connection: keep-alive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closing_responses: Option<u32>,
    /// Kept-alive series: false when the server closed every connection after its first
    /// response, so each request of the series went over a new connection of its own (it
    /// then has connect and TLS phases, and shows nothing of keep-alive). Absent when no
    /// request was answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_keeps_alive: Option<bool>,
}

impl Series {
    pub fn from_attempts(kind: ConnKind, attempts: &[Attempt], reconnects: Option<u32>) -> Series {
        let mine: Vec<&Attempt> = attempts.iter().filter(|a| a.connection == kind).collect();
        let ok: Vec<&&Attempt> = mine.iter().filter(|a| a.failure.is_none()).collect();
        let mut phases = BTreeMap::new();
        for phase in PHASES {
            if let Some(s) = Stats::of(mine.iter().filter_map(|a| a.phases.get(phase)).collect()) {
                phases.insert(phase.to_string(), s);
            }
        }
        let answered: Vec<&&Attempt> = mine.iter().filter(|a| a.status.is_some()).collect();
        // Kept-alive series only. A request measured on a connection it opened itself has a
        // connect phase; one on a kept connection has none.
        let (closing_responses, server_keeps_alive) = match reconnects {
            None => (None, None),
            Some(_) => {
                let closing = mine.iter().filter(|a| a.keep_alive == Some(false)).count();
                let own = answered
                    .iter()
                    .filter(|a| a.keep_alive == Some(false) && a.phases.connect.is_some())
                    .count();
                (
                    Some(closing as u32),
                    (!answered.is_empty()).then_some(own < answered.len()),
                )
            }
        };
        if let Some(s) = Stats::of(answered.iter().map(|a| a.total_seconds).collect()) {
            phases.insert("total".to_string(), s);
        }
        let mut last: BTreeMap<u32, TcpInfo> = BTreeMap::new();
        for a in &mine {
            if let Some(t) = a.tcp {
                last.insert(a.connection_id, t);
            }
        }
        let rtts = Stats::of(
            mine.iter()
                .filter_map(|a| a.tcp.map(|t| f64::from(t.rtt_us) / 1e6))
                .collect(),
        );
        let tcp = TcpSummary {
            connections: last.len() as u32,
            rtt_p50_seconds: rtts.map(|s| s.p50),
            min_rtt_seconds: last
                .values()
                .filter_map(|t| t.min_rtt_us)
                .min()
                .map(|us| f64::from(us) / 1e6),
            retransmits: last.values().map(|t| u64::from(t.total_retrans)).sum(),
        };
        Series {
            connection: kind,
            requests: mine.len() as u32,
            ok: ok.len() as u32,
            failed: (mine.len() - ok.len()) as u32,
            phases,
            tcp,
            reconnects,
            closing_responses,
            server_keeps_alive,
        }
    }

    pub fn p50(&self, phase: &str) -> Option<f64> {
        self.phases.get(phase).map(|s| s.p50)
    }

    /// A kept-alive series in which the server kept no connection for a second request.
    pub fn server_closes_every_connection(&self) -> bool {
        self.server_keeps_alive == Some(false)
    }
}

/// Facts of the TLS session and the presented certificate chain (from the first handshake
/// that got as far as the certificate).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TlsReport {
    /// `TLSv1.3`; absent when the handshake did not finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// IANA suite name, e.g. `TLS13_AES_256_GCM_SHA384`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// The protocol the server picked by ALPN (`h2`, `http/1.1`), absent when it picked none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// The name sent by SNI; absent for an IP address (no SNI is sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// The name the certificate was checked against.
    pub checked_name: String,
    /// The roots judged against.
    pub roots: String,
    /// The chain leads to one of the roots (judged at a time inside the leaf's validity).
    pub trusted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_error: Option<String>,
    pub name_matches: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_error: Option<String>,
    /// The leaf is outside its validity period now.
    pub expired: bool,
    /// Leaf first.
    pub chain: Vec<CertFacts>,
}

impl TlsReport {
    /// Days until the first notAfter of the chain.
    pub fn days_left(&self) -> Option<f64> {
        self.chain
            .iter()
            .map(|c| c.days_left)
            .min_by(f64::total_cmp)
    }
}

/// Failures of one class, with the first one in full.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FailureGroup {
    pub count: u32,
    /// Of `count`, on new connections and on kept-alive ones (a kept-alive series opens its
    /// connections first, so a connect or TLS failure shows there too).
    pub new: u32,
    pub reused: u32,
    #[serde(flatten)]
    pub failure: Failure,
}

/// The answer to "is it the network or the application?".
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Verdict {
    /// `resolve`, `connect`, `tls`, `processing`, `transfer` (where the time goes), `none`
    /// (everything under 5 ms), or `failed` (see `failures`).
    pub bottleneck: String,
    pub text: String,
}

/// What keep-alive saves per request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct KeepAliveSaving {
    pub seconds: f64,
    /// Of the new-connection median total.
    pub ratio: f64,
}

/// Everything about one URL.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TargetReport {
    pub url: String,
    /// The address of the first connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// True when every request succeeded.
    pub success: bool,
    /// True when a series' median total is over --fail-over.
    pub over_limit: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsReport>,
    /// Median of the requests' clock skews, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_skew_seconds: Option<f64>,
    pub series: Vec<Series>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive_saving: Option<KeepAliveSaving>,
    pub failures: Vec<FailureGroup>,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub requests: Vec<Attempt>,
}

/// What the probe was asked, echoed in the report.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Settings {
    pub count: u32,
    pub concurrency: u32,
    pub interval_seconds: f64,
    pub timeout_seconds: f64,
    /// `auto`, `http1.1` or `http2`.
    pub http: &'static str,
    /// `new`, `reused` or `both`.
    pub connections: &'static str,
    pub method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_over_seconds: Option<f64>,
    pub insecure: bool,
}

/// The whole report (JSON output; docs/probe.md describes every field).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ProbeReport {
    pub schema_version: u32,
    pub hostperf_version: &'static str,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub settings: Settings,
    pub targets: Vec<TargetReport>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl ProbeReport {
    /// 0 when every target succeeded within the limit, else 1.
    pub fn exit_code(&self) -> u8 {
        if self.targets.iter().all(|t| t.success && !t.over_limit) {
            crate::exit::OK
        } else {
            crate::exit::FAILED
        }
    }
}

/// Groups failures by (layer, class, status, alert), first seen first.
pub fn group_failures(attempts: &[Attempt]) -> Vec<FailureGroup> {
    let mut groups: Vec<FailureGroup> = Vec::new();
    for a in attempts {
        let Some(f) = &a.failure else { continue };
        let same = |g: &&mut FailureGroup| {
            g.failure.layer == f.layer
                && g.failure.class == f.class
                && g.failure.status == f.status
                && g.failure.alert == f.alert
        };
        let g = match groups.iter_mut().position(|g| same(&g)) {
            Some(i) => &mut groups[i],
            None => {
                groups.push(FailureGroup {
                    count: 0,
                    new: 0,
                    reused: 0,
                    failure: f.clone(),
                });
                groups.last_mut().expect("just pushed")
            }
        };
        g.count = g.count.saturating_add(1);
        match a.connection {
            ConnKind::New => g.new = g.new.saturating_add(1),
            ConnKind::Reused => g.reused = g.reused.saturating_add(1),
        }
    }
    groups
}

/// What keep-alive saves: new-connection median total minus reused median total. `None`
/// when the server kept no connection alive (both series then measured new connections).
pub fn keepalive_saving(series: &[Series]) -> Option<KeepAliveSaving> {
    let new = series
        .iter()
        .find(|s| s.connection == ConnKind::New)?
        .p50("total")?;
    let reused = series
        .iter()
        .find(|s| s.connection == ConnKind::Reused)
        .filter(|s| !s.server_closes_every_connection())?
        .p50("total")?;
    let seconds = new - reused;
    Some(KeepAliveSaving {
        seconds,
        ratio: if new > 0.0 { seconds / new } else { 0.0 },
    })
}

/// Milliseconds with three significant digits or so: `0.052`, `1.23`, `180`.
pub fn ms(secs: f64) -> String {
    let ms = secs * 1000.0;
    if ms.abs() < 1.0 {
        format!("{ms:.3}")
    } else if ms.abs() < 10.0 {
        format!("{ms:.2}")
    } else if ms.abs() < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// The verdict: failures first; otherwise where the time goes, from the medians of the
/// new-connection series (the reused one when only that ran).
///
/// Rule: the network's share is one round trip per exchange (connect is one round trip; the
/// kernel's RTT when no connect was timed). The server's own time is processing minus one
/// round trip. The phase with the largest median is the bottleneck, except that processing
/// counts as the application's only when the server's own time is at least the round trip
/// (otherwise the network dominates processing too). A median total under 5 ms is "fast",
/// with no bottleneck named. Retransmits, keep-alive savings, and a server that closes
/// kept-alive connections by `Connection: close` or by answering HTTP/1.0 (`http_version`,
/// the first answered request's) are added as facts.
pub fn verdict(
    series: &[Series],
    failures: &[FailureGroup],
    fail_over: Option<Duration>,
    http_version: Option<&str>,
) -> Verdict {
    let total_requests: u32 = series.iter().map(|s| s.requests).sum();
    if let Some(worst) = failures
        .iter()
        .max_by_key(|g| (g.count, std::cmp::Reverse(g.failure.layer)))
    {
        let failed: u32 = failures.iter().map(|g| g.count).sum();
        let f = &worst.failure;
        let mut text = format!(
            "{failed} of {total_requests} requests failed; {} at {}: {}",
            if failures.len() > 1 { "mostly" } else { "all" },
            f.layer.as_str(),
            f.message
        );
        let _ = write!(text, ": {}", first_clause(&f.cause));
        return Verdict {
            bottleneck: "failed".into(),
            text,
        };
    }
    let Some(main) = series
        .iter()
        .find(|s| s.connection == ConnKind::New)
        .or_else(|| series.first())
    else {
        return Verdict {
            bottleneck: "none".into(),
            text: "no requests were made".into(),
        };
    };
    let p = |phase: &str| main.p50(phase).unwrap_or(0.0);
    let rtt = main
        .p50("connect")
        .or(main.tcp.min_rtt_seconds)
        .or(main.tcp.rtt_p50_seconds)
        .unwrap_or(0.0);
    let mut parts = Vec::new();
    for (phase, label) in [
        ("resolve", "DNS"),
        ("connect", "connect"),
        ("tls", "TLS"),
        ("processing", "server"),
        ("transfer", "transfer"),
    ] {
        if let Some(v) = main.p50(phase) {
            parts.push(format!("{label} {} ms", ms(v)));
        }
    }
    let mut bottleneck = PHASES
        .iter()
        .copied()
        .max_by(|a, b| p(a).total_cmp(&p(b)))
        .unwrap_or("processing");
    let server_own = (p("processing") - rtt).max(0.0);
    let total = main.p50("total").unwrap_or(0.0);
    let mut explain = match bottleneck {
        _ if total < FAST_TOTAL.as_secs_f64() => {
            bottleneck = "none";
            format!(
                "fast: {} ms in all, neither the network nor the application is slow",
                ms(total)
            )
        }
        "processing" if server_own >= rtt => {
            if p("processing") >= SLOW_SERVER.as_secs_f64() {
                "the application or its upstream is slow, not the network".to_string()
            } else {
                "most of the time is the application's (or its upstream's), not the network's".to_string()
            }
        }
        "processing" | "connect" => {
            bottleneck = "connect";
            format!(
                "the network takes most of the time (round trip {} ms); the server answers in {} ms",
                ms(rtt),
                ms(server_own)
            )
        }
        "tls" => "the TLS handshake takes most of the time (round trips plus key exchange): keep-alive or session resumption avoids it".into(),
        "resolve" => "name resolution takes most of the time: a slow resolver (a local cache such as systemd-resolved or nscd helps)".into(),
        _ => "the body transfer takes most of the time: body size over bandwidth, a lossy path, or a server that streams slowly".into(),
    };
    if main.tcp.retransmits > 0 {
        let _ = write!(
            explain,
            "; {} TCP retransmits on {} connections: packet loss on the path",
            main.tcp.retransmits, main.tcp.connections
        );
    }
    if let Some(closing) = keepalive_note(series, http_version) {
        let _ = write!(explain, "; {closing}");
    }
    if let Some(saving) = keepalive_saving(series).filter(|s| s.seconds > 0.0) {
        let _ = write!(
            explain,
            "; keep-alive saves {} ms per request ({:.0} %)",
            ms(saving.seconds),
            saving.ratio * 100.0
        );
    }
    let mut text = format!("{}: {explain}", parts.join(", "));
    if let Some(limit) = fail_over {
        let worst = series
            .iter()
            .filter_map(|s| s.p50("total"))
            .fold(0.0, f64::max);
        if worst > limit.as_secs_f64() {
            text = format!(
                "median total {} ms is over --fail-over {} ms; {text}",
                ms(worst),
                ms(limit.as_secs_f64())
            );
        }
    }
    Verdict {
        bottleneck: bottleneck.to_string(),
        text,
    }
}

/// What the verdict says when the server closed kept-alive connections by announcing it.
fn keepalive_note(series: &[Series], http_version: Option<&str>) -> Option<String> {
    let reused = series.iter().find(|s| s.connection == ConnKind::Reused)?;
    let closing = reused.closing_responses.filter(|n| *n > 0)?;
    if reused.server_closes_every_connection() {
        let why = if http_version == Some("HTTP/1.0") {
            "it answers HTTP/1.0 without Connection: keep-alive"
        } else {
            "every response says Connection: close"
        };
        Some(format!(
            "the server does not keep connections alive ({why}): each kept-alive request opened a new connection, so the kept-alive series measured new connections too"
        ))
    } else {
        Some(format!(
            "the server ended {closing} kept-alive connections with Connection: close; they were reopened (nginx does so after keepalive_requests requests)"
        ))
    }
}

/// True when a series' median total is over the limit.
pub fn over_limit(series: &[Series], fail_over: Option<Duration>) -> bool {
    fail_over.is_some_and(|limit| {
        series
            .iter()
            .filter_map(|s| s.p50("total"))
            .any(|t| t > limit.as_secs_f64())
    })
}

/// Median of the requests' clock skews.
pub fn median_skew(attempts: &[Attempt]) -> Option<f64> {
    Stats::of(
        attempts
            .iter()
            .filter_map(|a| a.clock_skew_seconds)
            .collect(),
    )
    .map(|s| s.p50)
}

/// Notes about the TLS facts and the clock, for the report and the diagnose finding.
pub fn tls_notes(tls: Option<&TlsReport>, skew: Option<f64>) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(skew) = skew.filter(|s| s.abs() >= SKEW_WARN_SECS) {
        notes.push(format!(
            "the server's clock is {} {} ours (Date header): one of the two clocks is wrong; certificate validity and signed URLs depend on it",
            format_secs(Duration::from_secs_f64(skew.abs())),
            if skew > 0.0 { "ahead of" } else { "behind" }
        ));
    }
    if let Some(days) = tls
        .and_then(TlsReport::days_left)
        .filter(|d| *d >= 0.0 && *d < 20.0)
    {
        notes.push(format!(
            "a certificate of the chain expires in {days:.1} days"
        ));
    }
    notes
}

fn first_clause(text: &str) -> &str {
    text.split([':', ';']).next().unwrap_or(text).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(conn: ConnKind, id: u32, phases: Phases) -> Attempt {
        let total = PHASES.iter().filter_map(|p| phases.get(p)).sum();
        Attempt {
            phases,
            total_seconds: total,
            status: Some(200),
            ..Attempt::new(id, conn, id, Duration::ZERO)
        }
    }

    fn new_phases(connect: f64, tls: f64, processing: f64) -> Phases {
        Phases {
            resolve: None,
            connect: Some(connect),
            tls: Some(tls),
            processing: Some(processing),
            transfer: Some(0.0001),
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let s = Stats::of((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!((s.p50, s.p90, s.p99, s.max), (50.0, 90.0, 99.0, 100.0));
        let s = Stats::of(vec![3.0]).unwrap();
        assert_eq!((s.p50, s.p99), (3.0, 3.0));
        assert!(Stats::of(vec![]).is_none());
    }

    #[test]
    fn a_slow_application_is_named() {
        let attempts: Vec<Attempt> = (0..5)
            .map(|i| ok(ConnKind::New, i, new_phases(0.0003, 0.0021, 0.180)))
            .collect();
        let series = vec![Series::from_attempts(ConnKind::New, &attempts, None)];
        let v = verdict(&series, &[], None, None);
        assert_eq!(v.bottleneck, "processing");
        assert!(
            v.text
                .starts_with("connect 0.300 ms, TLS 2.10 ms, server 180 ms"),
            "{}",
            v.text
        );
        assert!(
            v.text
                .contains("the application or its upstream is slow, not the network")
        );
    }

    #[test]
    fn a_far_network_is_named() {
        let attempts = vec![ok(ConnKind::New, 0, new_phases(0.080, 0.170, 0.082))];
        let series = vec![Series::from_attempts(ConnKind::New, &attempts, None)];
        let v = verdict(&series, &[], None, None);
        assert_eq!(v.bottleneck, "tls");
        let attempts = vec![ok(ConnKind::New, 0, new_phases(0.080, 0.0, 0.085))];
        let series = vec![Series::from_attempts(ConnKind::New, &attempts, None)];
        let v = verdict(&series, &[], None, None);
        assert_eq!(v.bottleneck, "connect");
        assert!(
            v.text.contains("the network takes most of the time"),
            "{}",
            v.text
        );
    }

    #[test]
    fn keepalive_and_limit() {
        let mut attempts = vec![ok(ConnKind::New, 0, new_phases(0.001, 0.004, 0.005))];
        attempts.push(ok(
            ConnKind::Reused,
            1,
            Phases {
                processing: Some(0.005),
                transfer: Some(0.0),
                ..Phases::default()
            },
        ));
        let series = vec![
            Series::from_attempts(ConnKind::New, &attempts, None),
            Series::from_attempts(ConnKind::Reused, &attempts, Some(0)),
        ];
        let saving = keepalive_saving(&series).unwrap();
        assert!((saving.seconds - 0.0051).abs() < 1e-9, "{saving:?}");
        let v = verdict(&series, &[], Some(Duration::from_millis(5)), None);
        assert!(
            v.text
                .starts_with("median total 10.1 ms is over --fail-over 5.00 ms"),
            "{}",
            v.text
        );
        assert!(
            v.text
                .contains("keep-alive saves 5.10 ms per request (50 %)"),
            "{}",
            v.text
        );
        assert!(over_limit(&series, Some(Duration::from_millis(5))));
        assert!(!over_limit(&series, Some(Duration::from_millis(50))));
    }

    #[test]
    fn a_server_that_closes_every_connection_is_said_and_saves_nothing() {
        let mut attempts: Vec<Attempt> = (0..3)
            .map(|i| ok(ConnKind::New, i, new_phases(0.001, 0.0, 0.001)))
            .collect();
        for i in 0..3 {
            // Each kept-alive request went over a new connection the server then closed.
            let mut a = ok(ConnKind::Reused, i, new_phases(0.001, 0.0, 0.0009));
            a.keep_alive = Some(false);
            attempts.push(a);
        }
        let series = vec![
            Series::from_attempts(ConnKind::New, &attempts, None),
            Series::from_attempts(ConnKind::Reused, &attempts, Some(3)),
        ];
        assert_eq!(series[0].closing_responses, None);
        assert_eq!(series[1].closing_responses, Some(3));
        assert_eq!(series[1].server_keeps_alive, Some(false));
        assert!(series[1].server_closes_every_connection());
        assert_eq!(keepalive_saving(&series), None);
        let v = verdict(&series, &[], None, Some("HTTP/1.0"));
        assert!(
            v.text.contains("the server does not keep connections alive (it answers HTTP/1.0 without Connection: keep-alive)"),
            "{}",
            v.text
        );
        assert!(v.text.contains("measured new connections"), "{}", v.text);
        assert!(!v.text.contains("keep-alive saves"), "{}", v.text);
        let v = verdict(&series, &[], None, Some("HTTP/1.1"));
        assert!(v.text.contains("Connection: close"), "{}", v.text);

        // Only some responses closed (nginx keepalive_requests): reopened, saving still shown.
        // Each measured request went over a kept connection (no connect phase).
        for a in attempts
            .iter_mut()
            .filter(|a| a.connection == ConnKind::Reused)
        {
            a.keep_alive = Some(a.seq != 1);
            a.phases.connect = None;
            a.total_seconds = 0.001;
        }
        let series = vec![
            Series::from_attempts(ConnKind::New, &attempts, None),
            Series::from_attempts(ConnKind::Reused, &attempts, Some(1)),
        ];
        assert!(!series[1].server_closes_every_connection());
        assert_eq!(series[1].server_keeps_alive, Some(true));
        let v = verdict(&series, &[], None, Some("HTTP/1.1"));
        assert!(
            v.text
                .contains("the server ended 1 kept-alive connections with Connection: close"),
            "{}",
            v.text
        );
        assert!(v.text.contains("keep-alive saves"), "{}", v.text);
    }

    #[test]
    fn failures_take_the_verdict() {
        use super::super::classify::{Context, Problem, classify};
        let cx = Context {
            host: "h",
            port: 80,
            server_name: "h",
            addr: None,
            local: true,
            timeout: Duration::from_secs(1),
            processing: None,
            server: None,
            h2_prior_knowledge: false,
        };
        let mut a = Attempt::new(0, ConnKind::New, 0, Duration::ZERO);
        a.failure = Some(classify(&Problem::ConnectTimeout, &cx));
        let attempts = vec![
            a.clone(),
            a,
            ok(ConnKind::New, 2, new_phases(0.001, 0.0, 0.001)),
        ];
        let groups = group_failures(&attempts);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].count, 2);
        let series = vec![Series::from_attempts(ConnKind::New, &attempts, None)];
        assert_eq!((series[0].ok, series[0].failed), (1, 2));
        let v = verdict(&series, &groups, None, None);
        assert_eq!(v.bottleneck, "failed");
        assert!(
            v.text.starts_with("2 of 3 requests failed; all at connect"),
            "{}",
            v.text
        );
    }

    #[test]
    fn tcp_retransmits_count_each_connection_once() {
        let mut a = ok(ConnKind::Reused, 7, Phases::default());
        a.tcp = Some(TcpInfo {
            total_retrans: 2,
            rtt_us: 100,
            ..TcpInfo::default()
        });
        let mut b = a.clone();
        b.tcp = Some(TcpInfo {
            total_retrans: 3,
            rtt_us: 100,
            ..TcpInfo::default()
        });
        let s = Series::from_attempts(ConnKind::Reused, &[a, b], Some(0));
        assert_eq!(s.tcp.retransmits, 3);
        assert_eq!(s.tcp.connections, 1);
        assert_eq!(s.tcp.rtt_p50_seconds, Some(0.0001));
    }

    #[test]
    fn skew_and_expiry_notes() {
        assert_eq!(tls_notes(None, Some(3.0)), Vec::<String>::new());
        let n = tls_notes(None, Some(-120.0));
        assert!(n[0].contains("2 min") || n[0].contains("120 s"), "{n:?}");
        assert!(n[0].contains("behind"));
    }

    #[test]
    fn ms_formatting() {
        assert_eq!(ms(0.000052), "0.052");
        assert_eq!(ms(0.00123), "1.23");
        assert_eq!(ms(0.0123), "12.3");
        assert_eq!(ms(0.180), "180");
    }
}
