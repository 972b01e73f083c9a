//! The journal: a snapshot of previous values, written durably before the first write of
//! an apply, and the lock that keeps two applies (or rollbacks) from interleaving.
//!
//! Rollback runs as root and writes what a snapshot names, so the state directory is a
//! trust boundary (docs/design.md, "Trust model"): it must be a real directory owned by the
//! user running hostperf and writable by nobody else; the lock, `snapshots/` and every
//! snapshot are opened relative to its fd with O_NOFOLLOW and checked the same way. Snapshot
//! file names are ids hostperf makes (time and random bits), never profile text. A snapshot
//! whose entries name something no profile could produce, or that a newer hostperf wrote,
//! is refused and described, never half used.

use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustix::fs::{AtFlags, Mode, OFlags};
use serde::{Deserialize, Serialize};

use crate::exit::UsageError;
use crate::host::{FaultPlan, Host, NetnsId};
use crate::tune::Knob;

/// The snapshot format this hostperf writes. 2 added `netns`; version 1 is read too.
pub const SCHEMA_VERSION: u32 = 2;

/// The largest snapshot read: one that persisted files holds their old content.
pub const SNAPSHOT_LIMIT: u64 = 16 << 20;

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
    /// Written before the first change; an apply that died part way (or whose undo failed)
    /// leaves this: an interrupted apply, reported by every later apply, plan and rollback.
    Applying,
    Applied,
    /// The apply failed and its writes were undone.
    Reverted,
    RolledBack,
    /// A rollback restored some settings and left others alone (changed since the apply,
    /// or failed): still restorable, `rollback --force` finishes it.
    PartlyRolledBack,
}

impl State {
    /// Whether some of its changes may still be in place for a rollback to restore.
    pub fn is_restorable(self) -> bool {
        matches!(
            self,
            State::Applied | State::Applying | State::PartlyRolledBack
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Applying => "interrupted",
            State::Applied => "applied",
            State::Reverted => "reverted",
            State::RolledBack => "rolled back",
            State::PartlyRolledBack => "partly rolled back",
        }
    }
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
    /// The network namespace of the apply (live hosts; absent in version 1 snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsId>,
    pub state: State,
    pub changes: Vec<Change>,
    /// The command line that made it (`hostperf apply --persist latency-profile`), control
    /// characters replaced; absent in snapshots of hostperf versions before `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// A re-apply of the profile `apply --persist` saved (`apply --boot`, run by
    /// hostperf-apply.service at boot and by hostperf-iface@.service when an interface
    /// appears), not an operator's apply: the default rollback goes on to the apply it
    /// re-applied.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reapply: bool,
    /// The resolved profile as a self-contained profile document (the text `apply
    /// --persist` saves as /etc/hostperf/applied.yaml), so `status` checks the host against
    /// exactly what was applied. Only read, never applied from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_doc: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a run records about itself in every snapshot it makes (see [`Snapshot`]).
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub command: Option<String>,
    pub reapply: bool,
    pub profile_doc: Option<String>,
}

impl Origin {
    /// This process's command line as one line of text: `hostperf ARGS...`, control
    /// characters shown as `?`, at most 512 characters.
    pub fn command_line() -> String {
        let args: Vec<String> = std::env::args_os()
            .skip(1)
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut text = String::from("hostperf");
        for arg in args {
            text.push(' ');
            text.push_str(&arg);
        }
        clean_line(&text, 512)
    }
}

/// `text` on one line: control characters as `?`, cut at `max` characters.
pub fn clean_line(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

impl Snapshot {
    /// Whether any change is per network namespace (a net.* sysctl or a network knob).
    pub fn touches_netns(&self) -> bool {
        self.changes.iter().any(|c| c.knob.is_per_netns())
    }
}

/// Why a snapshot file cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// No complete first line: the apply died while writing it, before its first change.
    Torn,
    /// A complete first line that is not a snapshot (corrupted or edited).
    Garbled,
    /// Written by a newer hostperf.
    Newer,
    /// Names something no profile could produce (a file hostperf does not persist, an
    /// invalid interface), or is not a regular file owned by this user.
    Refused,
}

/// A snapshot file that cannot be used, described as far as it can be read.
#[derive(Clone, Debug, Serialize)]
pub struct Damaged {
    pub id: String,
    pub problem: Problem,
    pub detail: String,
    /// What could still be read of it: profile, time, the settings it lists.
    pub lists: Option<String>,
    /// False only when the file shows the apply stopped before its first change.
    pub may_have_changed: bool,
}

impl fmt::Display for Damaged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = &self.id;
        match self.problem {
            Problem::Torn => write!(
                f,
                "snapshot {id} is torn ({}): an apply writes its snapshot completely before its first change, so that apply changed nothing; `hostperf rollback --forget {id}` removes the file",
                self.detail
            ),
            Problem::Newer => write!(
                f,
                "snapshot {id} was written by a newer hostperf ({}); this hostperf reads schema versions 1 to {SCHEMA_VERSION} and will not guess: roll it back with that version or later",
                self.detail
            ),
            Problem::Garbled | Problem::Refused => {
                write!(f, "snapshot {id} is damaged: {}", self.detail)?;
                if let Some(lists) = &self.lists {
                    write!(f, "; it lists {lists}")?;
                }
                write!(
                    f,
                    "; the apply it records may have changed settings: compare with `hostperf check PROFILE`, then `hostperf rollback --forget {id}` removes it"
                )
            }
        }
    }
}

