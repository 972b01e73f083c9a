//! `hostperf rollback`: restore the values saved before an apply, list the snapshots, or
//! forget one that can never be restored.

use std::fmt::Write as _;

use crate::apply;
use crate::cli::*;
use crate::exit;
use crate::journal::Forgotten;
use crate::report::{self, plan as tables};

use super::{host, interrupted_warning, journal, lock};

pub fn run(g: &Global, args: &RollbackArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let journal = journal(g);
    if args.list {
        let scan = journal.scan()?;
        for damaged in &scan.damaged {
            tracing::warn!("{damaged}");
        }
        report::print(&match args.format {
            ListFormat::Table => {
                let mut text = tables::snapshots_table(&scan.snapshots);
                for damaged in &scan.damaged {
                    let _ = writeln!(text, "damaged: {damaged}");
                }
                text
            }
            ListFormat::Json => report::json(&scan.snapshots),
        })?;
        return Ok(exit::OK);
    }
    let _lock = lock(&journal)?;
    if let Some(id) = &args.forget {
        let forgotten = journal.forget(id)?;
        report::print(&match args.format {
            ListFormat::Table => forgotten_text(&forgotten),
            ListFormat::Json => report::json(&forgotten),
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
        tracing::warn!("{}; restoring it now", interrupted_warning(snapshot));
    }
    let mut text = String::new();
    let mut rows = Vec::new();
    for snapshot in order {
        let report = apply::rollback(&host, &journal, snapshot.clone(), args.force)?;
        text.push_str(&tables::rollback_table(&snapshot, &report));
        rows.extend(report);
    }
    report::print(&match args.format {
        ListFormat::Table => text,
        ListFormat::Json => report::json(&rows),
    })?;
    // An interrupted apply this rollback did not reach is still reported.
    for warning in super::interrupted_warnings(&journal) {
        tracing::warn!("{warning}");
    }
    let complete = rows.iter().all(|r| r.outcome.is_done());
    Ok(if complete { exit::OK } else { exit::FAILED })
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
                    (crate::tune::Knob::File { .. }, Some(_)) => "(file content)".to_string(),
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
