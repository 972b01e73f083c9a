//! `hostperf apply`: validate the whole plan, journal, write, read back. `--boot` applies
//! the profile `apply --persist` saved, as the boot unit and the udev rule do.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::*;
use crate::exit::{self, UsageError};
use crate::host::Host;
use crate::journal::{Journal, Lock, Origin};
use crate::persist::{self, saved, units::BootUnits};
use crate::plan::{Action, Plan, PlanItem, Purpose, Targets};
use crate::profile::{Catalog, Profile};
use crate::report::doc::{
    self, ApplyDoc, ChangedSetting, PersistedFile, Reapplied, SkippedSetting,
};
use crate::report::{self, plan as tables};
use crate::tune::Knob;
use crate::tune::net::iface;

use super::{deliver, host, interrupted_warnings, journal, load_profile, lock, targets, tell};

/// How long `apply --boot` waits for another apply (the boot unit and the per-interface
/// units may start together).
const BOOT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// Everything `finish` needs besides the plan.
struct Run<'a> {
    host: &'a Host,
    journal: &'a Journal,
    profile: &'a str,
    files: &'a [persist::PersistFile],
    notes: Vec<String>,
    reapplied: Option<Reapplied>,
    dry_run: bool,
    /// Why apply would refuse although every row could be applied (a dry run says it).
    refusal: Option<String>,
    format: ListFormat,
    outputs: &'a [(ListFormat, PathBuf)],
}

pub fn run(g: &Global, args: &ApplyArgs) -> anyhow::Result<u8> {
    // Checked here, not only by clap: `requires = "boot"` was observed not to hold for
    // --boot (a flag of the profile-source group), and `--iface NAME PROFILE` must never
    // become an apply of the whole profile.
    if args.iface.is_some() && !args.boot {
        return Err(UsageError::new(
            "--iface NAME limits `apply --boot` (the saved profile) to one interface; it does not go with a profile. Nothing was changed",
        ));
    }
    if args.boot {
        return run_boot(g, args);
    }
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let needs_root = profile.writes_kernel_settings() || args.persist;
    if !args.dry_run && needs_root {
        require_root(&host, &profile.name, args.persist)?;
    }
    // The lock is held from before the first read: another apply cannot change values
    // under this plan.
    let (journal, _lock) = journal_and_lock(g, &host, &profile, false, args.dry_run)?;
    let interrupted = interrupted_warnings(&journal);
    // Said by a dry run too, as the reason apply would refuse (exit 2).
    let mut refusal = None;
    if !interrupted.is_empty() && !args.force {
        let why = "an earlier apply was interrupted, and applying on top would hide it: run `hostperf rollback` first (it restores the interrupted apply), or pass --force to apply anyway";
        if !args.dry_run {
            return Err(UsageError::new(format!(
                "{}\n{why}. Nothing was changed",
                interrupted.join("\n")
            )));
        }
        refusal = Some(why.to_string());
    }
    tracing::info!(profile = %profile.name, dry_run = args.dry_run, "planning the apply");
    let mut plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Apply)?;
    crate::rules::apply(&host, &profile, &mut plan);
    plan.warnings.extend(interrupted);
    super::plan::log_decisions(&plan);
    let mut notes = Vec::new();
    let files = if args.persist {
        let files = persist::files(&host, &plan, &profile, &args.units)?;
        persist::check_targets(&host, &files)?;
        plan.warnings.extend(persist::boot_overrides(&host, &files));
        let boot = BootUnits::detect(&host);
        if persist::boot_unit_rows(&plan).next().is_some() {
            plan.warnings.extend(boot.problems());
        }
        notes.extend(boot.not_running_note());
        files
    } else {
        Vec::new()
    };
    finish(
        plan,
        Run {
            host: &host,
            journal: &journal,
            profile: &profile.name,
            files: &files,
            notes,
            reapplied: None,
            dry_run: args.dry_run,
            refusal,
            format: args.format,
            outputs: &args.outputs,
        },
    )
}

/// `apply --boot [--iface NAME]`: the saved profile, planned again on the host as it is
/// now, through the same validation, journal and undo as any apply.
fn run_boot(g: &Global, args: &ApplyArgs) -> anyhow::Result<u8> {
    let host = host(g);
    if let Some(name) = &args.iface
        && !crate::tune::is_iface_name(name)
    {
        return Err(UsageError::new(format!(
            "--iface {name:?}: not an interface name (1 to 15 bytes, no '/', ':' or whitespace)"
        )));
    }
    let Some(mut profile) = saved::load(&Catalog::new(&g.profile_dir), &host)? else {
        report::print(&format!(
            "nothing to apply: {} does not exist (`hostperf apply --persist PROFILE` saves it)",
            saved::path(&host).display()
        ))?;
        return Ok(exit::OK);
    };
    if let Some(name) = &args.iface
        && !iface::exists(&host, name)
    {
        report::print(&format!(
            "interface {name} is not present (it went away again); nothing to do"
        ))?;
        return Ok(exit::OK);
    }
    if !args.dry_run {
        require_root(&host, &profile.name, false)?;
    }
    let (journal, _lock) = journal_and_lock(g, &host, &profile, true, args.dry_run)?;
    // An apply interrupted before this boot changed nothing that is still live (the
    // kernel started afresh), and no operator is there to roll it back: go on, and say so.
    let interrupted = interrupted_warnings(&journal);
    let mut notes = saved::for_boot(&host, &mut profile);
    let mut plan = Plan::build(&host, &profile, &Targets::default(), Purpose::Apply)?;
    crate::rules::apply(&host, &profile, &mut plan);
    let only = args.iface.as_deref();
    // Settings of an interface that is not here (a per-interface sysctl) wait for the udev
    // rule too; with --iface, only that interface's settings.
    plan.items
        .retain(|item| match item.knob.as_ref().and_then(Knob::iface) {
            Some(name) => only.is_none_or(|o| o == name) && iface::exists(&host, name),
            None => only.is_none(),
        });
    if let Some(name) = only {
        plan.warnings.retain(|w| w.contains(name));
        notes.clear();
        if plan.items.is_empty() {
            notes.push(format!(
                "the saved profile {} sets nothing on {name}",
                profile.name
            ));
        }
    }
    plan.warnings.extend(interrupted);
    finish(
        plan,
        Run {
            host: &host,
            journal: &journal,
            profile: &profile.name,
            files: &[],
            notes,
            reapplied: Some(Reapplied {
                from: saved::path(&host).display().to_string(),
                iface: only.map(str::to_string),
            }),
            dry_run: args.dry_run,
            refusal: None,
            format: args.format,
            outputs: &args.outputs,
        },
    )
}

