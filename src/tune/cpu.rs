//! CPU power settings: the cpufreq governor and energy-performance preference of each
//! policy, and a limit on idle-state exit latency per CPU, applied either as the CPU's PM
//! QoS resume latency or by disabling the idle states whose exit latency is above it.
//!
//! Files (Documentation/admin-guide/pm/cpufreq.rst, intel_pstate.rst, amd-pstate.rst,
//! cpuidle.rst; Documentation/ABI/testing/sysfs-devices-system-cpu):
//! - `/sys/devices/system/cpu/cpuN/cpufreq/scaling_governor`, `energy_performance_preference`
//!   (one policy may cover several CPUs: `related_cpus`; writing one CPU's file sets the
//!   policy, so there is one knob per policy, on its first selected CPU);
//! - `/sys/devices/system/cpu/cpuN/power/pm_qos_resume_latency_us`: the CPU's resume-latency
//!   request in microseconds; `0` means no constraint and `n/a` means no latency at all (only
//!   polling), so a limit of 0 is written as `n/a`. Idle governors (menu, teo, ladder,
//!   haltpoll) never pick a state whose exit latency is above it. Unlike /dev/cpu_dma_latency
//!   (TuneD's `force_latency`), it needs no process holding a file open: the request stays
//!   until it is written again, which suits a tool that exits;
//! - `/sys/devices/system/cpu/cpuN/cpuidle/stateS/disable` (1 = never used on this CPU) and
//!   `.../stateS/latency` (exit latency, microseconds), for kernels or CPUs without the PM QoS
//!   file, or by choice (`idle_limit: disable-states`).
//!
//! Only the selected CPUs' files are written (`cpus:`, default every online CPU); offline
//! CPUs have no such files and are left alone. Rollback restores each file.
//!
//! The energy-performance preference is written before the governor: intel_pstate and
//! amd-pstate refuse any preference but `performance` while the governor is `performance`
//! (EBUSY), so rollback, which goes newest first, must put the governor back first.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::tune::net::cpus;

use super::{Desired, ErrorKind, Setting, TuneError, Want, attr};

/// The largest CPU number a kernel can have (CONFIG_NR_CPUS is at most 8192).
pub const MAX_CPU: u32 = 8191;
/// Idle states per CPU (CPUIDLE_STATE_MAX, include/linux/cpuidle.h).
pub const MAX_IDLE_STATES: u32 = 10;

const CPU_DIR: &str = "/sys/devices/system/cpu";

/// One CPU power file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "attr", rename_all = "kebab-case")]
pub enum CpuKnob {
    /// cpuN/cpufreq/scaling_governor (the whole policy).
    Governor { cpu: u32 },
    /// cpuN/cpufreq/energy_performance_preference (the whole policy).
    EnergyPerformancePreference { cpu: u32 },
    /// cpuN/power/pm_qos_resume_latency_us.
    ResumeLatency { cpu: u32 },
    /// cpuN/cpuidle/stateS/disable.
    IdleStateDisable { cpu: u32, state: u32 },
}

impl CpuKnob {
    pub fn cpu(&self) -> u32 {
        match self {
            CpuKnob::Governor { cpu }
            | CpuKnob::EnergyPerformancePreference { cpu }
            | CpuKnob::ResumeLatency { cpu }
            | CpuKnob::IdleStateDisable { cpu, .. } => *cpu,
        }
    }

    pub fn path(&self) -> String {
        match self {
            CpuKnob::Governor { cpu } => format!("{CPU_DIR}/cpu{cpu}/cpufreq/scaling_governor"),
            CpuKnob::EnergyPerformancePreference { cpu } => {
                format!("{CPU_DIR}/cpu{cpu}/cpufreq/energy_performance_preference")
            }
            CpuKnob::ResumeLatency { cpu } => {
                format!("{CPU_DIR}/cpu{cpu}/power/pm_qos_resume_latency_us")
            }
            CpuKnob::IdleStateDisable { cpu, state } => {
                format!("{CPU_DIR}/cpu{cpu}/cpuidle/state{state}/disable")
            }
        }
    }

