//! Apply and rollback. Apply writes the journal before the first change and, when any
//! write fails, restores everything already written, newest first — unless the setting is
//! optional and the kernel or driver refused it at write time: then it alone is put back
//! and skipped with a warning. Rollback restores a snapshot, skipping settings someone else
//! changed since (unless forced).

use std::collections::HashSet;

use serde::Serialize;

use crate::exit::UsageError;
use crate::host::Host;
use crate::journal::{Change, Journal, Snapshot, State};
use crate::tune::{ErrorKind, Knob, TuneError};

/// How an apply ended.
#[derive(Debug, Serialize)]
pub struct Applied {
    pub snapshot_id: Option<String>,
    /// Settings written (skipped ones not counted).
    pub changed: usize,
    /// Optional settings the kernel or driver refused at write time, left as they were.
    pub skipped: Vec<SkippedWrite>,
}

/// An optional setting refused at write time.
#[derive(Debug, Serialize)]
pub struct SkippedWrite {
    pub setting: String,
    /// The kernel's or driver's answer.
    pub reason: String,
}

/// The failure of an apply, after the host was put back.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApplyFailed {
    pub message: String,
    /// The write failed because of the value or privilege (operator's input): exit 2.
    pub bad_input: bool,
}

/// Writes `changes` in order under `journal`'s lock, which the caller holds; any failure
/// undoes everything (see [`apply_skipping`] for optional settings).
pub fn apply(
    host: &Host,
    journal: &Journal,
    profile: &str,
    changes: Vec<Change>,
) -> anyhow::Result<Applied> {
    apply_skipping(host, journal, profile, changes, &HashSet::new())
}

/// A write the kernel or driver refused because of the setting or its value (EOPNOTSUPP,
/// EINVAL, ERANGE, a value read back different): what an optional setting may skip. I/O
/// faults and missing privilege are not refusals: they undo the whole apply.
fn refused(e: &TuneError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Unsupported | ErrorKind::Rejected | ErrorKind::NotTaken
    )
}

/// Writes `changes` in order under `journal`'s lock, which the caller holds. A change whose
/// knob is in `optional` and that the kernel or driver refuses at write time is put back
/// (it may have been partly taken) and reported in [`Applied::skipped`]; the rest stays
/// applied. Any other failure restores everything written, newest first, and returns the
/// error: exit code 2 when the kernel or driver rejected a value or privilege was missing
/// (the host is as it was), 1 otherwise.
pub fn apply_skipping(
    host: &Host,
    journal: &Journal,
    profile: &str,
    changes: Vec<Change>,
    optional: &HashSet<Knob>,
) -> anyhow::Result<Applied> {
    if changes.is_empty() {
        return Ok(Applied {
            snapshot_id: None,
            changed: 0,
            skipped: Vec::new(),
        });
    }
    let mut snapshot = journal.new_snapshot(profile, host.root(), changes);
    journal.save(&snapshot)?;
    tracing::info!(id = %snapshot.id, "journal written before the first change");
    let mut skipped = Vec::new();
    for (index, change) in snapshot.changes.iter().enumerate() {
        tracing::debug!(knob = %change.knob, value = ?change.applied, "write");
        let Err(error) = change.knob.write(host, change.applied.as_deref()) else {
            continue;
        };
        if !(optional.contains(&change.knob) && refused(&error)) {
            return Err(undo(host, journal, &mut snapshot, index, error));
        }
        if let Err(restore) = put_back(host, change) {
            let error = TuneError::new(
                restore.kind,
                format!("{error}; putting the previous value back failed: {restore}"),
            );
            return Err(undo(host, journal, &mut snapshot, index, error));
        }
        tracing::warn!("skipped {} (optional): {error}", change.knob);
        skipped.push(SkippedWrite {
            setting: change.knob.to_string(),
            reason: error.message,
        });
    }
    snapshot.state = State::Applied;
    journal.mark(&snapshot)?;
    Ok(Applied {
        changed: snapshot.changes.len() - skipped.len(),
        snapshot_id: Some(snapshot.id),
        skipped,
    })
}

/// Restores one change's previous value if the refused write changed anything.
fn put_back(host: &Host, change: &Change) -> Result<(), TuneError> {
    let now = change.knob.read(host).ok().flatten();
    let unchanged = match (&now, &change.previous) {
        (Some(n), Some(p)) => change.knob.normalize(n) == change.knob.normalize(p),
        (None, None) => true,
        _ => false,
    };
    if unchanged {
        return Ok(());
    }
    change.knob.write(host, change.previous.as_deref())
}