/// Every snapshot in the state directory: the usable ones (oldest first) and the rest.
#[derive(Debug, Default)]
pub struct Scan {
    pub snapshots: Vec<Snapshot>,
    pub damaged: Vec<Damaged>,
}

/// What `rollback --forget` removed.
#[derive(Debug, Serialize)]
pub struct Forgotten {
    pub id: String,
    /// The snapshot as read, when it could be: its previous values are printed so nothing
    /// is lost without a trace.
    pub snapshot: Option<Snapshot>,
    pub damaged: Option<Damaged>,
}

/// The state directory: `snapshots/ID.jsonl` and `lock`.
pub struct Journal {
    dir: PathBuf,
    faults: Option<Arc<FaultPlan>>,
    origin: Origin,
    /// The checked state directory and `snapshots/`, once opened.
    state: OnceLock<Dir>,
    snapshots: OnceLock<Dir>,
}

/// Held while an apply or rollback runs; released on drop.
pub struct Lock {
    _file: fs::File,
}

/// An open, checked directory of the state tree.
struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

impl Journal {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Journal {
            dir: dir.into(),
            faults: None,
            origin: Origin::default(),
            state: OnceLock::new(),
            snapshots: OnceLock::new(),
        }
    }

    /// Makes journal writes fail, to test what apply does then. Op "journal", paths
    /// `save` (the snapshot), `mark` (a state change), `lock`.
    pub fn with_faults(mut self, faults: FaultPlan) -> Self {
        self.faults = Some(Arc::new(faults));
        self
    }

    /// Records `origin` (command line, re-apply, profile document) in every snapshot this
    /// journal makes.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn injected(&self, what: &str) -> io::Result<()> {
        match self
            .faults
            .as_ref()
            .and_then(|f| f.take("journal", Path::new(what)))
        {
            Some(errno) => Err(io::Error::from_raw_os_error(errno)),
            None => Ok(()),
        }
    }

    /// Takes the lock without waiting: a second apply fails at once and says why (exit 2).
    /// Creates the state directory (0700) when absent.
    pub fn lock(&self) -> anyhow::Result<Lock> {
        self.lock_within(std::time::Duration::ZERO)
    }

    /// Like [`Journal::lock`], but waits up to `wait` for another apply or rollback to
    /// finish (checking every 50 ms): what the boot unit and the per-interface units do,
    /// which may start together.
    pub fn lock_within(&self, wait: std::time::Duration) -> anyhow::Result<Lock> {
        let dir = self.state_dir(true)?.expect("created");
        let path = dir.path.join("lock");
        self.injected("lock")
            .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
        let fd = open_file(dir, "lock", OFlags::RDWR | OFlags::CREATE, "lock file")?;
        let file = fs::File::from(fd);
        let deadline = std::time::Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let waited = if wait.is_zero() {
                        String::new()
                    } else {
                        format!(", waited {:.1} s", wait.as_secs_f64())
                    };
                    return Err(UsageError::new(format!(
                        "another hostperf apply or rollback is running (lock {} is held{waited}); wait for it to finish, nothing was changed",
                        path.display()
                    )));
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(anyhow::anyhow!("cannot lock {}: {e}", path.display()));
                }
            }
        }
    }

    /// A new snapshot of `changes` on `host`, in state `applying`. Its id is the time and
    /// random bits: nothing from the profile reaches a file name.
    pub fn new_snapshot(&self, profile: &str, host: &Host, changes: Vec<Change>) -> Snapshot {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let created = rfc3339(now.as_secs());
        let compact: String = created.chars().filter(|c| c.is_ascii_digit()).collect();
        let random = crate::host::random_u64() as u32;
        Snapshot {
            schema_version: SCHEMA_VERSION,
            id: format!("{compact}-{:03}-{random:08x}", now.subsec_millis()),
            profile: profile.to_string(),
            created,
            root: host.root().to_path_buf(),
            netns: host.netns(),
            state: State::Applying,
            changes,
            command: self.origin.command.clone(),
            reapply: self.origin.reapply,
            profile_doc: self.origin.profile_doc.clone(),
        }
    }

    /// Writes a new snapshot durably before apply's first change: created under its final
    /// name (O_EXCL|O_NOFOLLOW) in the checked `snapshots/`, fdatasync'd, then the directory
    /// fsync'd. No temp file and rename are needed: a crash can tear the file only before
    /// the first change, and a torn first line is reported as such.
    pub fn save(&self, snapshot: &Snapshot) -> anyhow::Result<()> {
        let dir = self.snapshots_dir(true)?.expect("created");
        let name = file_name(&snapshot.id)?;
        let mut line = serde_json::to_vec(snapshot)?;
        line.push(b'\n');
        let path = dir.path.join(&name);
        (|| -> io::Result<()> {
            self.injected("save")?;
            // The marker first: one directory fsync below makes both entries durable.
            let marker = rustix::fs::openat(
                &dir.fd,
                unfinished_name(&snapshot.id),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            drop(marker);
            let fd = rustix::fs::openat(
                &dir.fd,
                &name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            let mut file = fs::File::from(fd);
            file.write_all(&line)?;
            file.sync_data()?;
            rustix::fs::fsync(&dir.fd)?;
            Ok(())
        })()
        .map_err(|e| anyhow::anyhow!("cannot write the snapshot {}: {e}", path.display()))
    }

    /// Records a later state (applied, reverted, rolled back) by appending a line, without
    /// fsync: an fdatasync here doubled apply's cost over `sysctl -p` (bench/apply-check.sh).
    /// A write error (ENOSPC is reported by write(2) on ext4 and xfs, which reserve blocks
    /// at write time) is still seen. A record lost to a power cut leaves `applying`, which
    /// is reported as "did not record that it finished" and restored by rollback: values
    /// already back are left as they are.
    pub fn mark(&self, snapshot: &Snapshot) -> anyhow::Result<()> {
        let dir = self.snapshots_dir(false)?.ok_or_else(|| {
            anyhow::anyhow!("the snapshots directory in {} is gone", self.dir.display())
        })?;
        let name = file_name(&snapshot.id)?;
        let path = dir.path.join(&name);
        let mut line = serde_json::to_vec(&StateLine {
            state: snapshot.state,
        })?;
        line.push(b'\n');
        let fd = open_file(dir, &name, OFlags::WRONLY | OFlags::APPEND, "snapshot")?;
        (|| -> io::Result<()> {
            self.injected("mark")?;
            fs::File::from(fd).write_all(&line)?;
            if snapshot.state != State::Applying {
                match rustix::fs::unlinkat(&dir.fd, unfinished_name(&snapshot.id), AtFlags::empty())
                {
                    Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        })()
        .map_err(|e| anyhow::anyhow!("cannot update the snapshot {}: {e}", path.display()))
    }

    /// Every snapshot, usable ones oldest first; damaged ones described. A missing state
    /// directory is empty.
    pub fn scan(&self) -> anyhow::Result<Scan> {
        let Some(dir) = self.snapshots_dir(false)? else {
            return Ok(Scan::default());
        };
        let mut scan = Scan::default();
        for id in list_ids(dir, SNAPSHOT)? {
            match read_snapshot(dir, &id) {
                Ok(snapshot) => scan.snapshots.push(snapshot),
                Err(damaged) => scan.damaged.push(damaged),
            }
        }
        Ok(scan)
    }

    /// The usable snapshots, oldest first (damaged ones are left to `scan`).
    pub fn list(&self) -> anyhow::Result<Vec<Snapshot>> {
        Ok(self.scan()?.snapshots)
    }

    /// One snapshot by id; a damaged one is an error that describes it.
    pub fn get(&self, id: &str) -> anyhow::Result<Snapshot> {
        let name = file_name(id)?;
        let missing = || {
            UsageError::new(format!(
                "no snapshot {id:?} in {}; see `hostperf rollback --list`",
                self.dir.display()
            ))
        };
        let dir = self.snapshots_dir(false)?.ok_or_else(missing)?;
        if let Err(rustix::io::Errno::NOENT) =
            rustix::fs::statat(&dir.fd, &name, AtFlags::SYMLINK_NOFOLLOW)
        {
            return Err(missing());
        }
        read_snapshot(dir, id).map_err(|d| UsageError::new(d.to_string()))
    }

    /// The snapshots from one listing of `snapshots/`, read newest first as the caller
    /// asks, and the applies that did not record that they finished: what `status` reads.
    /// It stops at the apply it reports, so beyond the listing its cost does not grow with
    /// the number of snapshots. A missing state directory has no history.
    pub fn history(&self) -> anyhow::Result<History<'_>> {
        let Some(dir) = self.snapshots_dir(false)? else {
            return Ok(History {
                dir: None,
                ids: Vec::new(),
                unfinished: Vec::new(),
            });
        };
        let names = list_names(dir)?;
        let ids = |suffix: &str| {
            let mut ids: Vec<String> = names
                .iter()
                .filter_map(|n| n.strip_suffix(suffix).map(str::to_string))
                .collect();
            ids.sort();
            ids
        };
        Ok(History {
            dir: Some(dir),
            ids: ids(SNAPSHOT),
            unfinished: ids(UNFINISHED),
        })
    }

    /// The newest snapshot whose changes are still in place (applied, or interrupted).
    pub fn latest_restorable(&self) -> anyhow::Result<Option<Snapshot>> {
        Ok(self
            .list()?
            .into_iter()
            .rev()
            .find(|s| s.state.is_restorable()))
    }

    /// Checks the state directory and its snapshots directory as every journal operation
    /// does (owner, mode, no links), without creating them or reading a snapshot: what a
    /// dry run needs. The opened directories are kept for later calls.
    pub fn check_dirs(&self) -> anyhow::Result<()> {
        self.snapshots_dir(false).map(|_| ())
    }

    /// Applies that did not record that they finished (state `applying`), oldest first.
    /// Run by every plan and apply, so it costs one directory listing however many
    /// snapshots there are: an apply leaves an empty `ID.unfinished` marker beside its
    /// snapshot until it records a finished state, and only marked snapshots are read
    /// (a marker whose snapshot says finished, from a crash between the two, is ignored).
    /// Snapshots of hostperf versions before the marker are found by `rollback` only.
    pub fn interrupted(&self) -> anyhow::Result<Vec<Snapshot>> {
        let Some(dir) = self.snapshots_dir(false)? else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for id in list_ids(dir, UNFINISHED)? {
            if let Ok(snapshot) = read_snapshot(dir, &id)
                && snapshot.state == State::Applying
            {
                found.push(snapshot);
            }
        }
        Ok(found)
    }

    /// The snapshots a rollback restores, newest first. Without an id: the latest apply, and
    /// when an apply was interrupted, every apply from the oldest interrupted one on (so no
    /// interrupted apply stays hidden below a later one). With an id: that snapshot, after
    /// every newer one when any newer one was interrupted. A damaged snapshot newer than
    /// the target stops the default rollback: restoring older values under it could leave
    /// the host half changed.
    pub fn to_restore(&self, id: Option<&str>) -> anyhow::Result<Vec<Snapshot>> {
        let scan = self.scan()?;
        let restorable: Vec<&Snapshot> = scan
            .snapshots
            .iter()
            .filter(|s| s.state.is_restorable())
            .collect();
        let Some(id) = id else {
            let Some(newest) = restorable.last() else {
                if let Some(d) = scan.damaged.iter().find(|d| d.may_have_changed) {
                    return Err(UsageError::new(format!(
                        "no usable snapshot to roll back; {d}"
                    )));
                }
                return Err(UsageError::new(format!(
                    "no applied snapshot to roll back in {}; see `hostperf rollback --list`",
                    self.dir.display()
                )));
            };
            if let Some(d) = scan
                .damaged
                .iter()
                .find(|d| d.may_have_changed && d.id > newest.id)
            {
                return Err(UsageError::new(format!(
                    "the newest snapshot cannot be read, so rolling back older ones could leave the host half changed: {d}"
                )));
            }
            let from = restorable
                .iter()
                .position(|s| s.state == State::Applying)
                .unwrap_or(restorable.len() - 1);
            return Ok(restorable[from..]
                .iter()
                .rev()
                .map(|s| (*s).clone())
                .collect());
        };
        let target = self.get(id)?;
        let newer: Vec<&Snapshot> = restorable
            .iter()
            .copied()
            .filter(|s| s.id > target.id)
            .collect();
        let mut order = Vec::new();
        if newer.iter().any(|s| s.state == State::Applying) {
            order.extend(newer.iter().rev().map(|s| (*s).clone()));
        }
        order.push(target);
        Ok(order)
    }

    /// Removes a snapshot file (damaged or not), for one that can never be restored. The
    /// caller holds the lock.
    pub fn forget(&self, id: &str) -> anyhow::Result<Forgotten> {
        let name = file_name(id)?;
        let dir = self.snapshots_dir(false)?.ok_or_else(|| {
            UsageError::new(format!("no snapshot {id:?} in {}", self.dir.display()))
        })?;
        if let Err(rustix::io::Errno::NOENT) =
            rustix::fs::statat(&dir.fd, &name, AtFlags::SYMLINK_NOFOLLOW)
        {
            return Err(UsageError::new(format!(
                "no snapshot {id:?} in {}; see `hostperf rollback --list`",
                self.dir.display()
            )));
        }
        let (snapshot, damaged) = match read_snapshot(dir, id) {
            Ok(s) => (Some(s), None),
            Err(d) => (None, Some(d)),
        };
        match rustix::fs::unlinkat(&dir.fd, unfinished_name(id), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "cannot remove {}: {e}",
                    dir.path.join(unfinished_name(id)).display()
                ));
            }
        }
        rustix::fs::unlinkat(&dir.fd, &name, AtFlags::empty())
            .and_then(|()| rustix::fs::fsync(&dir.fd))
            .map_err(|e| {
                anyhow::anyhow!("cannot remove {}: {e}", dir.path.join(&name).display())
            })?;
        Ok(Forgotten {
            id: id.to_string(),
            snapshot,
            damaged,
        })
    }

    /// The state directory, checked; created 0700 when absent and `create`. Opened once
    /// per Journal: every later open is relative to this fd.
    fn state_dir(&self, create: bool) -> anyhow::Result<Option<&Dir>> {
        if let Some(dir) = self.state.get() {
            return Ok(Some(dir));
        }
        Ok(open_dir(None, &self.dir, create, "state directory")?
            .map(|dir| self.state.get_or_init(|| dir)))
    }

    fn snapshots_dir(&self, create: bool) -> anyhow::Result<Option<&Dir>> {
        if let Some(dir) = self.snapshots.get() {
            return Ok(Some(dir));
        }
        let Some(state) = self.state_dir(create)? else {
            return Ok(None);
        };
        Ok(open_dir(
            Some(state),
            Path::new("snapshots"),
            create,
            "snapshots directory",
        )?
        .map(|dir| self.snapshots.get_or_init(|| dir)))
    }
}

