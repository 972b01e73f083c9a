//! `hostperf rollback`: restore the values saved before an apply.

use crate::apply::{self, Outcome};
use crate::cli::*;
use crate::exit::{self, UsageError};
use crate::report::{self, plan as tables};

use super::{host, journal, lock};

pub fn run(g: &Global, args: &RollbackArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let journal = journal(g);
    if args.list {
        let snapshots = journal.list()?;
        report::print(&match args.format {
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
    report::print(&match args.format {
        ListFormat::Table => tables::rollback_table(&snapshot, &report),
        ListFormat::Json => report::json(&report),
    })?;
    let complete = report
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Restored | Outcome::AlreadyPrevious));
    Ok(if complete { exit::OK } else { exit::FAILED })
}
