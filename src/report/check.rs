//! `hostperf check` reports: table, json, junit XML, Prometheus text.

use std::fmt::Write as _;

use comfy_table::Color;

use crate::check::{CheckReport, CheckResult, Status};
use crate::cli::CheckFormat;

use super::plan::without_name;
use super::table::Cell;
use super::{Style, json, prom_label, xml_escape};

pub fn render(report: &CheckReport, format: CheckFormat, style: Style) -> String {
    match format {
        CheckFormat::Table => render_table(report, style),
        CheckFormat::Json => json(report),
        CheckFormat::Junit => junit(report),
        CheckFormat::Prometheus => prometheus(report),
    }
}

fn render_table(report: &CheckReport, style: Style) -> String {
    let mut t = super::plan::setting_grid("STATUS");
    let mut rows: Vec<_> = report.results.iter().collect();
    // Worst first, so drift is on screen without scrolling.
    rows.sort_by_key(|r| match r.status {
        Status::Fail => 0,
        Status::Error => 1,
        Status::Skip => 2,
        Status::Pass => 3,
    });
    for r in rows {
        let colour = match r.status {
            Status::Pass => Color::Green,
            Status::Fail => Color::Red,
            Status::Error => Color::Magenta,
            Status::Skip => Color::Yellow,
        };
        // DETAIL: why a row was skipped or not evaluated, else why the profile sets it.
        let detail = match &r.detail {
            Some(d) => without_name(&r.setting, d),
            None => r.reason.clone(),
        };
        t.row(vec![
            Cell::coloured(r.status.label(), colour),
            r.setting.as_str().into(),
            r.current.as_deref().unwrap_or("-").into(),
            r.desired.as_str().into(),
            detail.into(),
        ]);
    }
    let s = &report.summary;
    let summary = format!(
        "profile {}: {} pass, {} fail, {} skip, {} error\n",
        report.profile, s.pass, s.fail, s.skip, s.error
    );
    let summary = super::table::prose(&summary, style);
    if t.is_empty() {
        summary
    } else {
        format!("{}\n{summary}", t.render(style))
    }
}

/// What a result's JUnit message says: the drift, or why it was not evaluated.
fn junit_message(r: &CheckResult) -> String {
    match (&r.status, &r.detail) {
        (Status::Fail, _) => format!(
            "is {}, profile wants {}",
            r.current.as_deref().unwrap_or("(absent)"),
            r.desired
        ),
        (_, Some(d)) => d.clone(),
        (_, None) => String::new(),
    }
}

fn junit(report: &CheckReport) -> String {
    let s = &report.summary;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = xml_escape(&format!("hostperf check {}", report.profile));
    let _ = writeln!(
        out,
        "<testsuites name=\"{name}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\">",
        report.results.len(),
        s.fail,
        s.error,
        s.skip
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" timestamp=\"{}\">",
        report.results.len(),
        s.fail,
        s.error,
        s.skip,
        xml_escape(&report.checked_at)
    );
    for r in &report.results {
        let _ = write!(
            out,
            "    <testcase classname=\"hostperf.{}\" name=\"{}\"",
            r.kind,
            xml_escape(&r.setting)
        );
        let detail = xml_escape(&junit_message(r));
        match r.status {
            Status::Pass => out.push_str("/>\n"),
            Status::Fail => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{detail}\" type=\"drift\">{}</failure>\n    </testcase>",
                    xml_escape(&r.reason)
                );
            }
            Status::Error => {
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"{detail}\"/>\n    </testcase>"
                );
            }
            Status::Skip => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{detail}\"/>\n    </testcase>"
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn prometheus(report: &CheckReport) -> String {
    let profile = prom_label(&report.profile);
    let mut out = String::new();
    out.push_str("# HELP hostperf_check_setting_match 1 when the setting matches the profile, 0 on drift; absent when skipped or not evaluated.\n");
    out.push_str("# TYPE hostperf_check_setting_match gauge\n");
    for r in &report.results {
        let value = match r.status {
            Status::Pass => 1,
            Status::Fail => 0,
            Status::Skip | Status::Error => continue,
        };
        let _ = writeln!(
            out,
            "hostperf_check_setting_match{{profile=\"{profile}\",kind=\"{}\",setting=\"{}\"}} {value}",
            r.kind,
            prom_label(&r.setting)
        );
    }
    out.push_str("# HELP hostperf_check_results Settings by check status.\n");
    out.push_str("# TYPE hostperf_check_results gauge\n");
    let s = &report.summary;
    for (status, n) in [
        ("pass", s.pass),
        ("fail", s.fail),
        ("skip", s.skip),
        ("error", s.error),
    ] {
        let _ = writeln!(
            out,
            "hostperf_check_results{{profile=\"{profile}\",status=\"{status}\"}} {n}"
        );
    }
    out.push_str("# HELP hostperf_check_drift 1 when any setting differs from the profile.\n");
    out.push_str("# TYPE hostperf_check_drift gauge\n");
    let _ = writeln!(
        out,
        "hostperf_check_drift{{profile=\"{profile}\"}} {}",
        u8::from(s.fail > 0)
    );
    out
}
