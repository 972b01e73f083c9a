//! One function per subcommand: build the Host, call the layers, render, pick the exit code.

use std::fmt::Write as _;

use anyhow::Context;
use serde::Serialize;

use crate::apply::{self, Outcome};
use crate::check::CheckReport;
use crate::cli::*;
use crate::diagnose;
use crate::exit::{self, UsageError};
use crate::host::Host;
use crate::host::sysctl::SysctlKey;
use crate::journal::Journal;
use crate::persist;
use crate::plan::{Action, Plan, Purpose, Targets};
use crate::profile::{Catalog, Profile};
use crate::report::{self, plan as tables};
use crate::tune::Knob;

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let g = &cli.global;
    match &cli.command {
        Command::Profiles(args) => profiles(g, args),
        Command::Plan(args) => plan(g, args),
        Command::Apply(args) => apply(g, args),
        Command::Check(args) => check(g, args),
        Command::Rollback(args) => rollback(g, args),
        Command::Show(args) => show(g, args),
        Command::Diagnose(args) => diagnose::run(g, args),
        Command::Snapshot(args) => diagnose::snapshot(g, args),
    }
}

pub fn host(g: &Global) -> Host {
    match &g.root {
        Some(root) => Host::with_root(root),
        None => Host::live(),
    }
}

fn load_profile(g: &Global, selector: &ProfileSelector) -> anyhow::Result<Profile> {
    let catalog = Catalog::new(&g.profile_dir);
    match (&selector.file, &selector.name) {
        (Some(path), _) => catalog.load_file(path),
        (None, Some(name)) => catalog.load(name),
        (None, None) => Err(UsageError::new("name a profile, or pass --file PATH")),
    }
}

fn targets(args: &TargetArgs) -> Targets {
    Targets {
        pids: args.pids.clone(),
        names: args.processes.clone(),
    }
}

fn journal(g: &Global) -> Journal {
    Journal::new(&g.state_dir)
}

fn lock(journal: &Journal) -> anyhow::Result<crate::journal::Lock> {
    journal.lock().with_context(|| {
        format!(
            "hostperf keeps snapshots in {}; run as root or pass --state-dir DIR",
            journal.dir().display()
        )
    })
}

fn profiles(g: &Global, args: &ProfilesArgs) -> anyhow::Result<u8> {
    let catalog = Catalog::new(&g.profile_dir);
    match &args.action {
        None => {
            let list = catalog.list()?;
            report::print(&match args.output {
                ListFormat::Table => tables::profiles_table(&list),
                ListFormat::Json => report::json(&list),
            })?;
        }
        Some(ProfilesAction::Show { name, output }) => {
            let profile = catalog.load(name)?;
            report::print(&match output {
                DocFormat::Yaml => yaml_serde::to_string(&profile)?,
                DocFormat::Json => report::json(&profile),
            })?;
        }
    }
    Ok(exit::OK)
}

fn plan(g: &Global, args: &PlanArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Apply)?;
    report::print(&match args.output {
        ListFormat::Table => tables::plan_table(&plan, &[]),
        ListFormat::Json => report::json(&plan),
    })?;
    Ok(exit::OK)
}

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

