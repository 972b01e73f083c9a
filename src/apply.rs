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
    let mut snapshot = journal.new_snapshot(profile, host, changes);
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
    if let Err(error) = journal.mark(&snapshot) {
        return Err(unrecorded(host, journal, &mut snapshot, error));
    }
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
    let not_restored = restore(host, &snapshot.changes[..=failed_at]);
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

/// Puts back the previous value of each change, newest first, skipping those already back.
/// Returns the ones that could not be restored, as "setting: why".
fn restore(host: &Host, changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .rev()
        .filter_map(|change| {
            put_back(host, change)
                .err()
                .map(|e| format!("{}: {e}", change.knob))
        })
        .collect()
}

/// Every write succeeded but the journal could not record it (a full or failing disk): an
/// apply the journal cannot vouch for is undone, and the message says exactly what stayed.
fn unrecorded(
    host: &Host,
    journal: &Journal,
    snapshot: &mut Snapshot,
    error: anyhow::Error,
) -> anyhow::Error {
    let not_restored = restore(host, &snapshot.changes);
    let id = snapshot.id.clone();
    if not_restored.is_empty() {
        snapshot.state = State::Reverted;
        let note = match journal.mark(snapshot) {
            Ok(()) => String::new(),
            Err(_) => format!(
                " The journal still calls snapshot {id} unfinished; `hostperf rollback` will find every value already back and close it."
            ),
        };
        anyhow::Error::new(ApplyFailed {
            message: format!(
                "apply wrote all {} setting(s) but could not record that in the journal ({error:#}), so it undid every change: the host is as it was.{note} Free space in {} and apply again.",
                snapshot.changes.len(),
                journal.dir().display()
            ),
            bad_input: false,
        })
    } else {
        anyhow::Error::new(ApplyFailed {
            message: format!(
                "apply wrote all {} setting(s) but could not record that in the journal ({error:#}); undoing them failed for: {}\nThe host is NOT as it was. Free space in {}, then run `hostperf rollback {id}`.",
                snapshot.changes.len(),
                not_restored.join("; "),
                journal.dir().display()
            ),
            bad_input: false,
        })
    }
}

/// What rollback did with one change.
#[derive(Debug, Serialize)]
pub struct Restored {
    /// The snapshot the change belongs to.
    pub snapshot: String,
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
    /// Its network interface no longer exists: nothing left to restore.
    Gone,
    Failed,
}

/// Refuses (exit 2) a rollback under another root, or in another network namespace than
/// the apply's when the snapshot holds per-namespace settings, unless `force`: writing
/// there would change a different namespace.
pub fn check_rollback(host: &Host, snapshot: &Snapshot, force: bool) -> anyhow::Result<()> {
    if snapshot.root != host.root() {
        return Err(UsageError::new(format!(
            "snapshot {} was taken under root {}, not {}; pass --root {}",
            snapshot.id,
            snapshot.root.display(),
            host.root().display(),
            snapshot.root.display()
        )));
    }
    if let Some(taken) = &snapshot.netns
        && snapshot.touches_netns()
        && !force
    {
        let here = host.netns();
        if here.as_ref().map(|h| h.inode) != Some(taken.inode) {
            let here = here.map_or("an unknown network namespace".to_string(), |h| {
                format!("network namespace {h}")
            });
            let how = match &taken.name {
                Some(name) => format!("`ip netns exec {name} hostperf rollback {}`", snapshot.id),
                None => "hostperf inside that namespace".to_string(),
            };
            return Err(UsageError::new(format!(
                "snapshot {} was taken in network namespace {taken}, and this is {here}: rolling it back here would write another namespace's settings. Run {how}, or pass --force if that namespace is gone and you mean to write this one",
                snapshot.id
            )));
        }
    }
    Ok(())
}

/// Restores `snapshot`'s previous values, newest change first. The caller holds the lock.
///
/// First [`check_rollback`]. Settings of an interface that is gone are skipped with a
/// message and the rest restored; a snapshot whose every remaining setting is back is
/// marked rolled back.
pub fn rollback(
    host: &Host,
    journal: &Journal,
    mut snapshot: Snapshot,
    force: bool,
) -> anyhow::Result<Vec<Restored>> {
    check_rollback(host, &snapshot, force)?;
    let mut report = Vec::new();
    for change in snapshot.changes.iter().rev() {
        let knob = &change.knob;
        let mut row = |outcome, detail| {
            report.push(Restored {
                snapshot: snapshot.id.clone(),
                setting: knob.to_string(),
                outcome,
                detail,
            })
        };
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        if let Some(iface) = knob.iface()
            && !host.exists(format!("/sys/class/net/{iface}"))
        {
            row(
                Outcome::Gone,
                format!("interface {iface} no longer exists; skipped, the rest is restored"),
            );
            continue;
        }
        let now = match knob.read(host) {
            Ok(v) => v,
            Err(e) => {
                row(
                    Outcome::Failed,
                    format!("cannot read the current value: {e}"),
                );
                continue;
            }
        };
        let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => knob.normalize(a) == knob.normalize(b),
            (None, None) => true,
            _ => false,
        };
        if same(&now, &change.previous) {
            row(Outcome::AlreadyPrevious, format!("already {}", show(&now)));
            continue;
        }
        if !same(&now, &change.applied) && !force {
            row(
                Outcome::SkippedDrift,
                format!(
                    "changed since the apply (applied {}, now {}); left alone, use --force to restore {}",
                    show(&change.applied),
                    show(&now),
                    show(&change.previous)
                ),
            );
            continue;
        }
        match knob.write(host, change.previous.as_deref()) {
            Ok(()) => row(
                Outcome::Restored,
                format!("{} -> {}", show(&now), show(&change.previous)),
            ),
            Err(e) => row(Outcome::Failed, e.to_string()),
        }
    }
    if report.iter().all(|r| r.outcome.is_done()) {
        snapshot.state = State::RolledBack;
        journal.mark(&snapshot)?;
    }
    Ok(report)
}

impl Outcome {
    /// Nothing is left to restore for this change.
    pub fn is_done(&self) -> bool {
        matches!(
            self,
            Outcome::Restored | Outcome::AlreadyPrevious | Outcome::Gone
        )
    }
}