/// Restores the first `written` changes newest first (and the failed one, which may have
/// been partly taken), records the outcome, and describes it.
fn undo(
    host: &Host,
    journal: &Journal,
    snapshot: &mut Snapshot,
    failed_at: usize,
    error: TuneError,
) -> anyhow::Error {
    let mut not_restored = Vec::new();
    for change in snapshot.changes[..=failed_at].iter().rev() {
        if let Err(e) = put_back(host, change) {
            not_restored.push(format!("{}: {e}", change.knob));
        }
    }
    let failed = &snapshot.changes[failed_at];
    // A value the kernel or driver rejects (unsupported, invalid, not taken) or missing
    // privilege is the operator's to fix: exit 2, as README says. I/O faults: exit 1.
    let bad_input = matches!(
        error.kind,
        ErrorKind::Rejected
            | ErrorKind::Invalid
            | ErrorKind::NeedsPrivilege
            | ErrorKind::NotTaken
            | ErrorKind::Unsupported
    );
    snapshot.state = if not_restored.is_empty() {
        State::Reverted
    } else {
        State::Applying
    };
    let saved = journal.mark(snapshot);
    let message = if not_restored.is_empty() {
        format!(
            "apply failed at {} = {:?}: {error}\nThe {failed_at} setting(s) written before it were restored, newest first: the host is as it was.",
            failed.knob,
            failed.applied.as_deref().unwrap_or("(absent)"),
        )
    } else {
        format!(
            "apply failed at {}: {error}\nRESTORE FAILED for: {}\nThe host is NOT as it was; fix the cause and run `hostperf rollback {}`{}",
            failed.knob,
            not_restored.join("; "),
            snapshot.id,
            saved
                .err()
                .map(|e| format!(" (and the journal could not be updated: {e:#})"))
                .unwrap_or_default(),
        )
    };
    let failure = ApplyFailed {
        message,
        bad_input: bad_input && not_restored.is_empty(),
    };
    if failure.bad_input {
        UsageError::new(failure.message)
    } else {
        anyhow::Error::new(failure)
    }
}

/// What rollback did with one change.
#[derive(Debug, Serialize)]
pub struct Restored {
    pub setting: String,
    pub outcome: Outcome,
    pub detail: String,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Restored,
    AlreadyPrevious,
    /// Someone changed it after the apply; left alone without --force.
    SkippedDrift,
    Failed,
}

/// Restores `snapshot`'s previous values, newest change first. The caller holds the lock.
pub fn rollback(
    host: &Host,
    journal: &Journal,
    mut snapshot: Snapshot,
    force: bool,
) -> anyhow::Result<Vec<Restored>> {
    if snapshot.root != host.root() {
        return Err(UsageError::new(format!(
            "snapshot {} was taken under root {}, not {}; pass --root {}",
            snapshot.id,
            snapshot.root.display(),
            host.root().display(),
            snapshot.root.display()
        )));
    }
    let mut report = Vec::new();
    for change in snapshot.changes.iter().rev() {
        let knob = &change.knob;
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        let now = match knob.read(host) {
            Ok(v) => v,
            Err(e) => {
                report.push(Restored {
                    setting: knob.to_string(),
                    outcome: Outcome::Failed,
                    detail: format!("cannot read the current value: {e}"),
                });
                continue;
            }
        };
        let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => knob.normalize(a) == knob.normalize(b),
            (None, None) => true,
            _ => false,
        };
        if same(&now, &change.previous) {
            report.push(Restored {
                setting: knob.to_string(),
                outcome: Outcome::AlreadyPrevious,
                detail: format!("already {}", show(&now)),
            });
            continue;
        }
        if !same(&now, &change.applied) && !force {
            report.push(Restored {
                setting: knob.to_string(),
                outcome: Outcome::SkippedDrift,
                detail: format!(
                    "changed since the apply (applied {}, now {}); left alone, use --force to restore {}",
                    show(&change.applied),
                    show(&now),
                    show(&change.previous)
                ),
            });
            continue;
        }
        let (outcome, detail) = match knob.write(host, change.previous.as_deref()) {
            Ok(()) => (
                Outcome::Restored,
                format!("{} -> {}", show(&now), show(&change.previous)),
            ),
            Err(e) => (Outcome::Failed, e.to_string()),
        };
        report.push(Restored {
            setting: knob.to_string(),
            outcome,
            detail,
        });
    }
    if report
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Restored | Outcome::AlreadyPrevious))
    {
        snapshot.state = State::RolledBack;
        journal.mark(&snapshot)?;
    }
    Ok(report)
}