/// The journal of this run, recording in each snapshot the command line, whether it
/// re-applies the saved profile, and the profile document; and its lock, unless this is a
/// dry run. A re-apply waits for another apply to finish (the boot unit and the
/// per-interface units may start together); an operator's apply does not.
fn journal_and_lock(
    g: &Global,
    host: &Host,
    profile: &Profile,
    reapply: bool,
    dry_run: bool,
) -> anyhow::Result<(Journal, Option<Lock>)> {
    let journal = journal(g).with_origin(Origin {
        command: Some(Origin::command_line()),
        reapply,
        profile_doc: saved::document(host, profile).ok(),
    });
    let lock = match (dry_run, reapply) {
        // The state directory is checked as apply would (owner, mode, links) without
        // creating it; unprivileged, a dry run only shows the plan (apply needs root).
        (true, _) if rustix::process::geteuid().is_root() => {
            journal.check_dirs()?;
            None
        }
        (true, _) => None,
        (false, true) => Some(journal.lock_within(BOOT_LOCK_WAIT)?),
        (false, false) => Some(lock(&journal)?),
    };
    Ok((journal, lock))
}

/// On a live host, writing kernel settings (or files in /etc) needs root: refused before
/// anything is read, with exit 2.
fn require_root(host: &Host, profile: &str, persist: bool) -> anyhow::Result<()> {
    if host.is_live() && !rustix::process::geteuid().is_root() {
        return Err(UsageError::new(format!(
            "hostperf apply needs privilege: {profile} writes kernel settings (/proc/sys, /sys, network devices{}), which only root may change; run as root (sudo hostperf apply ...); nothing was changed",
            if persist { ", files in /etc" } else { "" }
        )));
    }
    Ok(())
}

/// The common end of every apply: the dry run's plan, or the blockers, or the writes and
/// their report.
fn finish(plan: Plan, run: Run) -> anyhow::Result<u8> {
    let persisted: Vec<PersistedFile> = run.files.iter().map(PersistedFile::from).collect();
    let blockers: Vec<&PlanItem> = plan.blockers().collect();
    if run.dry_run {
        let doc = ApplyDoc {
            schema_version: doc::SCHEMA_VERSION,
            profile: run.profile.to_string(),
            dry_run: true,
            snapshot_id: None,
            changed: plan.changes().map(changed).collect(),
            skipped: plan.items.iter().filter_map(skipped).collect(),
            blocking: blockers.iter().map(|i| blocked(i)).collect(),
            persisted: persisted.clone(),
            warnings: plan.warnings.clone(),
            notes: run.notes.clone(),
            reapplied: run.reapplied,
        };
        deliver(run.format, run.outputs, |format, style| {
            Ok(match format {
                ListFormat::Table => dry_run_table(&plan, &persisted, style),
                ListFormat::Json => report::json(&doc),
            })
        })?;
        tell(&plan.warnings, &run.notes);
        if let Some(why) = &run.refusal {
            report::warn(format!("apply would refuse {}: {why}", run.profile));
            return Ok(exit::USAGE);
        }
        if blockers.is_empty() {
            return Ok(exit::OK);
        }
        // Said on stderr too: a script that checks the exit code sees why.
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr().lock(),
            format_args!(
                "hostperf: {}\n",
                refusal(run.profile, &blockers, "apply would refuse")
            ),
        );
        return Ok(exit::USAGE);
    }
    if !blockers.is_empty() {
        return Err(UsageError::new(refusal(
            run.profile,
            &blockers,
            "cannot apply",
        )));
    }
    let mut skipped_rows: Vec<SkippedSetting> = plan.items.iter().filter_map(skipped).collect();
    let mut changes = plan.journal_changes();
    changes.extend(persist::changes(run.host, run.files)?);
    // Optional settings the kernel or driver refuses at write time are skipped, not undone.
    let optional: HashSet<Knob> = plan
        .items
        .iter()
        .filter(|i| i.optional)
        .filter_map(|i| i.knob.clone())
        .collect();
    let applied = crate::apply::apply_skipping(
        run.host,
        run.journal,
        run.profile,
        changes.clone(),
        &optional,
    )?;
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
        profile: run.profile.to_string(),
        dry_run: false,
        snapshot_id: applied.snapshot_id.clone(),
        changed,
        skipped: skipped_rows,
        blocking: Vec::new(),
        persisted,
        warnings: plan.warnings.clone(),
        notes: run.notes.clone(),
        reapplied: run.reapplied,
    };
    tracing::info!(snapshot = ?doc.snapshot_id, changed = doc.changed.len(), "applied");
    deliver(run.format, run.outputs, |format, style| {
        Ok(match format {
            ListFormat::Json => report::json(&doc),
            ListFormat::Table => tables::apply_table(&doc, style),
        })
    })?;
    tell(&plan.warnings, &run.notes);
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
