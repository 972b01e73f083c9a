//! Renderers: a report in, text out. Nothing here reads the machine.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use comfy_table::{Cell, Color};

use crate::report::{Style, prom_label};

use super::metrics;
use super::model::{Finding, Observed, Report, Status, Unit};

/// The formats diagnose renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Yaml,
    Prometheus,
}

pub fn render(report: &Report, format: Format, style: Style) -> anyhow::Result<String> {
    Ok(match format {
        Format::Table => table(report, style),
        Format::Json => crate::report::json(report),
        Format::Yaml => yaml(report)?,
        Format::Prometheus => prometheus(report),
    })
}

/// Findings worst first (crit, error, warn, skip, pass), stable within a status.
pub fn sorted(findings: &[Finding]) -> Vec<&Finding> {
    let mut v: Vec<&Finding> = findings.iter().collect();
    v.sort_by_key(|f| std::cmp::Reverse(f.status.rank()));
    v
}

fn status_colour(s: Status) -> Color {
    match s {
        Status::Crit | Status::Error => Color::Red,
        Status::Warn => Color::Yellow,
        Status::Skip => Color::DarkGrey,
        Status::Pass => Color::Green,
    }
}

pub fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Ratio => format!("{:.1}%", value * 100.0),
        Unit::PerSecond => format!("{value:.2}/s"),
        Unit::Count => {
            if value.fract() == 0.0 {
                format!("{value:.0}")
            } else {
                format!("{value:.2}")
            }
        }
        Unit::Bytes => format!("{value:.0} B"),
        Unit::Seconds => {
            if value < 1.0 {
                format!("{:.1} ms", value * 1000.0)
            } else {
                format!("{value:.3} s")
            }
        }
    }
}

fn observed_line(o: &Observed) -> String {
    let mut s = metrics::describe(&o.name).to_string();
    if !o.labels.is_empty() {
        let l: Vec<String> = o.labels.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = write!(s, " ({})", l.join(", "));
    }
    let _ = write!(s, ": {}", format_value(o.value, o.unit));
    let op = if o.lower_is_worse { "<=" } else { ">=" };
    match (o.warn, o.crit) {
        (Some(w), Some(c)) => {
            let _ = write!(
                s,
                " (warn {op} {}, crit {op} {})",
                format_value(w, o.unit),
                format_value(c, o.unit)
            );
        }
        (Some(w), None) => {
            let _ = write!(s, " (warn {op} {})", format_value(w, o.unit));
        }
        _ => {}
    }
    s
}

/// The status as the table shows it: `PASS`, or `PASS (partial)` when part could not be read.
fn status_text(f: &Finding) -> String {
    let s = f.status.as_str().to_uppercase();
    if f.partial.is_some() {
        format!("{s} (partial)")
    } else {
        s
    }
}

/// The default human output: one table, worst first, then details for every finding that
/// is not a plain pass.
pub fn table(report: &Report, style: Style) -> String {
    let mut t = style.table(&["STATUS", "CHECK", "SUMMARY"]);
    let findings = sorted(&report.findings);
    for f in &findings {
        let status = style.coloured(&status_text(f), status_colour(f.status));
        t.add_row(vec![status, Cell::new(f.id), Cell::new(&f.summary)]);
    }
    let mut out = crate::report::render(&t);
    if report.interval_secs > 0.0 {
        let _ = writeln!(
            out,
            "interval: {:.2} s; source: {}",
            report.interval_secs, report.source
        );
    } else {
        let _ = writeln!(out, "one sample (--interval 0); source: {}", report.source);
    }
    for f in findings.iter().filter(|f| {
        matches!(f.status, Status::Crit | Status::Warn | Status::Error) || f.partial.is_some()
    }) {
        let _ = writeln!(
            out,
            "\n[{}] {} ({}): {}",
            status_text(f),
            f.title,
            f.id,
            f.summary
        );
        if let Some(p) = &f.partial {
            let _ = writeln!(out, "  partial:     {p}");
        }
        let _ = writeln!(out, "  symptom:     {}", f.symptom);
        let _ = writeln!(out, "  answers:     {}", f.question);
        for o in &f.observed {
            let mark = match o.judge() {
                Status::Pass => " ",
                _ => "!",
            };
            let _ = writeln!(out, "  {mark} {}", observed_line(o));
        }
        for l in &f.kernel_log {
            let _ = writeln!(out, "  kernel log:  {l}");
        }
        for n in &f.notes {
            let _ = writeln!(out, "  note:        {n}");
        }
        let _ = writeln!(out, "  confirm:     {}", f.confirm);
        let _ = writeln!(out, "  log:         {}", f.log);
        let _ = writeln!(out, "  fix:         {}", f.remediation);
    }
    out
}

