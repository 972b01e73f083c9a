//! `hostperf probe`: is it the network or the application? Times each request of an http(s)
//! URL in blackbox_exporter's phases (resolve, connect, tls, processing, transfer), on new
//! connections and on kept-alive ones side by side, reads TCP_INFO of every connection,
//! describes the TLS session and certificate chain, classifies failures by layer, and says
//! where the time goes.
//!
//! - `options`: URLs and flags into targets (pure, usage errors).
//! - `conn`: one connection and one request, timed at each boundary (tokio, rustls, hyper).
//! - `tls`: roots, the recording verifier, certificate facts.
//! - `tcp_info`: `struct tcp_info` parsed over bytes, every kernel's length.
//! - `classify`: failures by layer with cause and next step (pure).
//! - `model`: the report, percentiles, verdict (pure).
//! - `render`: table, JSON, Prometheus text.
//! - `finding`: a probe result as a diagnose-style finding.
//!
//! Runs on a single-threaded tokio runtime: the probe is I/O bound, and one thread keeps its
//! memory small; with `--concurrency` above 1 handshakes share that thread's CPU, so compare
//! concurrent TLS times with that in mind.

pub mod classify;
pub mod conn;
pub mod finding;
pub mod model;
pub mod options;
pub mod render;
pub mod tcp_info;
pub mod tls;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use conn::{Conn, Shared, new_connection_request, reused_request};
use model::{Attempt, ConnKind, ProbeReport, Series, Settings, TargetReport};
use options::{ConnectionMode, HttpChoice, ProbeOptions, Target};

