//! Tables for plan, rollback, the profile list and `show`.

use std::fmt::Write as _;

use comfy_table::Color;

use crate::apply::{Outcome, Restored};
use crate::journal::Snapshot;
use crate::persist::PersistFile;
use crate::plan::{Action, Plan};
use crate::profile::Summary;

use super::{coloured, render, table};

pub fn plan_table(plan: &Plan, persist: &[PersistFile]) -> String {
    let mut t = table(&[
        "ACTION",
        "KIND",
        "SETTING",
        "CURRENT",
        "DESIRED",
        "DETAIL / REASON",
    ]);
    for item in &plan.items {
        let colour = match item.action {
            Action::Change => Color::Cyan,
            Action::AlreadySet => Color::Green,
            Action::Skipped(_) | Action::UnsupportedByDriver(_) => Color::Yellow,
            _ => Color::Red,
        };
        let desired = match &item.target {
            Some(t) if *t != item.desired.to_string() => format!("{} ({})", t, item.desired),
            _ => item.desired.to_string(),
        };
        t.add_row(vec![
            coloured(item.action.label(), colour),
            item.kind.into(),
            item.setting.as_str().into(),
            item.current.as_deref().unwrap_or("-").into(),
            desired.into(),
            item.action.detail().unwrap_or(&item.reason).into(),
        ]);
    }
    let changes = plan.changes().count();
    let blockers = plan.blockers().count();
    let mut out = format!(
        "{}\nprofile {}: {changes} to change, {} already set, {blockers} blocking\n",
        render(&t),
        plan.profile,
        plan.items
            .iter()
            .filter(|i| i.action == Action::AlreadySet)
            .count()
    );
    for file in persist {
        let _ = writeln!(
            out,
            "persist: {} -> applies to {}",
            file.path.display(),
            file.applies_to
        );
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

pub fn rollback_table(snapshot: &Snapshot, report: &[Restored]) -> String {
    let mut t = table(&["OUTCOME", "SETTING", "DETAIL"]);
    for r in report {
        let (label, colour) = match r.outcome {
            Outcome::Restored => ("restored", Color::Green),
            Outcome::AlreadyPrevious => ("unchanged", Color::Green),
            Outcome::SkippedDrift => ("skipped", Color::Yellow),
            Outcome::Gone => ("gone", Color::Yellow),
            Outcome::Failed => ("failed", Color::Red),
        };
        t.add_row(vec![
            coloured(label, colour),
            r.setting.as_str().into(),
            r.detail.as_str().into(),
        ]);
    }
    format!(
        "{}\nsnapshot {} ({}, {})\n",
        render(&t),
        snapshot.id,
        snapshot.profile,
        snapshot.created
    )
}

pub fn snapshots_table(snapshots: &[Snapshot]) -> String {
    let mut t = table(&["ID", "PROFILE", "CREATED", "STATE", "CHANGES"]);
    for s in snapshots.iter().rev() {
        t.add_row(vec![
            s.id.clone(),
            s.profile.clone(),
            s.created.clone(),
            format!("{:?}", s.state).to_lowercase(),
            s.changes.len().to_string(),
        ]);
    }
    render(&t)
}

pub fn profiles_table(profiles: &[Summary]) -> String {
    let mut t = table(&["NAME", "SOURCE", "DESCRIPTION"]);
    for p in profiles {
        t.add_row(vec![
            p.name.clone(),
            p.source.to_string(),
            p.description.clone(),
        ]);
    }
    render(&t)
}

pub fn values_table(rows: &[(String, String, String)]) -> String {
    let mut t = table(&["KIND", "SETTING", "VALUE"]);
    for (kind, setting, value) in rows {
        t.add_row(vec![kind.as_str(), setting.as_str(), value.as_str()]);
    }
    render(&t)
}
