//! The JSON documents of plan, apply, rollback, show and profiles (`-o json`): one type
//! per output, each with `schema_version`, built from the models and printed as they are.
//! docs/schemas/ is generated from these types ([`super::schemas`]) and docs/json.md
//! describes them. A field is renamed or removed only with a new `schema_version`.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::journal::{Snapshot, State};
use crate::plan::{Action, Plan, PlanItem};

/// `schema_version` of every document in this module.
pub const SCHEMA_VERSION: u32 = 1;

/// Counts of a plan's rows by what apply would do with them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PlanSummary {
    /// Rows apply would write.
    pub change: usize,
    /// Rows whose current value already satisfies the profile.
    pub already_set: usize,
    /// Rows left alone: optional settings the host or driver lacks, ulimits without a
    /// target process.
    pub skipped: usize,
    /// Rows that stop apply before anything is written (unsupported, invalid, or needing a
    /// privilege this process lacks).
    pub blocking: usize,
}

impl PlanSummary {
    pub fn of(items: &[PlanItem]) -> PlanSummary {
        let mut s = PlanSummary::default();
        for item in items {
            match item.action {
                Action::Change => s.change += 1,
                Action::AlreadySet => s.already_set += 1,
                Action::Skipped(_) | Action::UnsupportedByDriver(_) => s.skipped += 1,
                Action::Unsupported(_) | Action::NeedsPrivilege(_) | Action::Invalid(_) => {
                    s.blocking += 1
                }
            }
        }
        s
    }
}

/// `hostperf plan -o json`: every setting of the profile with its current value, the value
/// the profile wants and what apply would do.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanDoc<'a> {
    pub schema_version: u32,
    pub profile: &'a str,
    pub summary: PlanSummary,
    pub items: &'a [PlanItem],
    /// Files `apply --persist` would write (only with --persist).
    pub persist: Vec<PersistedFile>,
    /// Things to act on that are not rows (also printed on stderr).
    pub warnings: &'a [String],
    /// Things to know that are not rows (also printed on stderr).
    pub notes: &'a [String],
}

impl<'a> PlanDoc<'a> {
    pub fn new(plan: &'a Plan, persist: Vec<PersistedFile>, notes: &'a [String]) -> Self {
        PlanDoc {
            schema_version: SCHEMA_VERSION,
            profile: &plan.profile,
            summary: PlanSummary::of(&plan.items),
            items: &plan.items,
            persist,
            warnings: &plan.warnings,
            notes,
        }
    }
}

/// A file `apply --persist` writes (its content is in the file).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PersistedFile {
    pub path: PathBuf,
    /// Whom the file affects, e.g. "new PAM login sessions".
    pub applies_to: String,
}

impl From<&crate::persist::PersistFile> for PersistedFile {
    fn from(f: &crate::persist::PersistFile) -> Self {
        PersistedFile {
            path: f.path.clone(),
            applies_to: f.applies_to.clone(),
        }
    }
}

/// `hostperf apply -o json`, and `apply --dry-run -o json` (`dry_run: true`: what apply
/// would do; `snapshot_id` is null and nothing was written).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ApplyDoc {
    pub schema_version: u32,
    pub profile: String,
    pub dry_run: bool,
    /// The snapshot holding the previous values (`hostperf rollback ID`); null when
    /// nothing changed or on a dry run.
    pub snapshot_id: Option<String>,
    /// Settings written (or, on a dry run, that would be).
    pub changed: Vec<ChangedSetting>,
    /// Settings left alone, and why.
    pub skipped: Vec<SkippedSetting>,
    /// Settings that stop apply (only on a dry run: a real apply refuses with exit 2).
    pub blocking: Vec<SkippedSetting>,
    /// Files written for --persist (or, on a dry run, that would be).
    pub persisted: Vec<PersistedFile>,
    pub warnings: Vec<String>,
    /// What the operator should know that is not a problem (e.g. systemd not running).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(default)]
    pub notes: Vec<String>,
    /// With `apply --boot`: the saved profile applied, and the interface with `--iface`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    pub reapplied: Option<Reapplied>,
}

