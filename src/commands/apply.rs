//! `hostperf apply`: validate the whole plan, journal, write, read back.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::*;
use crate::exit::{self, UsageError};
use crate::persist;
use crate::plan::{Action, Plan, Purpose};
use crate::report::{self, plan as tables};
use crate::tune::Knob;

use super::{host, interrupted_warnings, journal, load_profile, lock, targets};

#[derive(Serialize)]
struct ApplyOutput<'a> {
    profile: &'a str,
    dry_run: bool,
    snapshot_id: Option<String>,
    changed: Vec<ChangedRow>,
    skipped: Vec<String>,
    persisted: &'a [persist::PersistFile],
    warnings: &'a [String],
}

#[derive(Serialize)]
struct ChangedRow {
    setting: String,
    from: Option<String>,
    to: Option<String>,
}

pub fn run(g: &Global, args: &ApplyArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let needs_root = profile.writes_kernel_settings() || args.persist;
    if !args.dry_run && needs_root && host.is_live() && !rustix::process::geteuid().is_root() {
        return Err(UsageError::new(format!(
            "hostperf apply needs privilege: {} writes kernel settings (/proc/sys, /sys, network devices{}), which only root may change; run as root (sudo hostperf apply ...); nothing was changed",
            profile.name,
            if args.persist { ", files in /etc" } else { "" }
        )));
    }
    let journal = journal(g);
    // Held from before the first read: another apply cannot change values under this plan.
    let _lock = if args.dry_run {
        None
    } else {
        Some(lock(&journal)?)
    };
    let interrupted = interrupted_warnings(&journal);
    if !interrupted.is_empty() && !args.dry_run && !args.force {
        return Err(UsageError::new(format!(
            "{}\nApplying on top would hide it: run `hostperf rollback` first (it restores the interrupted apply), or pass --force to apply anyway. Nothing was changed",
            interrupted.join("\n")
        )));
    }
    let mut plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Apply)?;
    crate::rules::apply(&host, &profile, &mut plan);
    plan.warnings.extend(interrupted);
    let files = if args.persist {
        let files = persist::files(&plan, &profile, &args.units)?;
        persist::check_targets(&host, &files)?;
        plan.warnings.extend(persist::boot_overrides(&host, &files));
        files
    } else {
        Vec::new()
    };
    if args.dry_run {
        report::print(&match args.format {
            ListFormat::Table => tables::plan_table(&plan, &files),
            ListFormat::Json => report::json(&plan),
        })?;
        return Ok(if plan.blockers().next().is_some() {
            exit::USAGE
        } else {
            exit::OK
        });
    }
    let blockers: Vec<_> = plan.blockers().collect();
    if !blockers.is_empty() {
        let mut msg = format!(
            "cannot apply {}: {} setting(s) stop it; nothing was changed:",
            profile.name,
            blockers.len()
        );
        for item in &blockers {
            let _ = write!(
                msg,
                "\n  - {} [{}]: {}",
                item.setting,
                item.action.label(),
                item.action.detail().unwrap_or("")
            );
        }
        msg.push_str(
            "\n(mark a setting `optional: true` in the profile to skip it where the host lacks it)",
        );
        return Err(UsageError::new(msg));
    }
    let skipped: Vec<String> = plan
        .items
        .iter()
        .filter_map(|i| match &i.action {
            Action::Skipped(why) | Action::UnsupportedByDriver(why) if i.knob.is_some() => {
                Some(format!("{}: {why}", i.setting))
            }
            _ => None,
        })
        .collect();
    for s in &skipped {
        tracing::warn!("skipped {s}");
    }
    let mut changes = plan.journal_changes();
    changes.extend(persist::changes(&host, &files)?);
    // Optional settings the kernel or driver refuses at write time are skipped, not undone.
    let optional: HashSet<Knob> = plan
        .items
        .iter()
        .filter(|i| i.optional)
        .filter_map(|i| i.knob.clone())
        .collect();
    let applied =
        crate::apply::apply_skipping(&host, &journal, &profile.name, changes.clone(), &optional)?;
    let mut skipped = skipped;
    for s in &applied.skipped {
        skipped.push(format!(
            "{}: optional, refused at write time and left as it was: {}",
            s.setting, s.reason
        ));
    }
    let rows: Vec<ChangedRow> = changes
        .iter()
        .filter(|c| {
            !applied
                .skipped
                .iter()
                .any(|s| s.setting == c.knob.to_string())
        })
        .map(|c| ChangedRow {
            setting: c.knob.to_string(),
            from: c
                .previous
                .clone()
                .filter(|_| !matches!(c.knob, Knob::File { .. })),
            to: c
                .applied
                .clone()
                .filter(|_| !matches!(c.knob, Knob::File { .. })),
        })
        .collect();
    let output = ApplyOutput {
        profile: &profile.name,
        dry_run: false,
        snapshot_id: applied.snapshot_id.clone(),
        changed: rows,
        skipped,
        persisted: &files,
        warnings: &plan.warnings,
    };
    report::print(&match args.format {
        ListFormat::Json => report::json(&output),
        ListFormat::Table => apply_text(&output),
    })?;
    Ok(exit::OK)
}

fn apply_text(o: &ApplyOutput) -> String {
    let mut t = report::table(&["SETTING", "FROM", "TO"]);
    for row in &o.changed {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(file)".into());
        t.add_row(vec![row.setting.clone(), show(&row.from), show(&row.to)]);
    }
    let mut out = match &o.snapshot_id {
        None => format!("{}: the host already matches; nothing changed\n", o.profile),
        Some(id) => format!(
            "{}\n{}: changed {} setting(s); previous values saved as snapshot {id} (undo: hostperf rollback)\n",
            report::render(&t),
            o.profile,
            o.changed.len()
        ),
    };
    for s in &o.skipped {
        let _ = writeln!(out, "skipped: {s}");
    }
    for f in o.persisted {
        let _ = writeln!(
            out,
            "persisted: {} -> applies to {}",
            f.path.display(),
            f.applies_to
        );
    }
    for w in o.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
