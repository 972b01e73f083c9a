//! Tables for plan, apply, rollback, the snapshot and profile lists, and `show`. One
//! vocabulary throughout: SETTING; CURRENT (the value found), DESIRED (the value the
//! profile wants, apply wrote or rollback restores); ACTION (plan) or STATUS (what
//! happened); DETAIL only for what the other columns do not say.

use comfy_table::Color;

use crate::apply::{Outcome, Restored};
use crate::journal::Snapshot;
use crate::plan::{Action, Plan, PlanItem};
use crate::profile::Summary;

use super::Style;
use super::doc::{ApplyDoc, PlanSummary, ProfilesDiffDoc, ShownValue};
use super::table::{Cell, Grid, Role, prose};

/// The columns every per-setting table has, after `first` (ACTION or STATUS).
pub fn setting_grid(first: &str) -> Grid {
    Grid::new(&[
        (first, Role::Name),
        ("SETTING", Role::Name),
        ("CURRENT", Role::Value),
        ("DESIRED", Role::Value),
        ("DETAIL", Role::Detail),
    ])
}

/// The plan: one row per setting, then one summary line.
pub fn plan_table(plan: &Plan, style: Style) -> String {
    let mut t = setting_grid("ACTION");
    for item in &plan.items {
        let (label, colour) = action_label(&item.action);
        t.row(vec![
            Cell::coloured(label, colour),
            item.setting.as_str().into(),
            item.current.as_deref().unwrap_or("-").into(),
            desired_text(item).into(),
            plan_detail(item).into(),
        ]);
    }
    let s = PlanSummary::of(&plan.items);
    let mut out = t.render(style);
    out.push('\n');
    out.push_str(&prose(
        &format!(
            "profile {}: {} to change, {} already set, {} skipped, {} blocking\n",
            plan.profile, s.change, s.already_set, s.skipped, s.blocking
        ),
        style,
    ));
    out
}

/// The label and colour of a plan row. An optional setting the driver would refuse is
/// skipped like any other; its detail says why.
fn action_label(action: &Action) -> (&'static str, Color) {
    match action {
        Action::Change => ("change", Color::Cyan),
        Action::AlreadySet => ("already set", Color::Green),
        Action::Skipped(_) | Action::UnsupportedByDriver(_) => ("skipped", Color::Yellow),
        Action::Unsupported(_) => ("unsupported", Color::Red),
        Action::NeedsPrivilege(_) => ("needs privilege", Color::Red),
        Action::Invalid(_) => ("invalid", Color::Red),
    }
}

/// The desired value, with the value apply will write first when a bound resolves to
/// something else: `30 (<=30)`.
pub fn desired_text(item: &PlanItem) -> String {
    let desired = item.desired.to_string();
    match &item.target {
        Some(t) if *t != desired => format!("{t} ({desired})"),
        _ => desired,
    }
}

/// Why a row cannot be applied, or else why the profile sets it; without the setting's
/// name and the words the ACTION column already says.
fn plan_detail(item: &PlanItem) -> String {
    match &item.action {
        Action::UnsupportedByDriver(why) => format!(
            "unsupported by this driver: {}",
            without_name(&item.setting, why)
        ),
        action => match action.detail() {
            Some(why) => without_name(&item.setting, why),
            None => item.reason.clone(),
        },
    }
}

/// `detail` without a leading "optional, not applied: " and "sysctl NAME: ", "NAME = V: "
/// or "NAME: ", which the row already shows.
pub fn without_name(setting: &str, detail: &str) -> String {
    let mut rest = detail.trim();
    rest = rest.strip_prefix("optional, not applied: ").unwrap_or(rest);
    for prefix in ["sysctl ", ""] {
        if let Some(after) = rest
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix(setting))
        {
            if let Some(after) = after.strip_prefix(": ") {
                return after.to_string();
            }
            if let Some((_, after)) = after.strip_prefix(" = ").and_then(|r| r.split_once(": ")) {
                return after.to_string();
            }
        }
    }
    rest.to_string()
}