    /// Whether a journal entry naming this knob is one a profile could produce: a CPU
    /// number the kernel can have, an idle state within CPUIDLE_STATE_MAX.
    pub fn check_journaled(&self) -> Result<(), String> {
        if self.cpu() > MAX_CPU {
            return Err(format!(
                "cpu{}: above the largest CPU number a kernel can have ({MAX_CPU})",
                self.cpu()
            ));
        }
        if let CpuKnob::IdleStateDisable { state, .. } = self
            && *state >= MAX_IDLE_STATES
        {
            return Err(format!(
                "cpuidle state{state}: a CPU has at most {MAX_IDLE_STATES} idle states"
            ));
        }
        Ok(())
    }

    fn absent(&self) -> String {
        match self {
            CpuKnob::Governor { cpu } => format!(
                "cpu{cpu} has no cpufreq policy ({CPU_DIR}/cpu{cpu}/cpufreq is absent: no frequency driver, as in most VMs, or the CPU is offline)"
            ),
            CpuKnob::EnergyPerformancePreference { cpu } => format!(
                "cpu{cpu}: the frequency driver has no energy_performance_preference (intel_pstate and amd-pstate have it in active mode)"
            ),
            CpuKnob::ResumeLatency { cpu } => format!(
                "cpu{cpu}: {} is absent (Linux 4.16 or later has it)",
                self.path()
            ),
            CpuKnob::IdleStateDisable { cpu, state } => {
                format!("cpu{cpu}: no cpuidle state{state}")
            }
        }
    }

    pub fn read(&self, host: &Host) -> Result<String, TuneError> {
        attr::read(host, &self.path(), &self.to_string(), &self.absent())
    }

    /// Checks the value is one this file takes on this host: a governor or preference the
    /// driver offers, a latency (`n/a` or 0 to 2147483647 microseconds), 0 or 1.
    pub fn validate(&self, host: &Host, value: &str) -> Result<(), TuneError> {
        let invalid = |why: String| TuneError::new(ErrorKind::Invalid, format!("{self}: {why}"));
        let offered = |file: &str| -> Option<Vec<String>> {
            let dir = format!("{CPU_DIR}/cpu{}/cpufreq", self.cpu());
            host.read_string(format!("{dir}/{file}"))
                .ok()
                .map(|t| t.split_whitespace().map(str::to_string).collect())
                .filter(|v: &Vec<String>| !v.is_empty())
        };
        let word = !value.is_empty()
            && value.len() <= 32
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        match self {
            CpuKnob::Governor { .. } | CpuKnob::EnergyPerformancePreference { .. } if !word => {
                Err(invalid(format!("{value:?} is not a single word")))
            }
            CpuKnob::Governor { .. } => match offered("scaling_available_governors") {
                Some(list) if !list.iter().any(|g| g == value) => Err(TuneError::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{self}: the frequency driver offers {}, not {value:?}",
                        list.join(", ")
                    ),
                )),
                _ => Ok(()),
            },
            CpuKnob::EnergyPerformancePreference { .. } => {
                match offered("energy_performance_available_preferences") {
                    Some(list)
                        if !list.iter().any(|g| g == value) && value.parse::<u8>().is_err() =>
                    {
                        Err(TuneError::new(
                            ErrorKind::Unsupported,
                            format!(
                                "{self}: the frequency driver offers {}, not {value:?}",
                                list.join(", ")
                            ),
                        ))
                    }
                    _ => Ok(()),
                }
            }
            CpuKnob::ResumeLatency { .. } => match value {
                "n/a" => Ok(()),
                v if v.parse::<u32>().is_ok_and(|n| n <= i32::MAX as u32) => Ok(()),
                _ => Err(invalid(format!(
                    "{value:?} is not a latency: n/a or 0 to 2147483647 microseconds"
                ))),
            },
            CpuKnob::IdleStateDisable { .. } => match value {
                "0" | "1" => Ok(()),
                _ => Err(invalid(format!("{value:?}: disable takes 0 or 1"))),
            },
        }
    }

    pub fn write(&self, host: &Host, value: &str) -> Result<(), TuneError> {
        self.validate(host, value)?;
        attr::write(host, &self.path(), value, &self.to_string())?;
        attr::confirm(&self.to_string(), value, &self.read(host)?)
    }

    /// Whether `current` meets `desired`. A resume latency limit (`<=L`) is met by a
    /// request at or below it, and by `n/a`; `0` is no constraint at all.
    pub fn meets(&self, desired: &Desired, current: &str) -> Option<bool> {
        let limit = resume_limit(self, desired)?;
        Some(match current {
            "n/a" => true,
            v => v.parse::<u64>().is_ok_and(|n| n != 0 && n <= limit),
        })
    }

    /// The value to write for a resume latency limit: the limit, or `n/a` for 0.
    pub fn target(&self, desired: &Desired) -> Option<String> {
        let limit = resume_limit(self, desired)?;
        Some(if limit == 0 {
            "n/a".to_string()
        } else {
            limit.to_string()
        })
    }
}

