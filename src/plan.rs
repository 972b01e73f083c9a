//! The plan: for every setting of a profile, the current value, the value to write, and
//! what will happen. Building a plan reads the host and never writes it.

use serde::Serialize;

use crate::host::Host;
use crate::host::rlimit::Resource;
use crate::profile::{Profile, UlimitEntry};
use crate::tune::{Desired, ErrorKind, Knob, Setting, TuneError};

/// What applying does with one setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action", content = "detail")]
pub enum Action {
    Change,
    AlreadySet,
    /// The kernel or device lacks the setting or value; blocks apply unless optional.
    Unsupported(String),
    NeedsPrivilege(String),
    /// The profile's value cannot be used here; blocks apply.
    Invalid(String),
    /// Nothing to do for this row, and why (optional and unsupported, no target process).
    Skipped(String),
    /// Optional, and the driver reports the parameter but will refuse this value (the
    /// kernel says so beforehand, e.g. virtio feature bits): not written.
    UnsupportedByDriver(String),
}

impl Action {
    pub fn label(&self) -> &'static str {
        match self {
            Action::Change => "change",
            Action::AlreadySet => "already set",
            Action::Unsupported(_) => "unsupported",
            Action::NeedsPrivilege(_) => "needs privilege",
            Action::Invalid(_) => "invalid",
            Action::Skipped(_) => "skipped",
            Action::UnsupportedByDriver(_) => "unsupported by this driver",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            Action::Change | Action::AlreadySet => None,
            Action::Unsupported(d)
            | Action::NeedsPrivilege(d)
            | Action::Invalid(d)
            | Action::Skipped(d)
            | Action::UnsupportedByDriver(d) => Some(d),
        }
    }

    /// Rows that stop `apply` before anything is written.
    pub fn blocks_apply(&self) -> bool {
        matches!(
            self,
            Action::Unsupported(_) | Action::NeedsPrivilege(_) | Action::Invalid(_)
        )
    }
}

/// One row of a plan.
#[derive(Clone, Debug, Serialize)]
pub struct PlanItem {
    /// Stable name of the setting, e.g. `net.core.somaxconn` or `nofile of pid 42 (nginx)`.
    pub setting: String,
    pub kind: &'static str,
    /// None for rows that name no knob (a ulimit with no target process).
    #[serde(skip)]
    pub knob: Option<Knob>,
    pub desired: Desired,
    pub current: Option<String>,
    /// The value apply will write.
    pub target: Option<String>,
    #[serde(flatten)]
    pub action: Action,
    pub reason: String,
    pub optional: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub profile: String,
    pub items: Vec<PlanItem>,
    /// Things the operator should know that are not rows (e.g. irqbalance will undo IRQ pins).
    pub warnings: Vec<String>,
}

/// Whether the plan is for changing the host (checks write privilege) or only comparing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Apply,
    Check,
}

/// Running processes that ulimits are applied to.
#[derive(Clone, Debug, Default)]
pub struct Targets {
    pub pids: Vec<u32>,
    pub names: Vec<String>,
}

impl Plan {
    pub fn build(
        host: &Host,
        profile: &Profile,
        targets: &Targets,
        purpose: Purpose,
    ) -> anyhow::Result<Plan> {
        let mut items = Vec::new();
        for (key, entry) in &profile.sysctl {
            let setting = Setting {
                knob: Knob::sysctl(key.clone()),
                desired: entry.value.clone(),
                reason: entry.reason.clone().unwrap_or_default(),
                optional: entry.optional,
            };
            items.push(evaluate(host, setting, purpose));
        }
        let network = profile
            .network
            .expand_full(host, purpose == Purpose::Apply)
            .map_err(|e| {
                crate::exit::UsageError::new(format!("profile {}: network: {e}", profile.name))
            })?;
        items.extend(
            network
                .settings
                .into_iter()
                .map(|s| evaluate(host, s, purpose)),
        );
        items.extend(ulimit_items(host, &profile.ulimits, targets, purpose)?);
        Ok(Plan {
            profile: profile.name.clone(),
            items,
            warnings: network.warnings,
        })
    }

    pub fn blockers(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.action.blocks_apply())
    }

    pub fn changes(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.action == Action::Change)
    }

    /// The writes apply will make, in plan order, with the values they replace.
    pub fn journal_changes(&self) -> Vec<crate::journal::Change> {
        self.changes()
            .filter_map(|item| {
                Some(crate::journal::Change {
                    knob: item.knob.clone()?,
                    previous: item.current.clone(),
                    applied: item.target.clone(),
                })
            })
            .collect()
    }
}

/// Reads one setting and decides its action.
pub fn evaluate(host: &Host, setting: Setting, purpose: Purpose) -> PlanItem {
    let mut item = PlanItem {
        setting: setting.knob.to_string(),
        kind: setting.knob.kind(),
        knob: Some(setting.knob.clone()),
        desired: setting.desired.clone(),
        current: None,
        target: None,
        action: Action::Change,
        reason: setting.reason.clone(),
        optional: setting.optional,
    };
    let current = match setting.knob.read(host) {
        Ok(Some(v)) => setting.knob.normalize(&v),
        Ok(None) => String::new(),
        Err(e) => {
            item.action = match &setting.knob {
                Knob::Net(net) if net.driver_lacks(host, &e) => {
                    driver_action(e.message, setting.optional)
                }
                _ => failure_action(&e, setting.optional),
            };
            return item;
        }
    };
    item.current = Some(current.clone());
    if setting.desired.is_met_by(&current) {
        item.action = Action::AlreadySet;
        return item;
    }
    // Network values are exact and checked by their knob (hex masks, CPU lists, qdisc
    // trees): the number-or-word guard of bounds does not apply to them.
    let target = match &setting.knob {
        Knob::Net(_) => Ok(setting.desired.to_string()),
        _ => setting.desired.target(&current),
    };
    let target = match target {
        Ok(t) => setting.knob.normalize(&t),
        Err(why) => {
            item.action = Action::Invalid(format!("{}: {why}", setting.knob));
            return item;
        }
    };
    item.target = Some(target.clone());
    if let Err(e) = setting.knob.validate(host, &target) {
        item.action = failure_action(&e, setting.optional);
        return item;
    }
    if let Knob::Net(net) = &setting.knob
        && let Some(why) = net.driver_refuses(host, &target)
    {
        item.action = driver_action(why, setting.optional);
        return item;
    }
    if purpose == Purpose::Apply
        && let Some(why) = missing_privilege(host, &setting.knob, &current, &target)
    {
        item.action = Action::NeedsPrivilege(why);
    }
    item
}