/// A snapshot id as a file name: ids are made by hostperf (digits, '-', hex); older ids
/// carried the profile name, so letters, digits, '.', '_' and '-' are accepted, never a '/'
/// or a leading dot.
fn file_name(id: &str) -> anyhow::Result<String> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !ok {
        return Err(UsageError::new(format!(
            "{id:?} is not a snapshot id; see `hostperf rollback --list`"
        )));
    }
    Ok(format!("{id}{SNAPSHOT}"))
}

/// Opens a directory (the state directory by path, or `name` below `parent`) with
/// O_NOFOLLOW and refuses it unless this user owns it and nobody else may write it.
fn open_dir(
    parent: Option<&Dir>,
    name: &Path,
    create: bool,
    what: &str,
) -> anyhow::Result<Option<Dir>> {
    let path = match parent {
        Some(p) => p.path.join(name),
        None => name.to_path_buf(),
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let open = || match parent {
        Some(p) => rustix::fs::openat(&p.fd, name, flags, Mode::empty()),
        None => rustix::fs::open(name, flags, Mode::empty()),
    };
    let fd = match open() {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) if !create => return Ok(None),
        Err(rustix::io::Errno::NOENT) => {
            let made = match parent {
                Some(p) => rustix::fs::mkdirat(&p.fd, name, Mode::from_raw_mode(0o700)),
                None => rustix::fs::mkdir(name, Mode::from_raw_mode(0o700)),
            };
            match made {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(dir_error(&path, what, e)),
            }
            open().map_err(|e| dir_error(&path, what, e))?
        }
        Err(e) => return Err(dir_error(&path, what, e)),
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| dir_error(&path, what, e))?;
    check_owner(&stat, &path, what)?;
    Ok(Some(Dir { fd, path }))
}

