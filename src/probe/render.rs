//! `hostperf probe` output: a table for people, JSON (`ProbeReport`, schema in
//! docs/probe.md) and Prometheus text (`hostperf_probe_*`, phase as a label). Data in, text
//! out. (Lives beside the probe rather than in report/ only while report/ is being
//! reworked on another branch; it uses report's table Style.)

use std::fmt::Write as _;

use crate::cli::ProbeFormat;
use crate::report::{Style, json, prom_label};

use super::model::{ConnKind, PHASES, ProbeReport, Series, TargetReport, ms};

pub fn render(report: &ProbeReport, format: ProbeFormat, style: Style) -> String {
    match format {
        ProbeFormat::Table => table(report, style),
        ProbeFormat::Json => json(report),
        ProbeFormat::Prometheus => prometheus(report),
    }
}

fn table(report: &ProbeReport, style: Style) -> String {
    let mut out = String::new();
    for (i, t) in report.targets.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        target_table(&mut out, t, style);
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

fn target_table(out: &mut String, t: &TargetReport, style: Style) {
    let mut head = t.url.clone();
    if let Some(a) = &t.address {
        let _ = write!(head, " -> {a}");
    }
    if let Some(v) = &t.http_version {
        let _ = write!(head, ", {v}");
    }
    if let Some(s) = t.status {
        let _ = write!(head, ", status {s}");
    }
    if let Some(s) = &t.server {
        let _ = write!(head, ", server {s}");
    }
    let _ = writeln!(out, "{head}");
    if let Some(tls) = &t.tls {
        let mut line = format!(
            "  tls      {} {}",
            tls.version.as_deref().unwrap_or("(handshake not finished)"),
            tls.cipher.as_deref().unwrap_or("")
        );
        let _ = write!(line, ", ALPN {}", tls.alpn.as_deref().unwrap_or("none"));
        match &tls.sni {
            Some(sni) => {
                let _ = write!(line, ", SNI {sni}");
            }
            None => line.push_str(", no SNI (IP address)"),
        }
        let _ = writeln!(out, "{}", line.trim_end());
        for (i, c) in tls.chain.iter().enumerate() {
            let label = if i == 0 {
                "leaf".to_string()
            } else {
                format!("#{i}")
            };
            let sans = if c.sans.is_empty() {
                String::new()
            } else {
                format!(" [{}]", c.sans.join(", "))
            };
            let _ = writeln!(
                out,
                "  cert     {label}: {}{sans}, issuer {}, notAfter {} ({} days), {}",
                c.subject, c.issuer, c.not_after, c.days_left, c.key
            );
        }
        let trust = if tls.trusted {
            format!("trusted by {}", tls.roots)
        } else {
            format!(
                "NOT trusted by {} ({})",
                tls.roots,
                tls.trust_error.as_deref().unwrap_or("no chain")
            )
        };
        let name = if tls.name_matches {
            format!("valid for {}", tls.checked_name)
        } else {
            format!("NOT valid for {}", tls.checked_name)
        };
        let expired = if tls.expired {
            ", EXPIRED or not yet valid"
        } else {
            ""
        };
        let _ = writeln!(out, "  trust    {trust}; {name}{expired}");
    }
    if let Some(skew) = t.clock_skew_seconds {
        let _ = writeln!(
            out,
            "  clock    server {} s against ours (Date header, 1 s resolution)",
            signed_secs(skew)
        );
    }
    for s in &t.series {
        if s.tcp.connections == 0 {
            continue;
        }
        let mut line = format!("  tcp      {:<10}", s.connection.as_str());
        if let Some(r) = s.tcp.rtt_p50_seconds {
            let _ = write!(line, " rtt {} ms", ms(r));
        }
        if let Some(r) = s.tcp.min_rtt_seconds {
            let _ = write!(line, ", min rtt {} ms", ms(r));
        }
        let _ = write!(
            line,
            ", {} retransmits on {} connections",
            s.tcp.retransmits, s.tcp.connections
        );
        if let Some(n) = s.reconnects.filter(|n| *n > 0) {
            let _ = write!(line, ", server closed {n} kept-alive connections");
        }
        let _ = writeln!(out, "{line}");
    }
    if t.series.iter().any(|s| !s.phases.is_empty()) {
        out.push('\n');
        out.push_str(&phase_table(&t.series, style));
    }
    if !t.failures.is_empty() {
        let _ = writeln!(out, "\nfailures");
        for g in &t.failures {
            let f = &g.failure;
            let alert = f
                .alert
                .as_deref()
                .map(|a| format!(", alert {a}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} x {} ({}{alert}; {} new, {} kept-alive): {}",
                g.count,
                f.class,
                f.layer.as_str(),
                g.new,
                g.reused,
                f.message
            );
            let _ = writeln!(out, "      cause: {}", f.cause);
            let _ = writeln!(out, "      next:  {}", f.next_step);
        }
    }
    for note in &t.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(out, "\nverdict: {}", t.verdict.text);
}

/// `+3`, `-120`, `0` (never `-0`).
pub fn signed_secs(s: f64) -> String {
    let r = s.round();
    if r == 0.0 {
        "0".into()
    } else {
        format!("{r:+.0}")
    }
}

fn phase_table(series: &[Series], style: Style) -> String {
    let mut header = vec!["PHASE (ms)".to_string()];
    for s in series {
        let name = match s.connection {
            ConnKind::New => "NEW",
            ConnKind::Reused => "KEPT-ALIVE",
        };
        header.extend([
            format!("{name} p50"),
            "p90".into(),
            "p99".into(),
            "max".into(),
        ]);
    }
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = style.table(&header_refs);
    for phase in PHASES.iter().copied().chain(["total"]) {
        let mut row = vec![phase.to_string()];
        for s in series {
            match s.phases.get(phase) {
                Some(st) => row.extend([ms(st.p50), ms(st.p90), ms(st.p99), ms(st.max)]),
                None => row.extend(["-", "", "", ""].map(String::from)),
            }
        }
        table.add_row(row);
    }
    let mut row = vec!["requests".to_string()];
    for s in series {
        row.extend([
            format!("{} ok", s.ok),
            format!("{} failed", s.failed),
            String::new(),
            String::new(),
        ]);
    }
    table.add_row(row);
    crate::report::render(&table)
}

fn prometheus(report: &ProbeReport) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for l in lines {
            let _ = writeln!(out, "{name}{l}");
        }
    };
    let url = |t: &TargetReport| format!("url=\"{}\"", prom_label(&t.url));
    let ts = &report.targets;
    family(
        "hostperf_probe_success",
        "gauge",
        "1 when every request to the URL succeeded (and, with --fail-over, within the limit).",
        ts.iter()
            .map(|t| format!("{{{}}} {}", url(t), u8::from(t.success && !t.over_limit)))
            .collect(),
    );
    let mut lines = Vec::new();
    for t in ts {
        for s in &t.series {
            for (phase, st) in &s.phases {
                for (q, v) in [
                    ("0.5", st.p50),
                    ("0.9", st.p90),
                    ("0.99", st.p99),
                    ("1", st.max),
                ] {
                    lines.push(format!(
                        "{{{},connection=\"{}\",phase=\"{phase}\",quantile=\"{q}\"}} {v}",
                        url(t),
                        s.connection.as_str()
                    ));
                }
            }
        }
    }
    family(
        "hostperf_probe_duration_seconds",
        "gauge",
        "Phase durations of successful requests (resolve, connect, tls, processing, transfer, total), by quantile (1 is the maximum).",
        lines,
    );
    let mut lines = Vec::new();
    for t in ts {
        for s in &t.series {
            lines.push(format!(
                "{{{},connection=\"{}\"}} {}",
                url(t),
                s.connection.as_str(),
                s.requests
            ));
        }
    }
    family(
        "hostperf_probe_requests",
        "gauge",
        "Requests made in this probe run, by connection kind.",
        lines,
    );
    let mut lines = Vec::new();
    for t in ts {
        for g in &t.failures {
            for (kind, n) in [("new", g.new), ("reused", g.reused)] {
                if n > 0 {
                    lines.push(format!(
                        "{{{},connection=\"{kind}\",layer=\"{}\",class=\"{}\"}} {n}",
                        url(t),
                        g.failure.layer.as_str(),
                        prom_label(&g.failure.class)
                    ));
                }
            }
        }
    }
    family(
        "hostperf_probe_failures",
        "gauge",
        "Failed requests in this probe run, by layer and class (see docs/probe.md).",
        lines,
    );
    family(
        "hostperf_probe_http_status_code",
        "gauge",
        "HTTP status of the first answered request.",
        ts.iter()
            .filter_map(|t| t.status.map(|s| format!("{{{}}} {s}", url(t))))
            .collect(),
    );
    let mut lines = Vec::new();
    for t in ts {
        for s in &t.series {
            if let Some(r) = s.tcp.rtt_p50_seconds {
                lines.push(format!(
                    "{{{},connection=\"{}\"}} {r}",
                    url(t),
                    s.connection.as_str()
                ));
            }
        }
    }
    family(
        "hostperf_probe_tcp_rtt_seconds",
        "gauge",
        "Median smoothed round-trip time from TCP_INFO (tcpi_rtt).",
        lines,
    );
    let mut lines = Vec::new();
    for t in ts {
        for s in &t.series {
            if s.tcp.connections > 0 {
                lines.push(format!(
                    "{{{},connection=\"{}\"}} {}",
                    url(t),
                    s.connection.as_str(),
                    s.tcp.retransmits
                ));
            }
        }
    }
    family(
        "hostperf_probe_tcp_retransmits",
        "gauge",
        "Retransmitted segments over this run's connections (tcpi_total_retrans).",
        lines,
    );
    family(
        "hostperf_probe_tls_info",
        "gauge",
        "TLS session of the URL: version, cipher and ALPN as labels.",
        ts.iter()
            .filter_map(|t| {
                let tls = t.tls.as_ref()?;
                Some(format!(
                    "{{{},version=\"{}\",cipher=\"{}\",alpn=\"{}\"}} 1",
                    url(t),
                    prom_label(tls.version.as_deref()?),
                    prom_label(tls.cipher.as_deref().unwrap_or("")),
                    prom_label(tls.alpn.as_deref().unwrap_or(""))
                ))
            })
            .collect(),
    );
    family(
        "hostperf_probe_tls_cert_not_after_timestamp_seconds",
        "gauge",
        "notAfter of each certificate of the presented chain (position 0 is the leaf).",
        ts.iter()
            .flat_map(|t| {
                t.tls.iter().flat_map(move |tls| {
                    tls.chain.iter().enumerate().map(move |(i, c)| {
                        format!(
                            "{{{},position=\"{i}\",subject=\"{}\",issuer=\"{}\"}} {}",
                            url(t),
                            prom_label(&c.subject),
                            prom_label(&c.issuer),
                            c.not_after_unix
                        )
                    })
                })
            })
            .collect(),
    );
    family(
        "hostperf_probe_tls_cert_trusted",
        "gauge",
        "1 when the chain leads to a trusted root.",
        ts.iter()
            .filter_map(|t| {
                t.tls
                    .as_ref()
                    .map(|tls| format!("{{{}}} {}", url(t), u8::from(tls.trusted)))
            })
            .collect(),
    );
    family(
        "hostperf_probe_tls_cert_name_match",
        "gauge",
        "1 when the leaf certificate is valid for the checked name.",
        ts.iter()
            .filter_map(|t| {
                t.tls
                    .as_ref()
                    .map(|tls| format!("{{{}}} {}", url(t), u8::from(tls.name_matches)))
            })
            .collect(),
    );
    family(
        "hostperf_probe_clock_skew_seconds",
        "gauge",
        "The server's Date minus this host's clock (median; 1 s resolution).",
        ts.iter()
            .filter_map(|t| t.clock_skew_seconds.map(|s| format!("{{{}}} {s}", url(t))))
            .collect(),
    );
    out
}