fn apply(g: &Global, args: &ApplyArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let journal = journal(g);
    // Held from before the first read: another apply cannot change values under this plan.
    let _lock = if args.dry_run {
        None
    } else {
        Some(lock(&journal)?)
    };
    let plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Apply)?;
    let files = if args.persist {
        persist::files(&plan, &profile, &args.units)?
    } else {
        Vec::new()
    };
    if args.dry_run {
        report::print(&match args.output {
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
            Action::Skipped(why) if i.knob.is_some() => Some(format!("{}: {why}", i.setting)),
            _ => None,
        })
        .collect();
    for s in &skipped {
        tracing::warn!("skipped {s}");
    }
    let mut changes = plan.journal_changes();
    changes.extend(persist::changes(&host, &files)?);
    let rows: Vec<ChangedRow> = changes
        .iter()
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
    let applied = apply::apply(&host, &journal, &profile.name, changes)?;
    let output = ApplyOutput {
        profile: &profile.name,
        dry_run: false,
        snapshot_id: applied.snapshot_id.clone(),
        changed: rows,
        skipped,
        persisted: &files,
        warnings: &plan.warnings,
    };
    report::print(&match args.output {
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

fn check(g: &Global, args: &CheckArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Check)?;
    let report = CheckReport::from_plan(&plan, host.root());
    for (format, path) in &args.outputs {
        report::write_file(
            path,
            &report::check::render(&report, *format, report::Style::FILE),
        )?;
    }
    report::print(&report::check::render(
        &report,
        args.format,
        report::Style::stdout(),
    ))?;
    Ok(report.exit_code())
}

fn rollback(g: &Global, args: &RollbackArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let journal = journal(g);
    if args.list {
        let snapshots = journal.list()?;
        report::print(&match args.output {
            ListFormat::Table => tables::snapshots_table(&snapshots),
            ListFormat::Json => report::json(&snapshots),
        })?;
        return Ok(exit::OK);
    }
    let _lock = lock(&journal)?;
    let snapshot = match &args.id {
        Some(id) => journal.get(id)?,
        None => journal.latest_restorable()?.ok_or_else(|| {
            UsageError::new(format!(
                "no applied snapshot to roll back in {}; see `hostperf rollback --list`",
                journal.dir().display()
            ))
        })?,
    };
    let report = apply::rollback(&host, &journal, snapshot.clone(), args.force)?;
    report::print(&match args.output {
        ListFormat::Table => tables::rollback_table(&snapshot, &report),
        ListFormat::Json => report::json(&report),
    })?;
    let complete = report
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Restored | Outcome::AlreadyPrevious));
    Ok(if complete { exit::OK } else { exit::FAILED })
}

#[derive(Serialize)]
struct ShownValue {
    kind: &'static str,
    setting: String,
    value: Option<String>,
    error: Option<String>,
}

fn show(g: &Global, args: &ShowArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let mut knobs: Vec<Knob> = Vec::new();
    if args.keys.is_empty() {
        let catalog = Catalog::new(&g.profile_dir);
        for summary in catalog.list()? {
            let profile = catalog.load(&summary.name)?;
            knobs.extend(profile.sysctl.keys().cloned().map(Knob::sysctl));
            if let Ok(settings) = profile.network.expand(&host) {
                knobs.extend(settings.into_iter().map(|s| s.knob));
            }
        }
    } else {
        for key in &args.keys {
            let key = SysctlKey::parse(key).map_err(|e| UsageError::new(e.to_string()))?;
            knobs.push(Knob::sysctl(key));
        }
    }
    knobs.sort();
    knobs.dedup();
    let mut any_error = false;
    let values: Vec<ShownValue> = knobs
        .iter()
        .map(|knob| {
            let (value, error) = match knob.read(&host) {
                Ok(v) => (v.map(|v| knob.normalize(&v)), None),
                Err(e) => {
                    any_error = true;
                    (None, Some(e.message))
                }
            };
            ShownValue {
                kind: knob.kind(),
                setting: knob.to_string(),
                value,
                error,
            }
        })
        .collect();
    report::print(&match args.output {
        ListFormat::Json => report::json(&values),
        ListFormat::Table => {
            let rows: Vec<(String, String, String)> = values
                .iter()
                .map(|v| {
                    let shown = match (&v.value, &v.error) {
                        (Some(value), _) => value.clone(),
                        (None, Some(e)) => format!("({e})"),
                        (None, None) => "(absent)".into(),
                    };
                    (v.kind.to_string(), v.setting.clone(), shown)
                })
                .collect();
            tables::values_table(&rows)
        }
    })?;
    // Named keys that cannot be read are the caller's problem; the default list may
    // include keys this kernel lacks.
    Ok(if any_error && !args.keys.is_empty() {
        exit::NOT_EVALUATED
    } else {
        exit::OK
    })
}
