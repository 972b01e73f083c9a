//! `hostperf status`: what is applied (from the journal), when and by which command, what
//! persists it and where, whether the host still matches it, and what else manages the
//! same settings (a sysctl file read at boot, TuneD, irqbalance).
//!
//! Read only, and bounded: the journal is read newest first and only up to the apply in
//! effect, so the cost does not grow with the number of snapshots; the drift check is
//! `check` of the profile the journal recorded.

mod owners;
pub mod render;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::check::CheckReport;
use crate::exit;
use crate::host::Host;
use crate::journal::{History, Journal, Snapshot, State};
use crate::persist::units::BootUnits;
use crate::persist::{self, saved, sysctl_d};
use crate::plan::{Plan, Purpose, Targets};
use crate::profile::{Catalog, Profile};

pub use owners::{Owner, OwnerKind};

/// The JSON shape's version (`hostperf status -o json`).
pub const SCHEMA_VERSION: u32 = 1;

/// The most snapshots read looking for the apply in effect (a host whose interfaces come
/// and go has one re-apply per matching interface that appeared).
const READ_MAX: usize = 1000;

/// Everything `status` reports.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Status {
    pub schema_version: u32,
    pub root: PathBuf,
    /// UTC, RFC 3339.
    pub checked_at: String,
    /// The apply in effect: the newest operator apply still in place. None: nothing is
    /// applied (never, or rolled back).
    pub applied: Option<Event>,
    /// Re-applies of the saved profile since that apply (boot, interfaces that appeared),
    /// newest first, at most 10; `reapplies_total` counts them all.
    pub reapplies: Vec<Event>,
    pub reapplies_total: usize,
    /// The newest snapshot when nothing is applied (a rollback, a reverted apply).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Event>,
    /// Applies that did not record that they finished.
    pub interrupted: Vec<Event>,
    pub persisted: Persisted,
    /// `check` of the applied profile now; None when nothing is applied or it could not
    /// be evaluated (`drift_unavailable` says why).
    pub drift: Option<CheckReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_unavailable: Option<String>,
    /// Where the profile checked for drift came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_profile: Option<String>,
    pub owners: Vec<Owner>,
    pub warnings: Vec<String>,
}

/// One snapshot, as status tells it.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Event {
    pub snapshot: String,
    pub profile: String,
    /// UTC, RFC 3339.
    pub at: String,
    /// The command line that made it (absent for snapshots of older versions).
    pub command: Option<String>,
    /// applied, interrupted, reverted, rolled back.
    pub state: &'static str,
    /// Settings it changed (persisted files included).
    pub changes: usize,
    pub reapply: bool,
}

impl Event {
    fn of(s: &Snapshot) -> Self {
        Event {
            snapshot: s.id.clone(),
            profile: s.profile.clone(),
            at: s.created.clone(),
            command: s
                .command
                .as_deref()
                .map(|c| crate::journal::clean_line(c, 512)),
            state: s.state.label(),
            changes: s.changes.len(),
            reapply: s.reapply,
        }
    }
}

/// What `apply --persist` left on the host, and what brings it back at boot.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Persisted {
    pub files: Vec<PersistedFile>,
    /// The name in /etc/hostperf/applied.yaml: what comes back at boot.
    pub saved_profile: Option<String>,
    pub boot: BootUnits,
    /// What stops the saved profile from coming back (unit missing, not enabled...).
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PersistedFile {
    pub path: PathBuf,
    pub what: String,
}

/// Where to look: the host, its journal and the profile catalog (for snapshots of
/// versions that did not record their profile).
pub struct Sources<'a> {
    pub host: &'a Host,
    pub journal: &'a Journal,
    pub catalog: &'a Catalog,
}