/// Opens a file in `dir` with O_NOFOLLOW (and O_NONBLOCK, so a FIFO cannot hang us) and
/// refuses anything but a regular file owned by this user, writable by nobody else.
fn open_file(dir: &Dir, name: &str, flags: OFlags, what: &str) -> anyhow::Result<OwnedFd> {
    let path = dir.path.join(name);
    let fd = rustix::fs::openat(
        &dir.fd,
        name,
        flags | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| match e {
        rustix::io::Errno::LOOP => UsageError::new(format!(
            "the {what} {} is a symbolic link; hostperf never follows links in its state directory. Fix: remove the link",
            path.display()
        )),
        e => anyhow::anyhow!("cannot open the {what} {}: {e}", path.display()),
    })?;
    let stat = rustix::fs::fstat(&fd)
        .map_err(|e| anyhow::anyhow!("cannot stat {}: {e}", path.display()))?;
    if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(UsageError::new(format!(
            "the {what} {} is not a regular file. Fix: remove it",
            path.display()
        )));
    }
    check_owner(&stat, &path, what)?;
    Ok(fd)
}

fn dir_error(path: &Path, what: &str, e: rustix::io::Errno) -> anyhow::Error {
    match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => {
            let link = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            if link {
                UsageError::new(format!(
                    "the {what} {} is a symbolic link; hostperf uses only a real directory there, so nobody can redirect its snapshots. Fix: pass the real directory (`readlink -f {}`)",
                    path.display(),
                    path.display()
                ))
            } else {
                UsageError::new(format!(
                    "the {what} {} is not a directory. Fix: remove it or pass another --state-dir",
                    path.display()
                ))
            }
        }
        rustix::io::Errno::ACCESS | rustix::io::Errno::PERM => UsageError::new(format!(
            "cannot use the {what} {}: permission denied. apply and rollback run as root (or pass --state-dir DIR that you own)",
            path.display()
        )),
        rustix::io::Errno::NOENT => UsageError::new(format!(
            "cannot create the {what} {}: its parent directory does not exist",
            path.display()
        )),
        e => anyhow::anyhow!("cannot open the {what} {}: {e}", path.display()),
    }
}