/// The saved profile `apply --boot` applied.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Reapplied {
    /// The file it was read from (/etc/hostperf/applied.yaml).
    pub from: String,
    /// With `--iface NAME`: the only interface whose settings were applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
}

/// One setting apply wrote.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangedSetting {
    pub setting: String,
    pub kind: String,
    /// The value before; null for a file that did not exist, and for files (see the file).
    pub current: Option<String>,
    /// The value written; null for files.
    pub desired: Option<String>,
}

impl From<&crate::journal::Change> for ChangedSetting {
    /// A journaled change: `current` the value before the apply, `desired` the value it
    /// wrote; both null for a file (its content is never shown).
    fn from(c: &crate::journal::Change) -> Self {
        let is_file = matches!(c.knob, crate::tune::Knob::File { .. });
        ChangedSetting {
            setting: c.knob.to_string(),
            kind: c.knob.kind().to_string(),
            current: c.previous.clone().filter(|_| !is_file),
            desired: c.applied.clone().filter(|_| !is_file),
        }
    }
}

/// A setting apply did not write, and why.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SkippedSetting {
    pub setting: String,
    pub kind: String,
    /// The value now; null when absent or unreadable.
    pub current: Option<String>,
    /// What the profile wants, as it writes it.
    pub desired: String,
    pub reason: String,
}

/// One snapshot as `rollback --list` shows it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotSummary {
    pub id: String,
    pub profile: String,
    /// UTC, RFC 3339.
    pub created: String,
    /// applied, interrupted (an apply that did not record that it finished), reverted (a
    /// failed apply, undone), rolled-back, partly-rolled-back (a rollback left some
    /// settings alone; `rollback --force` restores them).
    pub state: String,
    /// The settings it changed, in the order they were written.
    pub settings: Vec<String>,
}

impl From<&Snapshot> for SnapshotSummary {
    fn from(s: &Snapshot) -> Self {
        SnapshotSummary {
            id: s.id.clone(),
            profile: s.profile.clone(),
            created: s.created.clone(),
            state: state_name(s.state).to_string(),
            settings: s.changes.iter().map(|c| c.knob.to_string()).collect(),
        }
    }
}

/// A snapshot state as JSON names it (kebab-case, as the journal does).
pub fn state_name(state: State) -> &'static str {
    match state {
        State::Applying => "interrupted",
        State::Applied => "applied",
        State::Reverted => "reverted",
        State::RolledBack => "rolled-back",
        State::PartlyRolledBack => "partly-rolled-back",
    }
}

/// `hostperf rollback --list -o json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SnapshotListDoc {
    pub schema_version: u32,
    /// Oldest first.
    pub snapshots: Vec<SnapshotSummary>,
    /// Snapshot files that cannot be read, each described.
    pub damaged: Vec<String>,
}

/// `hostperf rollback -o json`: per snapshot restored (newest first), one row per setting.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RollbackDoc {
    pub schema_version: u32,
    pub snapshots: Vec<RolledBack>,
    /// Every setting is back as it was before its apply (exit 0; else exit 1).
    pub complete: bool,
}

/// One snapshot a rollback went through.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RolledBack {
    pub snapshot_id: String,
    pub profile: String,
    /// UTC, RFC 3339, when the apply ran.
    pub created: String,
    /// Its state after this rollback: rolled-back or partly-rolled-back.
    pub state: String,
    pub settings: Vec<crate::apply::Restored>,
}

/// `hostperf rollback --forget ID -o json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ForgetDoc {
    pub schema_version: u32,
    pub snapshot_id: String,
    /// What it recorded, when it could be read.
    pub snapshot: Option<SnapshotSummary>,
    /// Every setting its apply changed, so nothing is lost without a trace: `current` is
    /// the value from before the apply, `desired` the value it wrote (null for files).
    pub previous: Vec<ChangedSetting>,
    /// Why it could not be read, when it could not.
    pub damaged: Option<String>,
}

/// `hostperf show -o json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ShowDoc {
    pub schema_version: u32,
    pub values: Vec<ShownValue>,
}

