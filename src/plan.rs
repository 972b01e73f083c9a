//! The plan: for every setting of a profile, the current value, the value to write, and
//! what will happen. Building a plan reads the host and never writes it.

use serde::Serialize;

use crate::host::Host;
use crate::host::rlimit::Resource;
use crate::profile::facts::HostFacts;
use crate::profile::{Conditions, CpuSettings, Network, Profile, SysctlEntry, UlimitEntry};
use crate::tune::cpu::{self, CpuRequest, IdleLimit, Request};
use crate::tune::{Desired, ErrorKind, Knob, Setting, TuneError, ports};

/// What applying does with one setting. In JSON, `action` (kebab-case) and, except for
/// `change` and `already-set`, `detail`: why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "action", content = "detail")]
pub enum Action {
    /// Apply writes it.
    Change,
    /// The current value satisfies the profile.
    AlreadySet,
    /// The kernel or device lacks the setting or value; blocks apply unless optional.
    Unsupported(String),
    /// Writing it needs a privilege this process lacks; blocks apply.
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
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PlanItem {
    /// Stable name of the setting, e.g. `net.core.somaxconn` or `nofile of pid 42 (nginx)`.
    pub setting: String,
    /// sysctl, ulimit, file, or a network kind: nic, steering, irq, qdisc.
    pub kind: &'static str,
    /// None for rows that name no knob (a ulimit with no target process).
    #[serde(skip)]
    pub knob: Option<Knob>,
    /// What the profile wants, as it writes it.
    pub desired: Desired,
    /// The value now; null when it could not be read or is absent.
    pub current: Option<String>,
    /// The value apply will write (a bound resolved against the current value); null when
    /// nothing is written.
    pub target: Option<String>,
    #[serde(flatten)]
    pub action: Action,
    /// Why the profile sets it.
    pub reason: String,
    /// Skipped rather than blocking where the host lacks it.
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
        let usage = |what: &str, e: String| {
            crate::exit::UsageError::new(format!("profile {}: {what}: {e}", profile.name))
        };
        // The host's facts are read once, and only when some setting has a condition.
        let facts = profile.has_conditions().then(|| HostFacts::read(host));
        let unmet = |when: &Conditions| match &facts {
            Some(f) => when.check(f).err(),
            None => None,
        };
        let mut items = Vec::new();
        let mut warnings = Vec::new();
        for (key, entry) in &profile.sysctl {
            if let Some(why) = unmet(&entry.when) {
                items.push(skipped(key.to_string(), "sysctl", entry, why));
                continue;
            }
            let mut setting = Setting {
                knob: Knob::sysctl(key.clone()),
                desired: entry.value.clone(),
                reason: entry.reason.clone().unwrap_or_default(),
                optional: entry.optional,
            };
            if key.to_string() == ports::KEY && entry.value.to_string() == ports::LISTENERS {
                reserve_listeners(host, profile, &mut setting).map_err(|e| usage(ports::KEY, e))?;
            }
            items.push(evaluate(host, setting, purpose));
        }
        reserved_ports_first(&mut items);
        for (key, entry) in &profile.sysfs {
            if let Some(why) = unmet(&entry.when) {
                items.push(skipped(key.to_string(), "sysfs", entry, why));
                continue;
            }
            let (knobs, notes) = key
                .resolve(host)
                .map_err(|e| usage(&format!("sysfs {key}"), e))?;
            warnings.extend(notes);
            for knob in knobs {
                let setting = Setting {
                    knob: Knob::Sysfs(knob),
                    desired: entry.value.clone(),
                    reason: entry.reason.clone().unwrap_or_default(),
                    optional: entry.optional,
                };
                items.push(evaluate(host, setting, purpose));
            }
        }
        let (cpu_items, cpu_notes) =
            cpu_items(host, &profile.cpu, &unmet, purpose).map_err(|e| usage("cpu", e))?;
        items.extend(cpu_items);
        warnings.extend(cpu_notes);
        let mut net = profile.network.clone();
        for (name, entry) in conditional_network(&mut net, &unmet) {
            let why = unmet(&entry.when).unwrap_or_default();
            items.push(skipped(name, "network", &entry, why));
        }
        let network = net
            .expand_full(host, purpose == Purpose::Apply)
            .map_err(|e| usage("network", e))?;
        items.extend(
            network
                .settings
                .into_iter()
                .map(|s| evaluate(host, s, purpose)),
        );
        warnings.extend(network.warnings);
        items.extend(ulimit_items(
            host,
            &profile.ulimits,
            targets,
            purpose,
            &unmet,
        )?);
        Ok(Plan {
            profile: profile.name.clone(),
            items,
            warnings,
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
    if setting.knob.meets(&setting.desired, &current) {
        item.action = Action::AlreadySet;
        return item;
    }
    // Network values are exact and checked by their knob (hex masks, CPU lists, qdisc
    // trees): the number-or-word guard of bounds does not apply to them.
    let target = match &setting.knob {
        Knob::Net(_) => Ok(setting.desired.to_string()),
        knob => knob.target(&setting.desired, &current),
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
        Knob::Sysctl { .. } | Knob::Cpu(_) | Knob::Sysfs(_) => knob.write_path()?,
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
            "{knob}: {} is not writable ({errno}); run as root (inside a network namespace some keys are read-only, and sysfs is read-only in most containers)",
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
    unmet: &dyn Fn(&Conditions) -> Option<String>,
) -> anyhow::Result<Vec<PlanItem>> {
    let processes = resolve_targets(host, targets)?;
    let mut items = Vec::new();
    for (resource, entry) in ulimits {
        let skipped = |why: String| PlanItem {
            setting: resource.to_string(),
            kind: "ulimit",
            knob: None,
            desired: entry.desired(),
            current: None,
            target: None,
            action: Action::Skipped(why),
            reason: entry.reason.clone().unwrap_or_default(),
            optional: entry.optional,
        };
        if let Some(why) = unmet(&entry.when) {
            items.push(skipped(format!("condition not met: {why}")));
            continue;
        }
        if processes.is_empty() {
            items.push(skipped(
                "limits belong to processes: --pid/--process change running ones, --persist sets them for new sessions and services".into(),
            ));
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

/// A row for a setting whose condition this host does not meet: never written, and why.
fn skipped(setting: String, kind: &'static str, entry: &SysctlEntry, why: String) -> PlanItem {
    PlanItem {
        setting,
        kind,
        knob: None,
        desired: entry.value.clone(),
        current: None,
        target: None,
        action: Action::Skipped(format!("condition not met: {why}")),
        reason: entry.reason.clone().unwrap_or_default(),
        optional: entry.optional,
    }
}

/// `ip_local_reserved_ports: listeners`: the ports this host listens on inside the port
/// range the plan leaves (the profile's target for ip_local_port_range, else the current
/// range), added to what is reserved now. The reason names the ports.
fn reserve_listeners(host: &Host, profile: &Profile, setting: &mut Setting) -> Result<(), String> {
    let range_key =
        crate::host::sysctl::SysctlKey::parse(ports::RANGE_KEY).map_err(|e| e.to_string())?;
    let current_range = host.sysctl_read(&range_key).map_err(|e| e.to_string())?;
    let range_text = match profile.sysctl.get(&range_key) {
        Some(e) => e.value.target(&current_range).unwrap_or(current_range),
        None => current_range,
    };
    let range = ports::parse_range(&range_text)
        .ok_or_else(|| format!("cannot read {} ({range_text:?})", ports::RANGE_KEY))?;
    let current = match setting.knob.read(host) {
        Ok(Some(v)) => v,
        // The row reports the failure (absent key, privilege).
        _ => return Ok(()),
    };
    let (listening, source) = ports::listening_ports(host);
    let (value, added) = ports::reserve(&current, &listening, range)?;
    setting.desired = Desired::exact(value);
    let shown: Vec<String> = added.iter().map(u16::to_string).collect();
    setting.reason = format!(
        "{} [{}: {}]",
        setting.reason,
        if shown.is_empty() {
            format!(
                "no listener in {}-{} to add, per {source}",
                range.0, range.1
            )
        } else {
            format!("listening now, per {source}")
        },
        if shown.is_empty() {
            "nothing new".to_string()
        } else {
            shown.join(", ")
        }
    );
    Ok(())
}

/// Reserved ports are written before the port range widens, so no outgoing connection can
/// take a listener's port in between (and rollback narrows the range first).
fn reserved_ports_first(items: &mut [PlanItem]) {
    let at = |name: &str| items.iter().position(|i| i.setting == name);
    if let (Some(range), Some(reserved)) = (at(ports::RANGE_KEY), at(ports::KEY))
        && reserved > range
    {
        items[range..=reserved].rotate_right(1);
    }
}

/// The `cpu` section's rows: skipped ones for unmet conditions, then its knobs.
fn cpu_items(
    host: &Host,
    cpu: &CpuSettings,
    unmet: &dyn Fn(&Conditions) -> Option<String>,
    purpose: Purpose,
) -> Result<(Vec<PlanItem>, Vec<String>), String> {
    let mut items = Vec::new();
    let mut request = CpuRequest {
        cpus: cpu.cpus.clone(),
        idle_limit: cpu.idle_limit.unwrap_or(IdleLimit::Auto),
        ..CpuRequest::default()
    };
    for (name, entry) in cpu.entries() {
        let Some(entry) = entry else { continue };
        if let Some(why) = unmet(&entry.when) {
            items.push(skipped(format!("cpu {name}"), "cpu", entry, why));
            continue;
        }
        let r = Request {
            value: entry.value.clone(),
            reason: entry.reason.clone().unwrap_or_default(),
            optional: entry.optional,
        };
        match name {
            "energy_performance_preference" => request.energy_performance_preference = Some(r),
            "scaling_governor" => request.governor = Some(r),
            _ => request.max_idle_latency_us = Some(r),
        }
    }
    if request.governor.is_none()
        && request.energy_performance_preference.is_none()
        && request.max_idle_latency_us.is_none()
    {
        return Ok((items, Vec::new()));
    }
    let (rows, notes) = cpu::expand(host, &request)?;
    for row in rows {
        items.push(match row {
            cpu::Row::Setting(s) => evaluate(host, s, purpose),
            cpu::Row::Absent {
                setting,
                desired,
                reason,
                optional,
                why,
            } => PlanItem {
                setting,
                kind: "cpu",
                knob: None,
                desired,
                current: None,
                target: None,
                action: if optional {
                    Action::Skipped(format!("optional, not applied: {why}"))
                } else {
                    Action::Unsupported(why)
                },
                reason,
                optional,
            },
        });
    }
    Ok((items, notes))
}

/// Removes the network leaves whose conditions this host does not meet, returning them by
/// name (`default_qdisc`, `default-route coalesce rx-usecs`) to be shown as skipped.
fn conditional_network(
    net: &mut Network,
    unmet: &dyn Fn(&Conditions) -> Option<String>,
) -> Vec<(String, SysctlEntry)> {
    fn take(
        out: &mut Vec<(String, SysctlEntry)>,
        unmet: &dyn Fn(&Conditions) -> Option<String>,
        name: String,
        slot: &mut Option<SysctlEntry>,
    ) {
        if slot.as_ref().is_some_and(|e| unmet(&e.when).is_some())
            && let Some(e) = slot.take()
        {
            out.push((name, e));
        }
    }
    let mut out = Vec::new();
    take(
        &mut out,
        unmet,
        "congestion_control".into(),
        &mut net.congestion_control,
    );
    take(
        &mut out,
        unmet,
        "default_qdisc".into(),
        &mut net.default_qdisc,
    );
    take(
        &mut out,
        unmet,
        "rps_sock_flow_entries".into(),
        &mut net.rps_sock_flow_entries,
    );
    for (sel, iface) in net.interfaces.iter_mut() {
        for (name, slot) in [
            ("root_qdisc", &mut iface.root_qdisc),
            ("txqueuelen", &mut iface.txqueuelen),
            ("rps_cpus", &mut iface.rps_cpus),
            ("rps_flow_cnt", &mut iface.rps_flow_cnt),
            ("xps_cpus", &mut iface.xps_cpus),
            ("irq_affinity", &mut iface.irq_affinity),
        ] {
            take(&mut out, unmet, format!("{sel} {name}"), slot);
        }
        for (group, map) in [
            ("channels", &mut iface.channels as &mut dyn ParamMap),
            ("rings", &mut iface.rings),
            ("coalesce", &mut iface.coalesce),
        ] {
            for (param, e) in map.take_unmet(unmet) {
                out.push((format!("{sel} {group} {param}"), e));
            }
        }
    }
    out
}

/// The ethtool parameter maps of an interface block, whatever their key type.
trait ParamMap {
    fn take_unmet(
        &mut self,
        unmet: &dyn Fn(&Conditions) -> Option<String>,
    ) -> Vec<(String, SysctlEntry)>;
}

impl<K: Ord + Clone + std::fmt::Debug + serde::Serialize> ParamMap
    for std::collections::BTreeMap<K, SysctlEntry>
{
    fn take_unmet(
        &mut self,
        unmet: &dyn Fn(&Conditions) -> Option<String>,
    ) -> Vec<(String, SysctlEntry)> {
        let keys: Vec<K> = self
            .iter()
            .filter(|(_, e)| unmet(&e.when).is_some())
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let name = serde_json::to_value(&k)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("{k:?}"));
                self.remove(&k).map(|e| (name, e))
            })
            .collect()
    }
}