/// Only the user running hostperf may have written what it reads from its state.
fn check_owner(stat: &rustix::fs::Stat, path: &Path, what: &str) -> anyhow::Result<()> {
    let me = rustix::process::geteuid().as_raw();
    if stat.st_uid != me {
        return Err(UsageError::new(format!(
            "the {what} {} is owned by uid {}, not by uid {me} running hostperf: its owner could plant snapshots that rollback would write back. Fix: check its content, then `chown -R {me} {}`, or pass --state-dir DIR that you own",
            path.display(),
            stat.st_uid,
            path.display()
        )));
    }
    if stat.st_mode & 0o022 != 0 {
        return Err(UsageError::new(format!(
            "the {what} {} is writable by group or others (mode {:04o}): any of them could plant snapshots that rollback would write back. Fix: check its content, then `chmod go-w {}`",
            path.display(),
            stat.st_mode & 0o7777,
            path.display()
        )));
    }
    Ok(())
}

/// A state change appended to a snapshot file.
#[derive(Serialize, Deserialize)]
struct StateLine {
    state: State,
}

/// File suffixes in `snapshots/`: the snapshot, and the marker of an unfinished apply.
const SNAPSHOT: &str = ".jsonl";
const UNFINISHED: &str = ".unfinished";

fn unfinished_name(id: &str) -> String {
    format!("{id}{UNFINISHED}")
}

/// The ids of the files in `dir` named `ID{suffix}`, sorted (oldest first).
fn list_ids(dir: &Dir, suffix: &str) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = list_names(dir)?
        .into_iter()
        .filter_map(|name| name.strip_suffix(suffix).map(str::to_string))
        .collect();
    ids.sort();
    Ok(ids)
}

/// The names in a state directory, hidden ones (a writer's temp files) left out.
fn list_names(dir: &Dir) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(&dir.fd)
        .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.path.display()))?
    {
        let entry =
            entry.map_err(|e| anyhow::anyhow!("cannot list {}: {e}", dir.path.display()))?;
        let name = entry.file_name().to_string_lossy();
        if !name.starts_with('.') {
            names.push(name.into_owned());
        }
    }
    Ok(names)
}

/// The snapshots of one listing (see [`Journal::history`]).
pub struct History<'a> {
    dir: Option<&'a Dir>,
    /// Snapshot ids, oldest first.
    ids: Vec<String>,
    /// Ids with an `.unfinished` marker.
    unfinished: Vec<String>,
}