/// A NIC setting the driver lacks or will refuse: skipped with that label when optional,
/// blocking otherwise.
fn driver_action(why: String, optional: bool) -> Action {
    if optional {
        Action::UnsupportedByDriver(why)
    } else {
        Action::Unsupported(format!("unsupported by this driver: {why}"))
    }
}

fn failure_action(e: &TuneError, optional: bool) -> Action {
    match e.kind {
        ErrorKind::Unsupported if optional => {
            Action::Skipped(format!("optional, not applied: {}", e.message))
        }
        ErrorKind::Unsupported => Action::Unsupported(e.message.clone()),
        ErrorKind::NeedsPrivilege => Action::NeedsPrivilege(e.message.clone()),
        _ => Action::Invalid(e.message.clone()),
    }
}

/// On a live host, whether this process may write the knob (checked before any write).
fn missing_privilege(host: &Host, knob: &Knob, current: &str, target: &str) -> Option<String> {
    if !host.is_live() {
        return None;
    }
    let path = match knob {
        Knob::Sysctl { key } => key.proc_path(),
        Knob::Rlimit { .. } => {
            let hard = |v: &str| v.split_whitespace().nth(1).map(limit_rank);
            let raises_hard =
                matches!((hard(current), hard(target)), (Some(now), Some(new)) if new > now);
            return (raises_hard && !has_cap_sys_resource()).then(|| {
                format!("{knob}: raising a hard limit ({current} -> {target}) needs CAP_SYS_RESOURCE, which this process lacks; run as root outside restricted containers")
            });
        }
        Knob::File { .. } | Knob::Net(_) => {
            return (!nix::unistd::geteuid().is_root())
                .then(|| format!("{knob}: changing this needs root; run hostperf as root"));
        }
    };
    match nix::unistd::access(&path, nix::unistd::AccessFlags::W_OK) {
        Ok(()) => None,
        Err(errno) => Some(format!(
            "{knob}: {} is not writable ({errno}); run as root (inside a network namespace some keys are read-only)",
            path.display()
        )),
    }
}

/// A limit as a number for comparing; "unlimited" is above every number.
fn limit_rank(v: &str) -> i128 {
    v.parse().unwrap_or(i128::MAX)
}

/// Whether this process holds CAP_SYS_RESOURCE (bit 24 of CapEff in /proc/self/status).
fn has_cap_sys_resource() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
            u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

/// Ulimit rows: one per resource and target process, or one skipped row per resource when
/// no process is targeted (limits for new sessions and services come from --persist).
fn ulimit_items(
    host: &Host,
    ulimits: &std::collections::BTreeMap<Resource, UlimitEntry>,
    targets: &Targets,
    purpose: Purpose,
) -> anyhow::Result<Vec<PlanItem>> {
    let processes = resolve_targets(host, targets)?;
    let mut items = Vec::new();
    for (resource, entry) in ulimits {
        if processes.is_empty() {
            items.push(PlanItem {
                setting: resource.to_string(),
                kind: "ulimit",
                knob: None,
                desired: entry.desired(),
                current: None,
                target: None,
                action: Action::Skipped(
                    "limits belong to processes: --pid/--process change running ones, --persist sets them for new sessions and services".into(),
                ),
                reason: entry.reason.clone().unwrap_or_default(),
                optional: entry.optional,
            });
            continue;
        }
        for (pid, comm) in &processes {
            let setting = Setting {
                knob: Knob::Rlimit {
                    pid: *pid,
                    comm: comm.clone(),
                    resource: *resource,
                },
                desired: entry.desired(),
                reason: entry.reason.clone().unwrap_or_default(),
                optional: entry.optional,
            };
            items.push(evaluate(host, setting, purpose));
        }
    }
    Ok(items)
}

/// The processes named by --pid and --process, as (pid, comm).
pub fn resolve_targets(host: &Host, targets: &Targets) -> anyhow::Result<Vec<(u32, String)>> {
    let mut found = Vec::new();
    for &pid in &targets.pids {
        let comm = host
            .comm(pid)
            .ok_or_else(|| crate::exit::UsageError::new(format!("--pid {pid}: no such process")))?;
        found.push((pid, comm));
    }
    if !targets.names.is_empty() {
        let mut matched = vec![false; targets.names.len()];
        for pid in host.pids()? {
            let Some(comm) = host.comm(pid) else { continue };
            if let Some(i) = targets.names.iter().position(|n| *n == comm) {
                matched[i] = true;
                if !found.iter().any(|(p, _)| *p == pid) {
                    found.push((pid, comm));
                }
            }
        }
        if let Some(i) = matched.iter().position(|m| !m) {
            return Err(crate::exit::UsageError::new(format!(
                "--process {}: no running process has that name (as in /proc/PID/comm)",
                targets.names[i]
            )));
        }
    }
    Ok(found)
}