/// What apply did: the settings it wrote and those it left alone (with why), then one
/// line saying where the previous values are.
pub fn apply_table(doc: &ApplyDoc, style: Style) -> String {
    let mut t = setting_grid("STATUS");
    for row in &doc.changed {
        let show = |v: &Option<String>| match (v, row.kind.as_str()) {
            (_, "file") => "(file)".to_string(),
            (Some(v), _) => v.clone(),
            (None, _) => "-".to_string(),
        };
        t.row(vec![
            Cell::coloured("changed", Color::Cyan),
            row.setting.as_str().into(),
            show(&row.current).into(),
            show(&row.desired).into(),
        ]);
    }
    for row in &doc.skipped {
        t.row(vec![
            Cell::coloured("skipped", Color::Yellow),
            row.setting.as_str().into(),
            row.current.as_deref().unwrap_or("-").into(),
            row.desired.as_str().into(),
            without_name(&row.setting, &row.reason).into(),
        ]);
    }
    let what = match &doc.reapplied {
        Some(r) => format!(
            "{} (saved in {}{})",
            doc.profile,
            r.from,
            r.iface
                .as_deref()
                .map(|i| format!(", interface {i}"))
                .unwrap_or_default()
        ),
        None => doc.profile.clone(),
    };
    let summary = match &doc.snapshot_id {
        None if doc.skipped.is_empty() => {
            format!("{what}: nothing changed; the host already matches\n")
        }
        None => format!(
            "{what}: nothing changed: no setting that applies here differs ({} skipped, above)\n",
            doc.skipped.len()
        ),
        Some(id) => format!(
            "{what}: changed {} setting(s); the previous values are in snapshot {id} (undo: hostperf rollback)\n",
            doc.changed.len()
        ),
    };
    let mut out = String::new();
    if !t.is_empty() {
        out.push_str(&t.render(style));
        out.push('\n');
    }
    for f in &doc.persisted {
        out.push_str(&prose(
            &format!(
                "persisted: {} -> applies to {}\n",
                f.path.display(),
                f.applies_to
            ),
            style,
        ));
    }
    out.push_str(&prose(&summary, style));
    out
}

/// One line per setting a rollback went through, then one line for the snapshot.
pub fn rollback_table(snapshot: &Snapshot, report: &[Restored], style: Style) -> String {
    let mut t = setting_grid("STATUS");
    for r in report {
        let (label, colour) = match r.outcome {
            Outcome::Restored => ("restored", Color::Green),
            Outcome::AlreadyPrevious => ("unchanged", Color::Green),
            Outcome::SkippedDrift => ("skipped", Color::Yellow),
            Outcome::Gone => ("gone", Color::Yellow),
            Outcome::Failed => ("failed", Color::Red),
        };
        // A file's content is never shown; DETAIL says what was done with it.
        let show = |v: &Option<String>| match (v, r.kind) {
            (_, "file") => "-".to_string(),
            (Some(v), _) => v.clone(),
            (None, _) => "(absent)".to_string(),
        };
        let current = match r.outcome {
            Outcome::Gone => "-".to_string(),
            _ => show(&r.current),
        };
        t.row(vec![
            Cell::coloured(label, colour),
            r.setting.as_str().into(),
            current.into(),
            show(&r.desired).into(),
            r.detail.as_str().into(),
        ]);
    }
    let done = report.iter().filter(|r| r.outcome.is_done()).count();
    let left = report.len() - done;
    let outcome = if left == 0 {
        "rolled back".to_string()
    } else {
        format!("partly rolled back: {left} setting(s) left as they are")
    };
    format!(
        "{}\n{}",
        t.render(style),
        prose(
            &format!(
                "snapshot {} ({}, applied {}): {outcome}\n",
                snapshot.id, snapshot.profile, snapshot.created
            ),
            style
        )
    )
}