/// Probes every URL in turn. Usage errors (bad URL, bad flag, unreadable --cacert) come back
/// as `UsageError` before anything is sent; network failures are in the report, not errors.
pub fn run(opts: &ProbeOptions) -> anyhow::Result<ProbeReport> {
    let targets = options::targets(opts)?;
    let mut notes: Vec<String> = options::unused_overrides(opts, &targets)
        .into_iter()
        .map(|r| format!("--resolve {r} matches none of the URLs (host and port must both match)"))
        .collect();
    if opts.sni.is_some() && !targets.iter().any(|t| t.tls) {
        notes.push("--sni has no effect on http:// URLs".into());
    }
    let trust = if targets.iter().any(|t| t.tls) {
        Some(Arc::new(tls::Trust::load(opts.cacert.as_deref())?))
    } else {
        None
    };
    if trust.as_ref().is_some_and(|t| t.count == 0) {
        notes.push(
            "no CA certificates were found on this host (SSL_CERT_FILE, SSL_CERT_DIR, /etc/ssl/certs): every certificate will look untrusted; install ca-certificates or pass --cacert".into(),
        );
    }
    let tls_config = match &trust {
        Some(t) => Some((t.clone(), t.client_config(opts.http)?)),
        None => None,
    };
    let started_at = tls::rfc3339(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut reports = Vec::with_capacity(targets.len());
    for target in targets {
        let tls = if target.tls { tls_config.clone() } else { None };
        reports.push(runtime.block_on(probe_target(opts, target, tls)));
    }
    Ok(ProbeReport {
        schema_version: model::SCHEMA_VERSION,
        hostperf_version: env!("CARGO_PKG_VERSION"),
        started_at,
        settings: settings(opts),
        targets: reports,
        notes,
    })
}

fn settings(opts: &ProbeOptions) -> Settings {
    Settings {
        count: opts.count,
        concurrency: opts.concurrency,
        interval_seconds: opts.interval.as_secs_f64(),
        timeout_seconds: opts.timeout.as_secs_f64(),
        http: match opts.http {
            HttpChoice::Auto => "auto",
            HttpChoice::Http1 => "http1.1",
            HttpChoice::Http2 => "http2",
        },
        connections: match opts.connections {
            ConnectionMode::New => "new",
            ConnectionMode::Reused => "reused",
            ConnectionMode::Both => "both",
        },
        method: opts.method.as_str(),
        fail_over_seconds: opts.fail_over.map(|d| d.as_secs_f64()),
        insecure: opts.insecure,
    }
}

async fn probe_target(
    opts: &ProbeOptions,
    target: Target,
    tls: Option<(Arc<tls::Trust>, Arc<rustls::ClientConfig>)>,
) -> TargetReport {
    let url = target.url.clone();
    let sh = Arc::new(Shared::new(
        target,
        opts.http,
        opts.method,
        opts.timeout,
        opts.insecure,
        tls,
    ));
    let mut attempts = Vec::new();
    let mut series = Vec::new();
    if matches!(opts.connections, ConnectionMode::New | ConnectionMode::Both) {
        let got = run_series(&sh, opts, ConnKind::New).await;
        series.push(Series::from_attempts(ConnKind::New, &got.0, None));
        attempts.extend(got.0);
    }
    if matches!(
        opts.connections,
        ConnectionMode::Reused | ConnectionMode::Both
    ) {
        let got = run_series(&sh, opts, ConnKind::Reused).await;
        series.push(Series::from_attempts(ConnKind::Reused, &got.0, Some(got.1)));
        attempts.extend(got.0);
    }
    let tls_report = sh.tls_report.lock().ok().and_then(|r| r.clone());
    let failures = model::group_failures(&attempts);
    let skew = model::median_skew(&attempts);
    let first_ok = attempts.iter().find(|a| a.status.is_some());
    let notes = model::tls_notes(tls_report.as_ref(), skew);
    let http_version = first_ok.and_then(|a| a.http_version.clone());
    TargetReport {
        url,
        address: attempts.iter().find_map(|a| a.address.clone()),
        status: first_ok.and_then(|a| a.status),
        server: first_ok.and_then(|a| a.server.clone()),
        success: failures.is_empty() && !attempts.is_empty(),
        over_limit: model::over_limit(&series, opts.fail_over),
        tls: tls_report,
        clock_skew_seconds: skew,
        keepalive_saving: model::keepalive_saving(&series),
        verdict: model::verdict(&series, &failures, opts.fail_over, http_version.as_deref()),
        http_version,
        failures,
        series,
        notes,
        requests: attempts,
    }
}

/// Runs one series: `count` requests by up to `concurrency` workers, request i starting no
/// earlier than i x interval after the series began. Returns the attempts (in order) and,
/// for kept-alive series, how often a closed connection had to be replaced.
///
/// A kept-alive connection is replaced when it closed, or when its last response said the
/// server closes it (`Connection: close`, HTTP/1.0 without keep-alive). The request that
/// opens a connection is an untimed warm-up, except when its own response says the server
/// closes it: then it is the measurement (a new connection, which is all such a server
/// offers), since the timed request would find the connection gone.
async fn run_series(sh: &Arc<Shared>, opts: &ProbeOptions, kind: ConnKind) -> (Vec<Attempt>, u32) {
    let began = tokio::time::Instant::now();
    let next = Arc::new(AtomicU32::new(0));
    let reconnects = Arc::new(AtomicU32::new(0));
    let results = Arc::new(Mutex::new(
        Vec::with_capacity(opts.count.min(1024) as usize),
    ));
    // Kept-alive over HTTP/2: one connection, its streams shared by every worker.
    let mut first: Option<Conn> = None;
    if kind == ConnKind::Reused {
        let (warm, conn) = new_connection_request(sh, 0, ConnKind::Reused).await;
        match conn {
            Some(c) => first = Some(c),
            None => {
                // The warm-up failed: that is the series' result.
                next.store(opts.count, Ordering::Relaxed);
                results.lock().expect("not poisoned").push(warm);
            }
        }
    }
    let workers = opts.concurrency.min(opts.count);
    let mut handles = Vec::with_capacity(workers as usize);
    for w in 0..workers {
        let conn = match &first {
            Some(c) if c.is_http2() => c.share(),
            Some(_) if w == 0 => first.take(),
            _ => None,
        };
        let sh = sh.clone();
        let next = next.clone();
        let results = results.clone();
        let reconnects = reconnects.clone();
        let count = opts.count;
        let interval = opts.interval;
        handles.push(tokio::spawn(async move {
            let mut conn = conn;
            let mut opened = conn.is_some();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                tokio::time::sleep_until(began + interval.saturating_mul(i)).await;
                let attempt = match kind {
                    ConnKind::New => new_connection_request(&sh, i, ConnKind::New).await.0,
                    ConnKind::Reused => {
                        let usable = match conn.as_mut() {
                            Some(c) => c.ready().await,
                            None => false,
                        };
                        if !usable {
                            // Open (or reopen) this worker's connection with an untimed warm-up.
                            if opened {
                                reconnects.fetch_add(1, Ordering::Relaxed);
                            }
                            let (warm, c) = new_connection_request(&sh, i, ConnKind::Reused).await;
                            opened = true;
                            conn = c.filter(Conn::keeps_alive);
                            if conn.is_none() {
                                results.lock().expect("not poisoned").push(warm);
                                continue;
                            }
                        }
                        let c = conn.as_mut().expect("opened above");
                        reused_request(&sh, c, i).await
                    }
                };
                results.lock().expect("not poisoned").push(attempt);
            }
        }));
    }
    drop(first);
    for h in handles {
        let _ = h.await;
    }
    let mut attempts = std::mem::take(&mut *results.lock().expect("not poisoned"));
    attempts.sort_by_key(|a| a.seq);
    (attempts, reconnects.load(Ordering::Relaxed))
}