/// The limit of a `<=L` resume-latency setting.
fn resume_limit(knob: &CpuKnob, desired: &Desired) -> Option<u64> {
    match (knob, desired.fields.as_slice()) {
        (CpuKnob::ResumeLatency { .. }, [Want::AtMost(n)]) => u64::try_from(*n).ok(),
        _ => None,
    }
}

impl fmt::Display for CpuKnob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuKnob::Governor { cpu } => write!(f, "cpu{cpu} scaling_governor"),
            CpuKnob::EnergyPerformancePreference { cpu } => {
                write!(f, "cpu{cpu} energy_performance_preference")
            }
            CpuKnob::ResumeLatency { cpu } => write!(f, "cpu{cpu} pm_qos_resume_latency_us"),
            CpuKnob::IdleStateDisable { cpu, state } => {
                write!(f, "cpu{cpu} cpuidle state{state} disable")
            }
        }
    }
}

/// How a limit on idle-state exit latency is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdleLimit {
    /// The PM QoS resume latency where the kernel has it, else disabling states.
    #[default]
    Auto,
    /// cpuN/power/pm_qos_resume_latency_us only.
    PmQos,
    /// cpuidle stateS/disable for every state whose exit latency is above the limit.
    DisableStates,
}

/// One wanted value of the `cpu` section, as the profile gives it.
#[derive(Clone, Debug)]
pub struct Request {
    pub value: Desired,
    pub reason: String,
    pub optional: bool,
}

/// What the `cpu` section asks for.
#[derive(Clone, Debug, Default)]
pub struct CpuRequest {
    /// A CPU list (`0-3,8`); every online CPU when `None`.
    pub cpus: Option<String>,
    pub governor: Option<Request>,
    pub energy_performance_preference: Option<Request>,
    /// Exit latency limit in microseconds.
    pub max_idle_latency_us: Option<Request>,
    pub idle_limit: IdleLimit,
}

/// A row the section produces: a setting, or a setting this host has no file for at all
/// (no cpufreq or cpuidle driver), reported once instead of once per CPU.
#[derive(Clone, Debug)]
pub enum Row {
    Setting(Setting),
    Absent {
        setting: String,
        desired: Desired,
        reason: String,
        optional: bool,
        why: String,
    },
}