pub fn yaml(report: &Report) -> anyhow::Result<String> {
    Ok(yaml_serde::to_string(report)?)
}

fn metric_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let l: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", metric_name(k), prom_label(v)))
        .collect();
    format!("{{{}}}", l.join(","))
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// Prometheus text exposition format for node_exporter's textfile collector: `hostperf_`
/// prefix, base units (ratios, seconds), counters end in `_total`, a HELP and TYPE line per
/// metric. Labels identify what was measured (check, cpu, device, port, pid ...); every
/// measured number is a sample value, never a label.
pub fn prometheus(report: &Report) -> String {
    let mut out = String::new();
    let family = |out: &mut String, name: &str, help: &str, kind: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(
        &mut out,
        "hostperf_diagnose_status",
        "Status of each diagnose check: 1 for its current status, 0 for the others.",
        "gauge",
    );
    for f in &report.findings {
        for s in Status::ALL {
            let v = if f.status == s { 1 } else { 0 };
            let _ = writeln!(
                out,
                "hostperf_diagnose_status{} {v}",
                labels(&[("check", f.id), ("status", s.as_str())])
            );
        }
    }
    family(
        &mut out,
        "hostperf_diagnose_partial",
        "1 when a check could read only part of what it looks at (for example other users' processes).",
        "gauge",
    );
    for f in &report.findings {
        let v = if f.partial.is_some() { 1 } else { 0 };
        let _ = writeln!(
            out,
            "hostperf_diagnose_partial{} {v}",
            labels(&[("check", f.id)])
        );
    }
    // Observed values, grouped by metric name (one HELP and TYPE line per name).
    let mut gauges: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for f in &report.findings {
        for o in &f.observed {
            let name = format!("hostperf_{}", metric_name(&o.name));
            let mut pairs: Vec<(&str, &str)> = vec![("check", f.id)];
            for (k, v) in &o.labels {
                pairs.push((k, v));
            }
            gauges
                .entry(name)
                .or_insert_with(|| (metrics::help(&o.name), Vec::new()))
                .1
                .push(format!("{} {}", labels(&pairs), number(o.value)));
        }
    }
    for (name, (help, lines)) in &gauges {
        family(&mut out, name, help, "gauge");
        for l in lines {
            let _ = writeln!(out, "{name}{l}");
        }
    }
    // Raw kernel counters seen as evidence, once each.
    let mut counters: BTreeMap<(String, String), f64> = BTreeMap::new();
    for f in &report.findings {
        for e in f.evidence.iter().filter(|e| e.counter) {
            counters.insert((e.source.clone(), e.field.clone()), e.value);
        }
    }
    if !counters.is_empty() {
        family(
            &mut out,
            "hostperf_kernel_counter_total",
            "Kernel counters read by hostperf diagnose, by file and field (value in the last sample).",
            "counter",
        );
        for ((source, field), v) in &counters {
            let _ = writeln!(
                out,
                "hostperf_kernel_counter_total{} {}",
                labels(&[("source", source), ("field", field)]),
                number(*v)
            );
        }
    }
    family(
        &mut out,
        "hostperf_diagnose_interval_seconds",
        "Seconds between the two samples (0: one sample).",
        "gauge",
    );
    let _ = writeln!(
        out,
        "hostperf_diagnose_interval_seconds {}",
        number(report.interval_secs)
    );
    out
}
