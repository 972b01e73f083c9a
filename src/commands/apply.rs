//! `hostperf apply`: validate the whole plan, journal, write, read back.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::cli::*;
use crate::exit::{self, UsageError};
use crate::persist;
use crate::plan::{Action, Plan, PlanItem, Purpose};
use crate::report::doc::{self, ApplyDoc, ChangedSetting, PersistedFile, SkippedSetting};
use crate::report::{self, plan as tables};
use crate::tune::Knob;

use super::{deliver, host, interrupted_warnings, journal, load_profile, lock, targets, tell};

pub fn run(g: &Global, args: &ApplyArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let needs_root = !profile.sysctl.is_empty() || !profile.network.is_empty() || args.persist;
    if !args.dry_run && needs_root && host.is_live() && !rustix::process::geteuid().is_root() {
        return Err(UsageError::new(format!(
            "hostperf apply needs privilege: {} writes kernel settings (/proc/sys, network devices{}), which only root may change; run as root (sudo hostperf apply ...); nothing was changed",
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
    tracing::info!(profile = %profile.name, dry_run = args.dry_run, "planning the apply");
    let mut plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Apply)?;
    crate::rules::apply(&host, &profile, &mut plan);
    plan.warnings.extend(interrupted);
    super::plan::log_decisions(&plan);
    let files = if args.persist {
        let files = persist::files(&plan, &profile, &args.units)?;
        persist::check_targets(&host, &files)?;
        plan.warnings.extend(persist::boot_overrides(&host, &files));
        files
    } else {
        Vec::new()
    };
    let persisted: Vec<PersistedFile> = files.iter().map(PersistedFile::from).collect();
    let blockers: Vec<&PlanItem> = plan.blockers().collect();
    if args.dry_run {
        let doc = ApplyDoc {
            schema_version: doc::SCHEMA_VERSION,
            profile: profile.name.clone(),
            dry_run: true,
            snapshot_id: None,
            changed: plan.changes().map(changed).collect(),
            skipped: plan.items.iter().filter_map(skipped).collect(),
            blocking: blockers.iter().map(|i| blocked(i)).collect(),
            persisted: persisted.clone(),
            warnings: plan.warnings.clone(),
        };
        deliver(args.format, &args.outputs, |format, style| {
            Ok(match format {
                ListFormat::Table => dry_run_table(&plan, &persisted, style),
                ListFormat::Json => report::json(&doc),
            })
        })?;
        tell(&plan.warnings, &[]);
        if blockers.is_empty() {
            return Ok(exit::OK);
        }
        // Said on stderr too: a script that checks the exit code sees why.
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr().lock(),
            format_args!(
                "hostperf: {}\n",
                refusal(&profile.name, &blockers, "apply would refuse")
            ),
        );
        return Ok(exit::USAGE);
    }
    if !blockers.is_empty() {
        return Err(UsageError::new(refusal(
            &profile.name,
            &blockers,
            "cannot apply",
        )));
    }
    let mut skipped_rows: Vec<SkippedSetting> = plan.items.iter().filter_map(skipped).collect();
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
    for s in &applied.skipped {
        let item = plan.items.iter().find(|i| i.setting == s.setting);
        skipped_rows.push(SkippedSetting {
            setting: s.setting.clone(),
            kind: item.map_or("", |i| i.kind).to_string(),
            current: item.and_then(|i| i.current.clone()),
            desired: item.map(|i| i.desired.to_string()).unwrap_or_default(),
            reason: format!(
                "optional; refused at write time and left as it was: {}",
                s.reason
            ),
        });
    }
    let changed: Vec<ChangedSetting> = changes
        .iter()
        .filter(|c| {
            !applied
                .skipped
                .iter()
                .any(|s| s.setting == c.knob.to_string())
        })
        .map(ChangedSetting::from)
        .collect();
    let doc = ApplyDoc {
        schema_version: doc::SCHEMA_VERSION,
        profile: profile.name.clone(),
        dry_run: false,
        snapshot_id: applied.snapshot_id.clone(),
        changed,
        skipped: skipped_rows,
        blocking: Vec::new(),
        persisted,
        warnings: plan.warnings.clone(),
    };
    tracing::info!(snapshot = ?doc.snapshot_id, changed = doc.changed.len(), "applied");
    deliver(args.format, &args.outputs, |format, style| {
        Ok(match format {
            ListFormat::Json => report::json(&doc),
            ListFormat::Table => tables::apply_table(&doc, style),
        })
    })?;
    tell(&plan.warnings, &[]);
    Ok(exit::OK)
}

/// The plan a dry run prints, with the files --persist would write.
fn dry_run_table(plan: &Plan, persisted: &[PersistedFile], style: report::Style) -> String {
    let mut out = tables::plan_table(plan, style);
    for f in persisted {
        out.push_str(&report::table::prose(
            &format!(
                "would persist: {} -> applies to {}\n",
                f.path.display(),
                f.applies_to
            ),
            style,
        ));
    }
    out
}

/// Why apply refuses: every blocking setting with its reason. The hint to mark a setting
/// optional is given only where it would help (a setting the host lacks).
fn refusal(profile: &str, blockers: &[&PlanItem], verb: &str) -> String {
    let mut msg = format!(
        "{verb} {profile}: {} setting(s) stop it; nothing was changed:",
        blockers.len()
    );
    for item in blockers {
        let _ = write!(
            msg,
            "\n  - {} [{}]: {}",
            item.setting,
            item.action.label(),
            item.action.detail().unwrap_or("")
        );
    }
    if blockers
        .iter()
        .any(|i| matches!(i.action, Action::Unsupported(_)) && !i.optional)
    {
        msg.push_str(
            "\n(where the host lacks a setting, mark it `optional: true` in the profile to skip it)",
        );
    }
    msg
}

fn changed(item: &PlanItem) -> ChangedSetting {
    ChangedSetting {
        setting: item.setting.clone(),
        kind: item.kind.to_string(),
        current: item.current.clone(),
        desired: item.target.clone(),
    }
}

/// A row apply leaves alone: optional settings the host or driver lacks, ulimits without a
/// target process.
fn skipped(item: &PlanItem) -> Option<SkippedSetting> {
    match &item.action {
        Action::Skipped(why) | Action::UnsupportedByDriver(why) => Some(SkippedSetting {
            setting: item.setting.clone(),
            kind: item.kind.to_string(),
            current: item.current.clone(),
            desired: item.desired.to_string(),
            reason: why.clone(),
        }),
        _ => None,
    }
}

fn blocked(item: &PlanItem) -> SkippedSetting {
    SkippedSetting {
        setting: item.setting.clone(),
        kind: item.kind.to_string(),
        current: item.current.clone(),
        desired: item.desired.to_string(),
        reason: format!(
            "{}: {}",
            item.action.label(),
            item.action.detail().unwrap_or("")
        ),
    }
}