/// Expands the section on `host`: knobs in write order (preferences, governors, idle), and
/// notes for the operator. Errors are values that can never work (a CPU that does not
/// exist, a latency that is not a number).
pub fn expand(host: &Host, req: &CpuRequest) -> Result<(Vec<Row>, Vec<String>), String> {
    // A tree without /sys (a capture of /proc only) has no CPU files: every row is absent.
    let online = cpus::online(host).unwrap_or_default();
    let mut notes = Vec::new();
    let selected: BTreeSet<u32> = match &req.cpus {
        None => online.iter().copied().collect(),
        Some(list) => {
            let wanted = cpus::parse_list(list).map_err(|e| format!("cpus: {e}"))?;
            let possible = host
                .read_string(format!("{CPU_DIR}/possible"))
                .ok()
                .and_then(|t| cpus::parse_list(t.trim()).ok());
            if let Some(possible) = &possible
                && let Some(missing) = wanted.iter().find(|c| !possible.contains(c))
            {
                return Err(format!(
                    "cpus: CPU {missing} does not exist on this host (possible: {})",
                    cpus::format_list(possible)
                ));
            }
            let offline: BTreeSet<u32> = wanted
                .iter()
                .copied()
                .filter(|c| !online.contains(c))
                .collect();
            if !offline.is_empty() {
                notes.push(format!(
                    "cpu: CPUs {} are offline and left alone",
                    cpus::format_list(&offline.iter().copied().collect())
                ));
            }
            wanted.into_iter().filter(|c| online.contains(c)).collect()
        }
    };
    let mut rows = Vec::new();
    let policies = policies(host, &selected, &online, &mut notes);
    for (request, make, name) in [
        (
            &req.energy_performance_preference,
            (|cpu| CpuKnob::EnergyPerformancePreference { cpu }) as fn(u32) -> CpuKnob,
            "energy_performance_preference",
        ),
        (
            &req.governor,
            (|cpu| CpuKnob::Governor { cpu }) as fn(u32) -> CpuKnob,
            "scaling_governor",
        ),
    ] {
        let Some(r) = request else { continue };
        let knobs: Vec<CpuKnob> = policies
            .iter()
            .map(|cpu| make(*cpu))
            .filter(|k| host.exists(k.path()))
            .collect();
        if knobs.is_empty() {
            let why = match policies.first() {
                Some(cpu) => make(*cpu).absent(),
                None => "no CPU has a cpufreq policy (no frequency driver: the hardware, firmware or hypervisor chooses frequencies)".to_string(),
            };
            rows.push(absent_row(name, r, why));
        }
        rows.extend(knobs.into_iter().map(|k| setting(k, r.value.clone(), r)));
    }
    if let Some(r) = &req.max_idle_latency_us {
        let limit = match r.value.fields.as_slice() {
            [Want::Exact(v)] => v.parse::<u32>().ok().filter(|n| *n <= i32::MAX as u32),
            [Want::AtMost(n)] => u32::try_from(*n).ok().filter(|n| *n <= i32::MAX as u32),
            _ => None,
        }
        .ok_or_else(|| {
            format!(
                "max_idle_latency_us: {} is not a latency; give microseconds from 0 to 2147483647",
                r.value
            )
        })?;
        rows.extend(idle_rows(host, &selected, limit, req.idle_limit, r));
    }
    Ok((rows, notes))
}

/// The first selected CPU of each cpufreq policy, with a note when a policy also covers
/// online CPUs outside the selection (the kernel applies the policy's governor to all).
fn policies(
    host: &Host,
    selected: &BTreeSet<u32>,
    online: &cpus::CpuSet,
    notes: &mut Vec<String>,
) -> Vec<u32> {
    let mut covered: BTreeSet<u32> = BTreeSet::new();
    let mut firsts = Vec::new();
    for &cpu in selected {
        if covered.contains(&cpu) {
            continue;
        }
        let related = host
            .read_string(format!("{CPU_DIR}/cpu{cpu}/cpufreq/related_cpus"))
            .ok()
            .and_then(|t| {
                let t = t.trim().to_string();
                // related_cpus is a list of numbers separated by spaces.
                cpus::parse_list(&t.split_whitespace().collect::<Vec<_>>().join(",")).ok()
            })
            .unwrap_or_else(|| [cpu].into_iter().collect());
        let outside: Vec<u32> = related
            .iter()
            .copied()
            .filter(|c| online.contains(c) && !selected.contains(c))
            .collect();
        if !outside.is_empty() {
            notes.push(format!(
                "cpu: cpu{cpu} shares its cpufreq policy with CPUs {} outside `cpus:`; its governor and preference apply to them too",
                cpus::format_list(&outside.iter().copied().collect())
            ));
        }
        covered.extend(related.iter().copied());
        covered.insert(cpu);
        firsts.push(cpu);
    }
    firsts
}