/// Builds the status of `src.host`.
pub fn build(src: &Sources) -> anyhow::Result<Status> {
    let host = src.host;
    let mut warnings = Vec::new();
    let history = src.journal.history()?;
    let found = find_applied(&history, &mut warnings);
    let interrupted = history.interrupted().iter().map(Event::of).collect();
    let saved_profile = saved_profile(src.catalog, host, &mut warnings);
    let persisted = persisted(host, saved_profile.as_ref());
    let mut status = Status {
        schema_version: SCHEMA_VERSION,
        root: host.root().to_path_buf(),
        checked_at: crate::journal::rfc3339(now()),
        applied: found.applied.as_ref().map(Event::of),
        reapplies: found.reapplies.iter().take(10).map(Event::of).collect(),
        reapplies_total: found.reapplies.len(),
        last: found.last.as_ref().map(Event::of),
        interrupted,
        persisted,
        drift: None,
        drift_unavailable: None,
        checked_profile: None,
        owners: Vec::new(),
        warnings,
    };
    let Some(applied) = found.applied.as_ref().or(found.reapplies.first()) else {
        if let Some(name) = &status.persisted.saved_profile {
            status.warnings.push(format!(
                "nothing is applied, but {} saves profile {name} for boot: it comes back at the next boot; `hostperf rollback` of the apply that saved it removes it",
                persist::APPLIED_FILE
            ));
        }
        return Ok(status);
    };
    if status.applied.is_none() {
        status.applied = Some(Event::of(applied));
    }
    match status.persisted.saved_profile.as_deref() {
        None => status.warnings.push(format!(
            "{} is applied but not persisted: the host returns to its previous settings at the next boot (`hostperf apply --persist {}` keeps it)",
            applied.profile, applied.profile
        )),
        Some(saved) if saved != applied.profile => status.warnings.push(format!(
            "{} is applied, but {saved} is the profile saved for boot ({}): {saved} comes back at the next boot",
            applied.profile,
            persist::APPLIED_FILE
        )),
        Some(_) => {}
    }
    match profile_of(src, applied, saved_profile) {
        Ok((mut profile, origin)) => {
            status.checked_profile = Some(origin);
            let notes = saved::for_boot(host, &mut profile);
            let plan =
                Plan::build(host, &profile, &Targets::default(), Purpose::Check).map(|mut plan| {
                    crate::rules::apply(host, &profile, &mut plan);
                    plan
                });
            match plan {
                Ok(mut plan) => {
                    plan.warnings.extend(notes);
                    status.owners = owners::find(host, &plan);
                    status.drift = Some(CheckReport::from_plan(&plan, host.root()));
                }
                Err(e) => status.drift_unavailable = Some(format!("{e:#}")),
            }
        }
        Err(why) => status.drift_unavailable = Some(why),
    }
    Ok(status)
}

impl Status {
    /// As check: 1 on drift, 3 when the applied profile could not be evaluated, else 0
    /// (nothing applied is 0).
    pub fn exit_code(&self) -> u8 {
        match (&self.drift, &self.applied) {
            (Some(report), _) => report.exit_code(),
            (None, Some(_)) => exit::NOT_EVALUATED,
            (None, None) => exit::OK,
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// What the journal says is in effect.
#[derive(Default)]
struct Found {
    applied: Option<Snapshot>,
    /// Newest first.
    reapplies: Vec<Snapshot>,
    last: Option<Snapshot>,
}

/// Reads the journal newest first up to the operator's apply in effect: re-applies above
/// it are collected, rolled-back and reverted snapshots passed over.
fn find_applied(history: &History, warnings: &mut Vec<String>) -> Found {
    let mut found = Found::default();
    for (read, entry) in history.newest_first().enumerate() {
        if read == READ_MAX {
            warnings.push(format!(
                "read the newest {READ_MAX} snapshots without finding the apply they re-apply; `hostperf rollback --list` shows them all"
            ));
            break;
        }
        let snapshot = match entry {
            Ok(s) => s,
            Err(damaged) => {
                warnings.push(damaged.to_string());
                continue;
            }
        };
        if !matches!(snapshot.state, State::Applied | State::Applying) {
            if found.last.is_none() && found.reapplies.is_empty() {
                found.last = Some(snapshot);
            }
            continue;
        }
        if snapshot.reapply {
            found.reapplies.push(snapshot);
            continue;
        }
        found.applied = Some(snapshot);
        break;
    }
    if found.applied.is_some() || !found.reapplies.is_empty() {
        found.last = None;
    }
    found
}

/// The saved profile, when one is persisted and loads.
fn saved_profile(catalog: &Catalog, host: &Host, warnings: &mut Vec<String>) -> Option<Profile> {
    match saved::load(catalog, host) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!(
                "{} cannot be used, so the boot unit will fail: {e:#}",
                saved::path(host).display()
            ));
            None
        }
    }
}