/// One current value.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ShownValue {
    pub setting: String,
    pub kind: String,
    /// Null when absent or unreadable.
    pub current: Option<String>,
    /// Why it could not be read.
    pub error: Option<String>,
}

/// `hostperf profiles -o json`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProfilesDoc {
    pub schema_version: u32,
    pub profiles: Vec<ProfileSummary>,
    /// Profile files left out, each with why (also on stderr).
    pub warnings: Vec<String>,
}

/// One line of `hostperf profiles`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProfileSummary {
    pub name: String,
    pub description: String,
    /// "built-in", or the file it was read from.
    pub source: String,
}

/// `hostperf profiles diff A B -o json`: every key either profile sets, resolved, where
/// they differ.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProfilesDiffDoc {
    pub schema_version: u32,
    pub a: String,
    pub b: String,
    /// Keys both set to the same value.
    pub same: usize,
    pub differences: Vec<KeyDifference>,
}

/// One key two profiles set differently (or only one sets).
#[derive(Debug, Serialize, JsonSchema)]
pub struct KeyDifference {
    /// `sysctl`, `ulimits` or `network`, as in the profile.
    pub section: String,
    /// The key within the section, e.g. `net.core.somaxconn`, `nofile`,
    /// `interfaces.default-route.coalesce.rx-usecs`.
    pub key: String,
    /// The value in A as the profile writes it; null when A does not set it.
    pub a: Option<String>,
    pub b: Option<String>,
}

/// `hostperf profiles show NAME -o json`: the profile with its includes resolved, in the
/// shape of a profile file plus where it came from. Printed from the profile itself;
/// [`ProfileShowSchema`] describes it.
#[derive(Serialize)]
pub struct ProfileShowDoc<'a> {
    pub schema_version: u32,
    #[serde(flatten)]
    pub profile: &'a crate::profile::Profile,
}

/// The shape of [`ProfileShowDoc`], for its JSON Schema: every section of a profile file,
/// resolved (each entry says which profile it came from).
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct ProfileShowSchema {
    pub schema_version: u32,
    pub name: String,
    pub description: String,
    pub source: ProfileSourceSchema,
    /// Every profile that contributed, in the order they were applied (this one last).
    pub resolved_from: Vec<String>,
    /// Sysctl name to entry.
    pub sysctl: std::collections::BTreeMap<String, SysctlEntrySchema>,
    /// Resource (nofile, memlock, ...) to entry.
    pub ulimits: std::collections::BTreeMap<String, UlimitEntrySchema>,
    /// Congestion control, qdiscs, NIC queues, steering and IRQ affinity (docs/network.md):
    /// the same shape as in a profile file, each entry with `from`.
    #[schemars(extend("type" = "object"))]
    pub network: Option<serde_json::Value>,
}

/// Where a profile was read from.
#[derive(JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "type", content = "path")]
#[allow(dead_code)]
pub enum ProfileSourceSchema {
    /// Compiled into hostperf.
    Builtin,
    /// A file: the profile directory's NAME.yaml, or --file.
    File(PathBuf),
}

/// A sysctl entry of a resolved profile.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct SysctlEntrySchema {
    pub value: crate::tune::Desired,
    pub reason: Option<String>,
    #[serde(default)]
    pub optional: bool,
    /// The profile this entry came from.
    pub from: String,
}

/// A ulimit entry of a resolved profile: each limit as a profile writes it (`1048576`,
/// `>=1048576`, `unlimited`).
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct UlimitEntrySchema {
    pub soft: String,
    pub hard: String,
    pub reason: Option<String>,
    #[serde(default)]
    pub optional: bool,
    pub from: String,
}

/// `hostperf recommend -o json`: the profile chosen for this host, the facts and signals
/// it was chosen from, and the plan of applying it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RecommendDoc<'a> {
    pub schema_version: u32,
    pub recommendation: &'a crate::recommend::Recommendation,
    pub facts: &'a crate::profile::facts::HostFacts,
    pub signals: &'a crate::recommend::Signals,
    pub plan: PlanDoc<'a>,
}