impl History<'_> {
    /// Every snapshot, newest first, each read when the iterator reaches it.
    pub fn newest_first(&self) -> impl Iterator<Item = Result<Snapshot, Damaged>> + '_ {
        self.ids
            .iter()
            .rev()
            .filter_map(|id| self.dir.map(|dir| read_snapshot(dir, id)))
    }

    /// Applies that did not record that they finished, oldest first (as
    /// [`Journal::interrupted`], from this listing).
    pub fn interrupted(&self) -> Vec<Snapshot> {
        let Some(dir) = self.dir else {
            return Vec::new();
        };
        self.unfinished
            .iter()
            .filter_map(|id| read_snapshot(dir, id).ok())
            .filter(|s| s.state == State::Applying)
            .collect()
    }

    /// How many snapshots there are.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The bytes of one snapshot file, opened and checked like every state file.
fn read_bytes(dir: &Dir, id: &str) -> Result<Vec<u8>, Damaged> {
    let damaged = |detail: String| Damaged {
        id: id.to_string(),
        problem: Problem::Refused,
        detail,
        lists: None,
        may_have_changed: true,
    };
    let name = file_name(id).map_err(|e| damaged(e.to_string()))?;
    let fd =
        open_file(dir, &name, OFlags::RDONLY, "snapshot").map_err(|e| damaged(format!("{e:#}")))?;
    let mut bytes = Vec::new();
    fs::File::from(fd)
        .take(SNAPSHOT_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| damaged(format!("cannot read it: {e}")))?;
    if bytes.len() as u64 > SNAPSHOT_LIMIT {
        return Err(damaged(format!("larger than {} MiB", SNAPSHOT_LIMIT >> 20)));
    }
    Ok(bytes)
}

/// Reads and checks one snapshot: the first line is the snapshot, later lines are state
/// changes (the last one wins; a torn last line, from a crash while appending, is ignored).
fn read_snapshot(dir: &Dir, id: &str) -> Result<Snapshot, Damaged> {
    let bytes = read_bytes(dir, id)?;
    parse_snapshot(id, &bytes)
}

/// The checks of [`read_snapshot`] over the file's bytes.
pub fn parse_snapshot(id: &str, bytes: &[u8]) -> Result<Snapshot, Damaged> {
    let mut out = Damaged {
        id: id.to_string(),
        problem: Problem::Garbled,
        detail: String::new(),
        lists: None,
        may_have_changed: true,
    };
    let Some(end) = bytes.iter().position(|&b| b == b'\n') else {
        out.problem = Problem::Torn;
        out.may_have_changed = false;
        out.detail = if bytes.is_empty() {
            "it is empty".into()
        } else {
            format!("its {} bytes hold no complete first line", bytes.len())
        };
        return Err(out);
    };
    let value: serde_json::Value = match serde_json::from_slice(&bytes[..end]) {
        Ok(v) => v,
        Err(e) => {
            out.detail = format!("its first line is not JSON ({e})");
            return Err(out);
        }
    };
    out.lists = describe(&value);
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if v > u64::from(SCHEMA_VERSION) => {
            out.problem = Problem::Newer;
            out.detail = format!("schema version {v}");
            return Err(out);
        }
        Some(v) if v >= 1 => {}
        _ => {
            out.detail = "it has no valid schema_version".into();
            return Err(out);
        }
    }
    let mut snapshot: Snapshot = match serde_json::from_value(value) {
        Ok(s) => s,
        Err(e) => {
            out.detail = format!("its first line is not a snapshot ({e})");
            return Err(out);
        }
    };
    if snapshot.id != id {
        out.problem = Problem::Refused;
        out.detail = format!("it names snapshot {:?} but is stored as {id}", snapshot.id);
        return Err(out);
    }
    for change in &snapshot.changes {
        if let Err(why) = check_change(change) {
            out.problem = Problem::Refused;
            out.detail = format!("an entry names something no profile produces: {why}");
            return Err(out);
        }
    }
    let rest = &bytes[end + 1..];
    let mut lines = rest.split(|&b| b == b'\n').peekable();
    let mut number = 1;
    while let Some(line) = lines.next() {
        number += 1;
        let last = lines.peek().is_none();
        if last {
            // Empty after the final newline, or torn by a crash while appending: ignored.
            if let Ok(update) = serde_json::from_slice::<StateLine>(line) {
                snapshot.state = update.state;
            }
            break;
        }
        match serde_json::from_slice::<StateLine>(line) {
            Ok(update) => snapshot.state = update.state,
            Err(e) => {
                out.detail = format!("line {number} is not a state change ({e})");
                return Err(out);
            }
        }
    }
    Ok(snapshot)
}