/// The profile `snapshot` applied: the document it recorded, else the saved profile of
/// the same name, else the catalog's profile of that name as defined now.
fn profile_of(
    src: &Sources,
    snapshot: &Snapshot,
    saved: Option<Profile>,
) -> Result<(Profile, String), String> {
    if let Some(doc) = &snapshot.profile_doc {
        let origin = format!("recorded in snapshot {}", snapshot.id);
        return src
            .catalog
            .load_document(&src.journal.dir().join("snapshots").join(&snapshot.id), doc)
            .map(|p| (p, origin))
            .map_err(|e| format!("the profile recorded in snapshot {}: {e:#}", snapshot.id));
    }
    if let Some(saved) = saved.filter(|p| p.name == snapshot.profile) {
        return Ok((saved, format!("saved in {}", persist::APPLIED_FILE)));
    }
    src.catalog
        .load(&snapshot.profile)
        .map(|p| {
            (
                p,
                format!(
                    "profile {} as defined now (snapshot {} did not record it)",
                    snapshot.profile, snapshot.id
                ),
            )
        })
        .map_err(|e| {
            format!(
                "snapshot {} did not record its profile, and {} cannot be loaded now: {e:#}; run `hostperf check` with the profile it applied",
                snapshot.id, snapshot.profile
            )
        })
}

/// The files `apply --persist` writes that are on the host, each with what it does.
fn persisted(host: &Host, saved_profile: Option<&Profile>) -> Persisted {
    let boot = BootUnits::detect(host);
    let mut files = Vec::new();
    if let Ok(Some(bytes)) = host.read_optional(persist::SYSCTL_FILE) {
        let text = String::from_utf8_lossy(&bytes);
        files.push(PersistedFile {
            path: persist::SYSCTL_FILE.into(),
            what: format!(
                "{} sysctl(s), at every boot by systemd-sysctl",
                sysctl_d::parse_sysctl_conf(&text).len()
            ),
        });
    }
    if let Some(profile) = saved_profile {
        files.push(PersistedFile {
            path: persist::APPLIED_FILE.into(),
            what: format!(
                "profile {}, at every boot by {}{}",
                profile.name,
                persist::units::APPLY_UNIT,
                if boot.runs_on_hotplug() {
                    format!(
                        " and on each interface that appears ({})",
                        persist::units::UDEV_RULE
                    )
                } else {
                    String::new()
                }
            ),
        });
    }
    for (path, what) in [
        (
            persist::LIMITS_FILE,
            "limits for new login sessions, by pam_limits",
        ),
        (
            persist::SYSTEMD_MANAGER_FILE,
            "DefaultLimit*= for every systemd service",
        ),
    ] {
        if host.exists(path) {
            files.push(PersistedFile {
                path: path.into(),
                what: what.into(),
            });
        }
    }
    for unit in host.list_dir("/etc/systemd/system").unwrap_or_default() {
        let Some(name) = unit.strip_suffix(".d") else {
            continue;
        };
        let path = crate::tune::file::unit_drop_in(name);
        if crate::tune::file::is_managed(&path) && host.exists(&path) {
            files.push(PersistedFile {
                path,
                what: format!("Limit*= for {name}"),
            });
        }
    }
    let problems = if saved_profile.is_some() {
        boot.problems()
    } else {
        Vec::new()
    };
    Persisted {
        files,
        saved_profile: saved_profile.map(|p| p.name.clone()),
        boot,
        problems,
    }
}
