//! `hostperf status` as text: labelled lines, the settings that drifted as a table, the
//! other owners. Data in, text out; nothing here reads the host.

use std::fmt::Write as _;

use comfy_table::Color;

use crate::check::Status as CheckStatus;
use crate::cli::ListFormat;
use crate::report::{self, Style};

use super::{Event, Status};

pub fn render(status: &Status, format: ListFormat, style: Style) -> String {
    match format {
        ListFormat::Json => report::json(status),
        ListFormat::Table => text(status, style),
    }
}

/// `label:` padded so the values line up.
fn field(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "{:<14}{value}", format!("{label}:"));
}

fn more(out: &mut String, value: &str) {
    let _ = writeln!(out, "{:<14}{value}", "");
}

fn event(e: &Event) -> String {
    let by = e
        .command
        .as_deref()
        .map(|c| format!(" by `{c}`"))
        .unwrap_or_default();
    format!(
        "{}{by} ({} change(s), snapshot {})",
        e.at, e.changes, e.snapshot
    )
}

fn text(status: &Status, style: Style) -> String {
    let mut out = String::new();
    match (&status.applied, &status.last) {
        (Some(applied), _) => {
            let state = if applied.state == "applied" {
                String::new()
            } else {
                format!(" [{}]", applied.state)
            };
            field(&mut out, "applied", &format!("{}{state}", applied.profile));
            more(&mut out, &event(applied));
        }
        (None, Some(last)) => field(
            &mut out,
            "applied",
            &format!(
                "nothing (the latest apply, {} at {}, was {})",
                last.profile, last.at, last.state
            ),
        ),
        (None, None) => field(&mut out, "applied", "nothing (no apply in the journal)"),
    }
    for (i, r) in status.reapplies.iter().enumerate() {
        if i == 0 {
            field(&mut out, "re-applied", &event(r));
        } else {
            more(&mut out, &event(r));
        }
    }
    if status.reapplies_total > status.reapplies.len() {
        more(
            &mut out,
            &format!(
                "and {} earlier re-applies",
                status.reapplies_total - status.reapplies.len()
            ),
        );
    }
    for i in &status.interrupted {
        field(
            &mut out,
            "interrupted",
            &format!(
                "{}: {} (`hostperf rollback` restores it)",
                i.profile,
                event(i)
            ),
        );
    }
    let p = &status.persisted;
    if p.files.is_empty() {
        field(&mut out, "persisted", "nothing (no `apply --persist`)");
    }
    for (i, f) in p.files.iter().enumerate() {
        let line = format!("{} ({})", f.path.display(), f.what);
        if i == 0 {
            field(&mut out, "persisted", &line);
        } else {
            more(&mut out, &line);
        }
    }
    if p.saved_profile.is_some() {
        let b = &p.boot;
        let unit = match (&b.apply_unit, b.masked, b.enabled) {
            (None, _, _) => "hostperf-apply.service not installed".to_string(),
            (Some(_), true, _) => "hostperf-apply.service masked".to_string(),
            (Some(_), false, true) => "hostperf-apply.service enabled".to_string(),
            (Some(_), false, false) => "hostperf-apply.service not enabled".to_string(),
        };
        let hotplug = if b.runs_on_hotplug() {
            "udev rule 90-hostperf.rules installed"
        } else {
            "udev rule 90-hostperf.rules not in effect"
        };
        let systemd = match (b.systemd_running, b.runs_at_boot()) {
            (true, _) => "systemd running",
            (false, true) => {
                "systemd not running here: the unit runs at the next boot under systemd"
            }
            (false, false) => "systemd not running here",
        };
        field(&mut out, "boot", &format!("{unit}; {hotplug}; {systemd}"));
    }
    match (&status.drift, &status.drift_unavailable) {
        (Some(report), _) => {
            let s = &report.summary;
            let verdict = if s.fail > 0 {
                format!("{} setting(s) differ", s.fail)
            } else if s.error > 0 {
                format!("{} setting(s) could not be evaluated", s.error)
            } else {
                "none, the host matches".to_string()
            };
            field(
                &mut out,
                "drift",
                &format!(
                    "{verdict} ({} pass, {} fail, {} skip, {} error)",
                    s.pass, s.fail, s.skip, s.error
                ),
            );
            if let Some(from) = &status.checked_profile {
                more(&mut out, &format!("checked against the profile {from}"));
            }
            let bad: Vec<_> = report
                .results
                .iter()
                .filter(|r| matches!(r.status, CheckStatus::Fail | CheckStatus::Error))
                .collect();
            if !bad.is_empty() {
                let mut t = style.table(&["STATUS", "SETTING", "CURRENT", "DESIRED", "DETAIL"]);
                for r in bad {
                    let colour = if r.status == CheckStatus::Fail {
                        Color::Red
                    } else {
                        Color::Magenta
                    };
                    t.add_row(vec![
                        style.coloured(r.status.label(), colour),
                        r.setting.as_str().into(),
                        r.current.as_deref().unwrap_or("-").into(),
                        r.desired.as_str().into(),
                        r.detail.as_deref().unwrap_or("").into(),
                    ]);
                }
                out.push_str(&report::render(&t));
            }
        }
        (None, Some(why)) => field(&mut out, "drift", &format!("not evaluated: {why}")),
        (None, None) => {}
    }
    if status.owners.is_empty() {
        if status.drift.is_some() {
            field(
                &mut out,
                "also set by",
                "nothing found (sysctl files, TuneD, irqbalance)",
            );
        }
    } else {
        let _ = writeln!(out, "also set by:");
        for o in &status.owners {
            let _ = writeln!(out, "  {}: {}", o.owner, o.detail);
            for s in o.settings.iter().take(20) {
                let _ = writeln!(out, "    {s}");
            }
            if o.settings.len() > 20 {
                let _ = writeln!(out, "    ... and {} more", o.settings.len() - 20);
            }
        }
    }
    for w in status.persisted.problems.iter().chain(&status.warnings) {
        let _ = writeln!(out, "warning: {w}");
    }
    if let Some(report) = &status.drift {
        for w in &report.warnings {
            let _ = writeln!(out, "note: {w}");
        }
    }
    out
}