/// Rows for the idle-latency limit on each selected CPU.
fn idle_rows(
    host: &Host,
    selected: &BTreeSet<u32>,
    limit: u32,
    method: IdleLimit,
    r: &Request,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut absent: Option<String> = selected
        .is_empty()
        .then(|| format!("no online CPU could be read ({CPU_DIR}/online)"));
    let bound = Desired {
        fields: vec![Want::AtMost(i128::from(limit))],
    };
    for &cpu in selected {
        let qos = CpuKnob::ResumeLatency { cpu };
        let use_qos = match method {
            IdleLimit::PmQos => true,
            IdleLimit::DisableStates => false,
            IdleLimit::Auto => host.exists(qos.path()),
        };
        if use_qos {
            if host.exists(qos.path()) {
                rows.push(setting(qos, bound.clone(), r));
            } else {
                absent.get_or_insert_with(|| qos.absent());
            }
            continue;
        }
        let states = idle_states(host, cpu);
        if states.is_empty() {
            absent.get_or_insert_with(|| format!(
                "cpu{cpu} has no cpuidle states ({CPU_DIR}/cpu{cpu}/cpuidle is absent: no idle driver, or cpuidle.off=1)"
            ));
            continue;
        }
        for s in states.into_iter().filter(|s| s.latency > u64::from(limit)) {
            let knob = CpuKnob::IdleStateDisable {
                cpu,
                state: s.index,
            };
            let mut row = setting(knob, Desired::exact("1"), r);
            if let Row::Setting(setting) = &mut row {
                setting.reason = format!(
                    "{} [{} exit latency {} us > {limit} us]",
                    setting.reason, s.name, s.latency
                );
            }
            rows.push(row);
        }
    }
    if rows.is_empty()
        && let Some(why) = absent
    {
        rows.push(absent_row("max_idle_latency_us", r, why));
    }
    rows
}

/// One cpuidle state of a CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdleState {
    pub index: u32,
    pub name: String,
    /// Exit latency, microseconds.
    pub latency: u64,
}

/// The idle states of `cpu`, by index; states whose latency cannot be read are left out.
pub fn idle_states(host: &Host, cpu: u32) -> Vec<IdleState> {
    let dir = format!("{CPU_DIR}/cpu{cpu}/cpuidle");
    let mut states: Vec<IdleState> = host
        .list_dir(&dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|name| {
            let index: u32 = name.strip_prefix("state")?.parse().ok()?;
            if index >= MAX_IDLE_STATES {
                return None;
            }
            let read = |f: &str| {
                host.read_string(format!("{dir}/{name}/{f}"))
                    .ok()
                    .map(|s| s.trim().to_string())
            };
            Some(IdleState {
                index,
                latency: read("latency")?.parse().ok()?,
                name: read("name").unwrap_or_else(|| name.clone()),
            })
        })
        .collect();
    states.sort_by_key(|s| s.index);
    states
}

fn setting(knob: CpuKnob, desired: Desired, r: &Request) -> Row {
    Row::Setting(Setting {
        knob: super::Knob::Cpu(knob),
        desired,
        reason: r.reason.clone(),
        optional: r.optional,
    })
}

