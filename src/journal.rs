//! The journal: a snapshot of previous values, written durably before the first write of
//! an apply, and the lock that keeps two applies (or rollbacks) from interleaving.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::tune::Knob;

pub const SCHEMA_VERSION: u32 = 1;

/// One knob an apply changes: what it was and what it was set to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub knob: Knob,
    /// `None`: a managed file that did not exist.
    pub previous: Option<String>,
    pub applied: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Written before the first change; an apply that died part way leaves this.
    Applying,
    Applied,
    /// The apply failed and its writes were undone.
    Reverted,
    RolledBack,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema_version: u32,
    pub id: String,
    pub profile: String,
    /// UTC, RFC 3339.
    pub created: String,
    /// The host root the changes were made under.
    pub root: PathBuf,
    pub state: State,
    pub changes: Vec<Change>,
}

/// The state directory: `snapshots/ID.json` and `lock`.
pub struct Journal {
    dir: PathBuf,
}

/// Held while an apply or rollback runs; released on drop.
pub struct Lock {
    _file: fs::File,
}

impl Journal {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Journal { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the lock without waiting: a second apply fails at once and says why.
    pub fn lock(&self) -> anyhow::Result<Lock> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create the state directory {}", self.dir.display()))?;
        let path = self.dir.join("lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Lock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another hostperf apply or rollback is running (lock {} is held); wait for it to finish",
                path.display()
            ),
            Err(fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    pub fn new_snapshot(&self, profile: &str, root: &Path, changes: Vec<Change>) -> Snapshot {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let created = rfc3339(now.as_secs());
        let compact: String = created.chars().filter(|c| c.is_ascii_digit()).collect();
        Snapshot {
            schema_version: SCHEMA_VERSION,
            id: format!("{compact}-{:03}-{profile}", now.subsec_millis()),
            profile: profile.to_string(),
            created,
            root: root.to_path_buf(),
            state: State::Applying,
            changes,
        }
    }

    /// Writes a new snapshot durably before apply's first change: created under its final
    /// name (O_EXCL), fdatasync'd, then the directory fsync'd. No temp file and rename are
    /// needed: a crash can tear the file only before the first change, when it records
    /// nothing that was done, and readers skip a torn snapshot.
    pub fn save(&self, snapshot: &Snapshot) -> anyhow::Result<()> {
        let path = self.snapshot_path(&snapshot.id);
        let mut line = serde_json::to_vec(snapshot)?;
        line.push(b'\n');
        create_durably(&path, &line)
            .with_context(|| format!("cannot write the snapshot {}", path.display()))
    }

    /// Records a later state (applied, reverted, rolled back) by appending a line, without
    /// fsync. Losing it in a crash is harmless: the snapshot then still reads `applying`,
    /// which rollback treats like `applied`, and restoring values already back is a no-op.
    pub fn mark(&self, snapshot: &Snapshot) -> anyhow::Result<()> {
        use std::io::Write;
        let path = self.snapshot_path(&snapshot.id);
        let mut line = serde_json::to_vec(&StateLine {
            state: snapshot.state,
        })?;
        line.push(b'\n');
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(&line))
            .with_context(|| format!("cannot update the snapshot {}", path.display()))
    }

    /// All snapshots, oldest first.
    pub fn list(&self) -> anyhow::Result<Vec<Snapshot>> {
        let dir = self.dir.join("snapshots");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
        };
        let mut snapshots = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "jsonl") {
                match read_snapshot(&path) {
                    Ok(snapshot) => snapshots.push(snapshot),
                    Err(e) => tracing::warn!("skipping {}: {e:#}", path.display()),
                }
            }
        }
        snapshots.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(snapshots)
    }

    pub fn get(&self, id: &str) -> anyhow::Result<Snapshot> {
        if id.contains('/') || id.starts_with('.') {
            return Err(crate::exit::UsageError::new(format!(
                "{id:?} is not a snapshot id"
            )));
        }
        let path = self.snapshot_path(id);
        if !path.exists() {
            return Err(crate::exit::UsageError::new(format!(
                "no snapshot {id:?} in {}; see `hostperf rollback --list`",
                self.dir.display()
            )));
        }
        read_snapshot(&path)
    }

    /// The newest snapshot whose changes are still in place (applied, or an apply that died).
    pub fn latest_restorable(&self) -> anyhow::Result<Option<Snapshot>> {
        Ok(self
            .list()?
            .into_iter()
            .rev()
            .find(|s| matches!(s.state, State::Applied | State::Applying)))
    }

    fn snapshot_path(&self, id: &str) -> PathBuf {
        self.dir.join("snapshots").join(format!("{id}.jsonl"))
    }
}

/// A state change appended to a snapshot file.
#[derive(Serialize, Deserialize)]
struct StateLine {
    state: State,
}

/// The first line is the snapshot; later lines are state changes, the last one wins. A torn
/// last line (crash while appending) is ignored.
fn read_snapshot(path: &Path) -> anyhow::Result<Snapshot> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let mut snapshot: Snapshot = lines
        .next()
        .and_then(|first| serde_json::from_str(first).ok())
        .with_context(|| {
            format!(
                "{} is not a hostperf snapshot (torn by a crash before any change, or from another version)",
                path.display()
            )
        })?;
    for line in lines {
        if let Ok(update) = serde_json::from_str::<StateLine>(line) {
            snapshot.state = update.state;
        }
    }
    Ok(snapshot)
}

fn create_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_data()?;
    fs::File::open(dir)?.sync_all()
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::sysctl::SysctlKey;

    #[test]
    fn dates_format_as_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_868_436), "2026-11-28T12:20:36Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn snapshots_round_trip_and_the_latest_restorable_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        let knob = Knob::sysctl(SysctlKey::parse("net.core.somaxconn").unwrap());
        let change = Change {
            knob,
            previous: Some("128".into()),
            applied: Some("4096".into()),
        };
        let mut first = journal.new_snapshot("p", Path::new("/"), vec![change.clone()]);
        first.id = "1-first".into();
        journal.save(&first).unwrap();
        first.state = State::Applied;
        journal.mark(&first).unwrap();
        let mut second = journal.new_snapshot("p", Path::new("/"), vec![change]);
        second.id = "2-second".into();
        journal.save(&second).unwrap();
        second.state = State::Reverted;
        journal.mark(&second).unwrap();
        // A torn third snapshot (crash mid-write) is skipped, not fatal.
        std::fs::write(dir.path().join("snapshots/3-torn.jsonl"), "{\"schema_vers").unwrap();
        assert_eq!(journal.list().unwrap().len(), 2);
        let latest = journal.latest_restorable().unwrap().unwrap();
        assert_eq!(latest.id, "1-first");
        assert_eq!(latest.changes[0].previous.as_deref(), Some("128"));
        assert!(journal.get("../etc").is_err());
    }

    #[test]
    fn a_second_lock_fails_while_the_first_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        let held = journal.lock().unwrap();
        let err = journal.lock().err().expect("second lock must fail");
        assert!(err.to_string().contains("another hostperf"), "{err}");
        drop(held);
        assert!(journal.lock().is_ok());
    }
}
