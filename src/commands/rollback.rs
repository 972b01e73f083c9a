//! `hostperf rollback`: restore the values saved before an apply, list the snapshots, or
//! forget one that can never be restored.

use std::fmt::Write as _;

use crate::apply;
use crate::cli::*;
use crate::exit;
use crate::journal::{Forgotten, Journal};
use crate::report::doc::{
    self, ChangedSetting, ForgetDoc, RollbackDoc, RolledBack, SnapshotListDoc, SnapshotSummary,
};
use crate::report::{self, Style, plan as tables};
use crate::tune::Knob;

use super::{host, interrupted_warning, journal, lock};

pub fn run(g: &Global, args: &RollbackArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let journal = journal(g);
    if args.list {
        return list(&journal, args.format);
    }
    let _lock = lock(&journal)?;
    if let Some(id) = &args.forget {
        let forgotten = journal.forget(id)?;
        report::print(&match args.format {
            ListFormat::Table => forgotten_text(&forgotten),
            ListFormat::Json => report::json(&forget_doc(&forgotten)),
        })?;
        return Ok(exit::OK);
    }
    let mut order = journal.to_restore(args.id.as_deref())?;
    if args.id.is_none() {
        with_reapplied(&journal, &mut order)?;
    }
    // Every snapshot is checked (root, network namespace) before any is restored.
    for snapshot in &order {
        apply::check_rollback(&host, snapshot, args.force)?;
    }
    for snapshot in order
        .iter()
        .filter(|s| s.state == crate::journal::State::Applying)
    {
        report::warn(format!(
            "{}; restoring it now",
            interrupted_warning(snapshot)
        ));
    }
    let mut text = String::new();
    let mut snapshots = Vec::new();
    let style = Style::stdout();
    for snapshot in order {
        tracing::info!(snapshot = %snapshot.id, settings = snapshot.changes.len(), "restoring");
        let rows = apply::rollback(&host, &journal, snapshot.clone(), args.force)?;
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&tables::rollback_table(&snapshot, &rows, style));
        let done = rows.iter().all(|r| r.outcome.is_done());
        snapshots.push(RolledBack {
            snapshot_id: snapshot.id.clone(),
            profile: snapshot.profile.clone(),
            created: snapshot.created.clone(),
            state: if done {
                "rolled-back"
            } else {
                "partly-rolled-back"
            }
            .to_string(),
            settings: rows,
        });
    }
    let complete = snapshots
        .iter()
        .all(|s| s.settings.iter().all(|r| r.outcome.is_done()));
    report::print(&match args.format {
        ListFormat::Table => text,
        ListFormat::Json => report::json(&RollbackDoc {
            schema_version: doc::SCHEMA_VERSION,
            snapshots,
            complete,
        }),
    })?;
    // An interrupted apply this rollback did not reach is still reported.
    for warning in super::interrupted_warnings(&journal) {
        report::warn(warning);
    }
    Ok(if complete { exit::OK } else { exit::FAILED })
}

/// `--list`: the snapshots newest first; damaged ones as warnings. Says so when there is
/// none.
fn list(journal: &Journal, format: ListFormat) -> anyhow::Result<u8> {
    let scan = journal.scan()?;
    let damaged: Vec<String> = scan.damaged.iter().map(ToString::to_string).collect();
    report::print(&match format {
        ListFormat::Table if scan.snapshots.is_empty() => report::table::prose(
            &format!(
                "no snapshots in {}: nothing applied with this state directory is left to roll back{}\n",
                journal.dir().display(),
                if damaged.is_empty() {
                    ""
                } else {
                    " (only damaged files, see the warnings)"
                }
            ),
            Style::stdout(),
        ),
        ListFormat::Table => tables::snapshots_table(&scan.snapshots, Style::stdout()),
        ListFormat::Json => report::json(&SnapshotListDoc {
            schema_version: doc::SCHEMA_VERSION,
            snapshots: scan.snapshots.iter().map(SnapshotSummary::from).collect(),
            damaged: damaged.clone(),
        }),
    })?;
    for d in &damaged {
        report::warn(d);
    }
    Ok(exit::OK)
}

fn forget_doc(f: &Forgotten) -> ForgetDoc {
    ForgetDoc {
        schema_version: doc::SCHEMA_VERSION,
        snapshot_id: f.id.clone(),
        snapshot: f.snapshot.as_ref().map(SnapshotSummary::from),
        previous: f
            .snapshot
            .iter()
            .flat_map(|s| &s.changes)
            .map(ChangedSetting::from)
            .collect(),
        damaged: f.damaged.as_ref().map(ToString::to_string),
    }
}

/// When the default rollback reaches a re-apply of the saved profile (`apply --boot`, at
/// boot or when an interface appeared), it goes on to the apply it re-applied, so one
/// `hostperf rollback` undoes the apply and everything that brought it back: its settings,
/// the saved profile and sysctl.d (and so the boot unit's work at later boots).
fn with_reapplied(
    journal: &crate::journal::Journal,
    order: &mut Vec<crate::journal::Snapshot>,
) -> anyhow::Result<()> {
    let restorable: Vec<crate::journal::Snapshot> = journal
        .list()?
        .into_iter()
        .filter(|s| {
            matches!(
                s.state,
                crate::journal::State::Applied | crate::journal::State::Applying
            )
        })
        .collect();
    while let Some(oldest) = order.last().filter(|s| s.reapply) {
        let Some(before) = restorable
            .iter()
            .rev()
            .find(|s| s.id < oldest.id && !order.iter().any(|o| o.id == s.id))
        else {
            break;
        };
        order.push(before.clone());
    }
    Ok(())
}

/// What `--forget` removed, with the previous values it recorded.
fn forgotten_text(f: &Forgotten) -> String {
    let mut out = format!("forgot snapshot {}", f.id);
    match (&f.snapshot, &f.damaged) {
        (Some(s), _) => {
            let _ = writeln!(
                out,
                " ({}, {}, {}); the previous values it recorded were:",
                s.profile,
                s.created,
                s.state.label()
            );
            for c in &s.changes {
                let value = match (&c.knob, &c.previous) {
                    (Knob::File { .. }, Some(_)) => "(file content)".to_string(),
                    (Knob::File { .. }, None) => "(no file)".to_string(),
                    (_, Some(v)) => v.clone(),
                    (_, None) => "(absent)".to_string(),
                };
                let _ = writeln!(out, "  {} = {value}", c.knob);
            }
        }
        (None, Some(d)) => {
            let _ = writeln!(out, "; it was unreadable: {d}");
        }
        (None, None) => out.push('\n'),
    }
    out
}