fn absent_row(name: &str, r: &Request, why: String) -> Row {
    Row::Absent {
        setting: format!("cpu {name}"),
        desired: r.value.clone(),
        reason: r.reason.clone(),
        optional: r.optional,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A host with `n` CPUs, cpufreq (one policy per CPU unless `shared`) and intel_idle-like
    /// states (Skylake-SP latencies: POLL 0, C1 2, C1E 10, C6 133 us).
    fn host(n: u32, shared: bool, qos: bool) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        let put = |p: &str, t: &str| {
            let p = dir.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        };
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        put("/sys/devices/system/cpu/online", &format!("0-{}\n", n - 1));
        put(
            "/sys/devices/system/cpu/possible",
            &format!("0-{}\n", n - 1),
        );
        for cpu in 0..n {
            let base = format!("/sys/devices/system/cpu/cpu{cpu}");
            let related = if shared {
                (0..n).map(|c| c.to_string()).collect::<Vec<_>>().join(" ")
            } else {
                cpu.to_string()
            };
            put(
                &format!("{base}/cpufreq/related_cpus"),
                &format!("{related}\n"),
            );
            put(&format!("{base}/cpufreq/scaling_governor"), "powersave\n");
            put(
                &format!("{base}/cpufreq/scaling_available_governors"),
                "performance powersave\n",
            );
            put(
                &format!("{base}/cpufreq/energy_performance_preference"),
                "balance_performance\n",
            );
            put(
                &format!("{base}/cpufreq/energy_performance_available_preferences"),
                "default performance balance_performance balance_power power\n",
            );
            if qos {
                put(&format!("{base}/power/pm_qos_resume_latency_us"), "0\n");
            }
            for (i, (name, lat)) in [("POLL", 0), ("C1", 2), ("C1E", 10), ("C6", 133)]
                .iter()
                .enumerate()
            {
                put(
                    &format!("{base}/cpuidle/state{i}/name"),
                    &format!("{name}\n"),
                );
                put(
                    &format!("{base}/cpuidle/state{i}/latency"),
                    &format!("{lat}\n"),
                );
                put(&format!("{base}/cpuidle/state{i}/disable"), "0\n");
            }
        }
        let host = Host::with_root(dir.path());
        (dir, host)
    }

    fn request(cpus: Option<&str>, latency: &str, method: IdleLimit) -> CpuRequest {
        let r = |v: &str| Request {
            value: Desired::exact(v),
            reason: "test".into(),
            optional: false,
        };
        CpuRequest {
            cpus: cpus.map(str::to_string),
            governor: Some(r("performance")),
            energy_performance_preference: Some(r("performance")),
            max_idle_latency_us: Some(r(latency)),
            idle_limit: method,
        }
    }

    fn names(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .map(|r| match r {
                Row::Setting(s) => s.knob.to_string(),
                Row::Absent { setting, .. } => format!("absent {setting}"),
            })
            .collect()
    }

    #[test]
    fn preferences_come_before_governors_and_only_selected_cpus_get_knobs() {
        let (_d, h) = host(4, false, true);
        let (rows, notes) = expand(&h, &request(Some("1-2"), "10", IdleLimit::Auto)).unwrap();
        assert_eq!(
            names(&rows),
            [
                "cpu1 energy_performance_preference",
                "cpu2 energy_performance_preference",
                "cpu1 scaling_governor",
                "cpu2 scaling_governor",
                "cpu1 pm_qos_resume_latency_us",
                "cpu2 pm_qos_resume_latency_us",
            ]
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_shared_policy_gets_one_knob_and_a_note_about_cpus_outside_the_set() {
        let (_d, h) = host(4, true, true);
        let (rows, notes) = expand(&h, &request(Some("0-1"), "10", IdleLimit::Auto)).unwrap();
        let n = names(&rows);
        assert_eq!(n.iter().filter(|n| n.contains("governor")).count(), 1);
        assert!(notes[0].contains("CPUs 2-3 outside"), "{notes:?}");
    }

    #[test]
    fn disable_states_picks_the_states_above_the_limit() {
        let (_d, h) = host(2, false, false);
        let (rows, _) = expand(&h, &request(None, "10", IdleLimit::Auto)).unwrap();
        let n = names(&rows);
        assert!(
            n.contains(&"cpu0 cpuidle state3 disable".to_string()),
            "{n:?}"
        );
        assert!(
            !n.iter().any(|n| n.contains("state2")),
            "C1E (10 us) stays: {n:?}"
        );
        let Row::Setting(s) = rows.last().unwrap() else {
            panic!()
        };
        assert!(
            s.reason.contains("C6 exit latency 133 us > 10 us"),
            "{}",
            s.reason
        );
        let (rows, _) = expand(&h, &request(None, "1", IdleLimit::DisableStates)).unwrap();
        assert_eq!(
            names(&rows)
                .iter()
                .filter(|n| n.contains("cpuidle"))
                .count(),
            6,
            "C1, C1E and C6 on two CPUs"
        );
    }

    #[test]
    fn a_host_without_drivers_gets_one_absent_row_per_setting() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::create_dir_all(dir.path().join("sys/devices/system/cpu")).unwrap();
        std::fs::write(dir.path().join("sys/devices/system/cpu/online"), "0-1\n").unwrap();
        let h = Host::with_root(dir.path());
        let (rows, _) = expand(&h, &request(None, "10", IdleLimit::DisableStates)).unwrap();
        assert_eq!(
            names(&rows),
            [
                "absent cpu energy_performance_preference",
                "absent cpu scaling_governor",
                "absent cpu max_idle_latency_us"
            ]
        );
    }

    #[test]
    fn bad_requests_are_errors_that_say_what_to_give() {
        let (_d, h) = host(2, false, true);
        let err = expand(&h, &request(Some("0-7"), "10", IdleLimit::Auto)).unwrap_err();
        assert!(err.contains("CPU 2 does not exist"), "{err}");
        let err = expand(&h, &request(None, "soon", IdleLimit::Auto)).unwrap_err();
        assert!(err.contains("microseconds"), "{err}");
    }

    #[test]
    fn resume_latency_limits_compare_by_meaning() {
        let knob = CpuKnob::ResumeLatency { cpu: 0 };
        let at_most = |n| Desired {
            fields: vec![Want::AtMost(n)],
        };
        assert_eq!(knob.meets(&at_most(10), "0"), Some(false), "0 is no limit");
        assert_eq!(knob.meets(&at_most(10), "5"), Some(true));
        assert_eq!(knob.meets(&at_most(10), "20"), Some(false));
        assert_eq!(knob.meets(&at_most(10), "n/a"), Some(true));
        assert_eq!(knob.target(&at_most(10)).as_deref(), Some("10"));
        assert_eq!(knob.target(&at_most(0)).as_deref(), Some("n/a"));
        assert_eq!(
            CpuKnob::Governor { cpu: 0 }.meets(&Desired::exact("performance"), "x"),
            None
        );
    }

    #[test]
    fn values_are_checked_against_what_the_driver_offers() {
        let (_d, h) = host(1, false, true);
        let gov = CpuKnob::Governor { cpu: 0 };
        assert!(gov.validate(&h, "performance").is_ok());
        assert_eq!(
            gov.validate(&h, "schedutil").unwrap_err().kind,
            ErrorKind::Unsupported
        );
        assert_eq!(
            gov.validate(&h, "a b").unwrap_err().kind,
            ErrorKind::Invalid
        );
        let qos = CpuKnob::ResumeLatency { cpu: 0 };
        assert!(qos.validate(&h, "n/a").is_ok());
        assert!(qos.validate(&h, "-1").is_err());
        assert!(qos.validate(&h, "2147483648").is_err());
        gov.write(&h, "performance").unwrap();
        assert_eq!(gov.read(&h).unwrap(), "performance");
    }

    #[test]
    fn journal_entries_name_only_cpus_and_states_a_kernel_can_have() {
        assert!(CpuKnob::Governor { cpu: 8191 }.check_journaled().is_ok());
        assert!(CpuKnob::Governor { cpu: 8192 }.check_journaled().is_err());
        assert!(
            CpuKnob::IdleStateDisable { cpu: 0, state: 9 }
                .check_journaled()
                .is_ok()
        );
        assert!(
            CpuKnob::IdleStateDisable { cpu: 0, state: 10 }
                .check_journaled()
                .is_err()
        );
        let bad: Result<CpuKnob, _> =
            serde_json::from_str(r#"{"attr": "scaling-max-freq", "cpu": 0}"#);
        assert!(bad.is_err());
    }
}