/// `rollback --list`: newest first. Times are UTC; the date and the time may wrap apart in
/// a narrow terminal, the id never.
pub fn snapshots_table(snapshots: &[Snapshot], style: Style) -> String {
    let mut t = Grid::new(&[
        ("ID", Role::Name),
        ("CREATED (UTC)", Role::Value),
        ("PROFILE", Role::Name),
        ("STATUS", Role::Value),
        ("SETTINGS", Role::Name),
    ]);
    for s in snapshots.iter().rev() {
        let created = s
            .created
            .replacen('T', " ", 1)
            .trim_end_matches('Z')
            .to_string();
        t.row(vec![
            s.id.as_str().into(),
            created.into(),
            s.profile.as_str().into(),
            s.state.label().into(),
            s.changes.len().to_string().into(),
        ]);
    }
    t.render(style)
}

pub fn profiles_table(profiles: &[Summary], style: Style) -> String {
    let mut t = Grid::new(&[
        ("NAME", Role::Name),
        ("SOURCE", Role::Name),
        ("DESCRIPTION", Role::Detail),
    ]);
    for p in profiles {
        t.row(vec![
            p.name.as_str().into(),
            p.source.to_string().into(),
            p.description.as_str().into(),
        ]);
    }
    t.render(style)
}

/// `show`: the current value of each setting.
pub fn values_table(values: &[ShownValue], style: Style) -> String {
    let mut t = Grid::new(&[
        ("SETTING", Role::Name),
        ("CURRENT", Role::Value),
        ("DETAIL", Role::Detail),
    ]);
    for v in values {
        let (current, detail) = match (&v.current, &v.error) {
            (Some(value), _) => (value.clone(), String::new()),
            (None, Some(e)) => ("-".to_string(), without_name(&v.setting, e)),
            (None, None) => ("-".to_string(), "absent".to_string()),
        };
        t.row(vec![
            v.setting.as_str().into(),
            current.into(),
            detail.into(),
        ]);
    }
    t.render(style)
}

/// `profiles diff A B`: the keys that differ (columns A and B, named on the first line,
/// so long profile names never widen the table), then a count of those that do not.
pub fn diff_table(doc: &ProfilesDiffDoc, style: Style) -> String {
    let mut t = Grid::new(&[
        ("SECTION", Role::Name),
        ("KEY", Role::Name),
        ("A", Role::Value),
        ("B", Role::Value),
    ]);
    for d in &doc.differences {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
        t.row(vec![
            d.section.as_str().into(),
            d.key.as_str().into(),
            show(&d.a).into(),
            show(&d.b).into(),
        ]);
    }
    let summary = prose(
        &format!(
            "{} and {}: {} key(s) differ, {} the same\n",
            doc.a,
            doc.b,
            doc.differences.len(),
            doc.same
        ),
        style,
    );
    if t.is_empty() {
        summary
    } else {
        let legend = prose(&format!("A: {}, B: {}\n", doc.a, doc.b), style);
        format!("{legend}{}\n{summary}", t.render(style))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_lose_the_name_the_row_shows() {
        let s = "net.core.busy_poll";
        assert_eq!(
            without_name(
                s,
                "sysctl net.core.busy_poll: no such key on this kernel (/proc/sys/net/core/busy_poll does not exist)"
            ),
            "no such key on this kernel (/proc/sys/net/core/busy_poll does not exist)"
        );
        assert_eq!(
            without_name(
                "net.core.default_qdisc",
                "optional, not applied: sysctl net.core.default_qdisc = fq: qdisc fq is not available"
            ),
            "qdisc fq is not available"
        );
        assert_eq!(
            without_name("eth0 rx-0 rps_cpus", "eth0 rx-0 rps_cpus: needs root"),
            "needs root"
        );
        assert_eq!(without_name("x", "something else: y"), "something else: y");
    }
}