/// A journal entry may only name what a profile could produce, with values hostperf could
/// have read or generated.
fn check_change(change: &Change) -> Result<(), String> {
    change.knob.check_journaled()?;
    for value in [&change.previous, &change.applied] {
        match (value, &change.knob) {
            (None, Knob::File { .. }) => {}
            (None, knob) => return Err(format!("{knob}: a value is missing")),
            (Some(v), Knob::File { .. }) => {
                if v.contains('\0') {
                    return Err("a file's content has a NUL byte".into());
                }
            }
            (Some(v), knob) => {
                if v.len() > 4096 || v.chars().any(|c| c.is_control() && c != '\t') {
                    return Err(format!(
                        "{knob}: the value {:?} is not a single line of text",
                        v.chars().take(80).collect::<String>()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// "profile P, created C, N change(s): a, b, ..." from whatever of a snapshot parses.
fn describe(value: &serde_json::Value) -> Option<String> {
    let text = |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let mut parts = Vec::new();
    if let Some(p) = text("profile") {
        parts.push(format!("profile {p}"));
    }
    if let Some(c) = text("created") {
        parts.push(format!("created {c}"));
    }
    if let Some(changes) = value.get("changes").and_then(|v| v.as_array()) {
        let names: Vec<String> = changes
            .iter()
            .take(8)
            .map(|c| {
                let knob = &c["knob"];
                ["key", "path", "iface", "resource"]
                    .iter()
                    .find_map(|k| knob.get(*k).and_then(|v| v.as_str()))
                    .unwrap_or("?")
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(80)
                    .collect()
            })
            .collect();
        let more = if changes.len() > 8 { ", ..." } else { "" };
        parts.push(format!(
            "{} change(s): {}{more}",
            changes.len(),
            names.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
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

    fn change(key: &str) -> Change {
        Change {
            knob: Knob::sysctl(SysctlKey::parse(key).unwrap()),
            previous: Some("128".into()),
            applied: Some("4096".into()),
        }
    }

    #[test]
    fn dates_format_as_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_868_436), "2026-11-28T12:20:36Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn snapshots_round_trip_and_the_latest_restorable_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path().join("state"));
        let host = Host::with_root("/nonexistent-root");
        let mut first = journal.new_snapshot("p", &host, vec![change("net.core.somaxconn")]);
        first.id = "1-first".into();
        journal.save(&first).unwrap();
        first.state = State::Applied;
        journal.mark(&first).unwrap();
        let mut second = journal.new_snapshot("p", &host, vec![change("net.core.somaxconn")]);
        second.id = "2-second".into();
        journal.save(&second).unwrap();
        second.state = State::Reverted;
        journal.mark(&second).unwrap();
        // A third snapshot torn by a crash mid-write is described, not fatal.
        std::fs::write(
            dir.path().join("state/snapshots/3-torn.jsonl"),
            "{\"schema_vers",
        )
        .unwrap();
        let scan = journal.scan().unwrap();
        assert_eq!(scan.snapshots.len(), 2);
        assert_eq!(scan.damaged[0].problem, Problem::Torn);
        assert!(!scan.damaged[0].may_have_changed);
        let latest = journal.latest_restorable().unwrap().unwrap();
        assert_eq!(latest.id, "1-first");
        assert_eq!(latest.changes[0].previous.as_deref(), Some("128"));
        assert!(journal.get("../etc").is_err());
        let mode = std::fs::metadata(dir.path().join("state")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o700
        );
    }

    #[test]
    fn ids_carry_no_profile_text() {
        let journal = Journal::new("/nonexistent");
        let s = journal.new_snapshot("../../etc/x\nfoo", &Host::with_root("/r"), vec![]);
        assert!(
            s.id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
            "{}",
            s.id
        );
    }

    #[test]
    fn a_second_lock_fails_while_the_first_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        let held = journal.lock().unwrap();
        let err = journal.lock().err().expect("second lock must fail");
        assert!(err.to_string().contains("another hostperf"), "{err}");
        assert_eq!(crate::exit::code_for(&err), crate::exit::USAGE);
        drop(held);
        assert!(journal.lock().is_ok());
    }

    #[test]
    fn unfinished_applies_are_found_and_restored_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path().join("state"));
        let host = Host::with_root("/r");
        let save = |id: &str, states: &[State]| {
            let mut s = journal.new_snapshot("p", &host, vec![change("vm.swappiness")]);
            s.id = id.into();
            journal.save(&s).unwrap();
            for state in states {
                s.state = *state;
                journal.mark(&s).unwrap();
            }
        };
        save("1-done", &[State::Applied, State::RolledBack]);
        save("2-crashed", &[]);
        save("3-undo-failed", &[State::Applying]);
        save("4-forced", &[State::Applied]);
        save("5-reverted", &[State::Reverted]);
        let ids = |v: Vec<Snapshot>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(
            ids(journal.interrupted().unwrap()),
            ["2-crashed", "3-undo-failed"]
        );
        let snapshots = dir.path().join("state/snapshots");
        assert!(!snapshots.join("1-done.unfinished").exists());
        assert!(snapshots.join("2-crashed.unfinished").exists());
        // A crash between recording `applied` and removing the marker: still finished.
        std::fs::write(snapshots.join("4-forced.unfinished"), "").unwrap();
        assert_eq!(
            ids(journal.interrupted().unwrap()),
            ["2-crashed", "3-undo-failed"]
        );
        assert_eq!(
            ids(journal.to_restore(None).unwrap()),
            ["4-forced", "3-undo-failed", "2-crashed"]
        );
        assert_eq!(
            ids(journal.to_restore(Some("1-done")).unwrap()),
            ["4-forced", "3-undo-failed", "2-crashed", "1-done"]
        );
        assert_eq!(
            ids(journal.to_restore(Some("4-forced")).unwrap()),
            ["4-forced"]
        );
    }

    #[test]
    fn history_reads_newest_first_from_one_listing_and_records_the_origin() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path().join("state")).with_origin(Origin {
            command: Some("hostperf apply --boot".into()),
            reapply: true,
            profile_doc: Some("name: p\n".into()),
        });
        assert!(
            journal.history().unwrap().is_empty(),
            "no state directory yet"
        );
        let host = Host::with_root("/r");
        for (id, state) in [
            ("1-a", State::Applied),
            ("2-b", State::Applying),
            ("3-c", State::RolledBack),
        ] {
            let mut s = journal.new_snapshot("p", &host, vec![change("vm.swappiness")]);
            s.id = id.into();
            journal.save(&s).unwrap();
            s.state = state;
            journal.mark(&s).unwrap();
        }
        let history = journal.history().unwrap();
        assert_eq!(history.len(), 3);
        let mut read = history.newest_first();
        let newest = read.next().unwrap().unwrap();
        assert_eq!(newest.id, "3-c");
        assert_eq!(newest.command.as_deref(), Some("hostperf apply --boot"));
        assert!(newest.reapply);
        assert_eq!(newest.profile_doc.as_deref(), Some("name: p\n"));
        assert_eq!(read.next().unwrap().unwrap().id, "2-b");
        let interrupted: Vec<String> = history.interrupted().into_iter().map(|s| s.id).collect();
        assert_eq!(interrupted, ["2-b"]);
        // Without an origin, the fields stay out of the file (older readers see version 2).
        let plain = serde_json::to_string(&sample()).unwrap();
        assert!(
            !plain.contains("command")
                && !plain.contains("reapply")
                && !plain.contains("profile_doc")
        );
        assert_eq!(clean_line("a\nb\u{1b}c", 3), "a?b");
    }

    #[test]
    fn a_waiting_lock_gets_it_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        let held = journal.lock().unwrap();
        let started = std::time::Instant::now();
        let err = journal
            .lock_within(std::time::Duration::from_millis(120))
            .err()
            .expect("held");
        assert!(started.elapsed() >= std::time::Duration::from_millis(120));
        assert!(
            err.to_string().contains("held for 0 s") || err.to_string().contains("is held"),
            "{err}"
        );
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            drop(held);
        });
        assert!(
            journal
                .lock_within(std::time::Duration::from_secs(5))
                .is_ok()
        );
        release.join().unwrap();
    }

    fn line(s: &Snapshot) -> Vec<u8> {
        let mut b = serde_json::to_vec(s).unwrap();
        b.push(b'\n');
        b
    }

    fn sample() -> Snapshot {
        Journal::new("/x").new_snapshot("p", &Host::with_root("/r"), vec![change("vm.swappiness")])
    }

    #[test]
    fn a_newer_schema_is_refused_saying_which_version() {
        let mut s = sample();
        s.schema_version = SCHEMA_VERSION + 1;
        let d = parse_snapshot(&s.id, &line(&s)).unwrap_err();
        assert_eq!(d.problem, Problem::Newer);
        let text = d.to_string();
        assert!(
            text.contains(&format!("schema version {}", SCHEMA_VERSION + 1))
                && text.contains(&format!("1 to {SCHEMA_VERSION}")),
            "{text}"
        );
    }

    #[test]
    fn damage_is_described_truthfully() {
        let s = sample();
        let good = line(&s);
        // Torn before the newline: the apply never got to its first change.
        let torn = parse_snapshot(&s.id, &good[..good.len() / 2]).unwrap_err();
        assert!(!torn.may_have_changed && torn.to_string().contains("changed nothing"));
        // A complete but garbled first line: it may well have changed settings.
        let mut garbled = good.clone();
        garbled[5] = b'#';
        let d = parse_snapshot(&s.id, &garbled).unwrap_err();
        assert!(d.may_have_changed, "{d}");
        assert!(d.to_string().contains("may have changed settings"), "{d}");
        // Valid JSON but not a snapshot: what it lists is still told.
        let text = String::from_utf8(good.clone())
            .unwrap()
            .replace("\"state\"", "\"stat\"");
        let d = parse_snapshot(&s.id, text.as_bytes()).unwrap_err();
        assert!(
            d.to_string().contains("profile p") && d.to_string().contains("vm.swappiness"),
            "{d}"
        );
        // A torn last state line is ignored; a garbled one in the middle is damage.
        let mut appended = good.clone();
        appended.extend_from_slice(b"{\"state\":\"applied\"}\n{\"sta");
        assert_eq!(
            parse_snapshot(&s.id, &appended).unwrap().state,
            State::Applied
        );
        let mut middle = good;
        middle.extend_from_slice(b"garbage\n{\"state\":\"applied\"}\n");
        assert!(parse_snapshot(&s.id, &middle).is_err());
    }

    #[test]
    fn entries_no_profile_could_produce_are_refused() {
        let mut s = sample();
        s.changes = vec![Change {
            knob: Knob::File {
                path: "/etc/cron.d/evil".into(),
            },
            previous: None,
            applied: Some("* * * * * root sh\n".into()),
        }];
        let d = parse_snapshot(&s.id, &line(&s)).unwrap_err();
        assert_eq!(d.problem, Problem::Refused, "{d}");
        assert!(d.to_string().contains("/etc/cron.d/evil"), "{d}");
        let mut s = sample();
        s.changes[0].applied = Some("1\nvm.x = 2".into());
        assert!(parse_snapshot(&s.id, &line(&s)).is_err());
        let mut s = sample();
        s.id = "other".into();
        assert!(parse_snapshot("mine", &line(&s)).is_err());
    }
}
