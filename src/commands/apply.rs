//! `hostperf apply`: validate the whole plan, journal, write, read back. `--boot` applies
//! the profile `apply --persist` saved, as the boot unit and the udev rule do.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::cli::*;
use crate::exit::{self, UsageError};
use crate::host::Host;
use crate::journal::{Journal, Lock, Origin};
use crate::persist::{self, saved, units::BootUnits};
use crate::plan::{Action, Plan, Purpose, Targets};
use crate::profile::{Catalog, Profile};
use crate::report::{self, plan as tables};
use crate::tune::Knob;
use crate::tune::net::iface;

use super::{host, interrupted_warnings, journal, load_profile, lock, targets};

/// How long `apply --boot` waits for another apply (the boot unit and the per-interface
/// units may start together).
const BOOT_LOCK_WAIT: Duration = Duration::from_secs(60);

#[derive(Serialize)]
struct ApplyOutput<'a> {
    profile: &'a str,
    dry_run: bool,
    snapshot_id: Option<String>,
    changed: Vec<ChangedRow>,
    skipped: Vec<String>,
    persisted: &'a [persist::PersistFile],
    warnings: &'a [String],
    /// What the operator should know that is not a problem (e.g. systemd not running).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
    /// With --boot: the saved profile applied, and the interface when --iface.
    #[serde(skip_serializing_if = "Option::is_none")]
    reapplied: Option<Reapplied<'a>>,
}

#[derive(Serialize)]
struct Reapplied<'a> {
    from: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    iface: Option<&'a str>,
}

#[derive(Serialize)]
struct ChangedRow {
    setting: String,
    from: Option<String>,
    to: Option<String>,
}

/// Everything `finish` needs besides the plan.
struct Run<'a> {
    host: &'a Host,
    journal: &'a Journal,
    profile: &'a str,
    files: &'a [persist::PersistFile],
    notes: Vec<String>,
    reapplied: Option<Reapplied<'a>>,
    dry_run: bool,
    format: ListFormat,
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
    if !interrupted.is_empty() && !args.dry_run && !args.force {
        return Err(UsageError::new(format!(
            "{}\nApplying on top would hide it: run `hostperf rollback` first (it restores the interrupted apply), or pass --force to apply anyway. Nothing was changed",
            interrupted.join("\n")
        )));
    }
    let mut plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Apply)?;
    crate::rules::apply(&host, &profile, &mut plan);
    plan.warnings.extend(interrupted);
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
            format: args.format,
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
                iface: only,
            }),
            dry_run: args.dry_run,
            format: args.format,
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
    if run.dry_run {
        report::print(&match run.format {
            ListFormat::Table => tables::plan_table(&plan, run.files),
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
            run.profile,
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
        profile: run.profile,
        dry_run: false,
        snapshot_id: applied.snapshot_id.clone(),
        changed: rows,
        skipped,
        persisted: run.files,
        warnings: &plan.warnings,
        notes: &run.notes,
        reapplied: run.reapplied,
    };
    report::print(&match run.format {
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
    let what = match &o.reapplied {
        Some(r) => format!(
            "{} (saved in {}{})",
            o.profile,
            r.from,
            r.iface
                .map(|i| format!(", interface {i}"))
                .unwrap_or_default()
        ),
        None => o.profile.to_string(),
    };
    let mut out = match &o.snapshot_id {
        None => format!("{what}: the host already matches; nothing changed\n"),
        Some(id) => format!(
            "{}\n{what}: changed {} setting(s); previous values saved as snapshot {id} (undo: hostperf rollback)\n",
            report::render(&t),
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
    for n in o.notes {
        let _ = writeln!(out, "note: {n}");
    }
    for w in o.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
