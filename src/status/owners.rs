//! Who else sets what the applied profile sets: a sysctl file that boots a key to another
//! value, an active TuneD profile, a running irqbalance. Each is found from files alone
//! (through the Host), without asking a daemon.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use crate::host::Host;
use crate::persist::sysctl_d::{self, BootLine};
use crate::persist::{self, SysctlPersist};
use crate::plan::{Action, Plan, PlanItem};
use crate::tune::Knob;
use crate::tune::net::iface;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerKind {
    /// A sysctl.d file or /etc/sysctl.conf.
    SysctlFile,
    /// TuneD's active profile.
    Tuned,
    /// The irqbalance daemon.
    Irqbalance,
}

/// Another owner of settings the applied profile sets.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Owner {
    pub kind: OwnerKind,
    /// The file, profile or daemon: `/etc/sysctl.d/99-sysctl.conf`, `TuneD profile
    /// throughput-performance`, `irqbalance`.
    pub owner: String,
    /// The settings it also sets, as `key = its value` where it has one.
    pub settings: Vec<String>,
    /// What that means for the applied profile, and what to do.
    pub detail: String,
}

/// Every other owner of the settings in `plan` (the applied profile's check plan).
pub fn find(host: &Host, plan: &Plan) -> Vec<Owner> {
    let mut owners = sysctl_files(host, plan);
    owners.extend(tuned(host, plan));
    owners.extend(irqbalance(host, plan));
    owners
}

/// Sysctl rows of the plan (the setting exists here).
fn sysctl_rows(plan: &Plan) -> impl Iterator<Item = (&PlanItem, String)> {
    plan.items.iter().filter_map(|item| match &item.knob {
        Some(Knob::Sysctl { key }) if !matches!(item.action, Action::Skipped(_)) => {
            Some((item, key.to_string()))
        }
        _ => None,
    })
}

/// Files read at boot that set one of the profile's sysctls to a value it does not accept:
/// after hostperf's file (they win), or any file when the key is not in hostperf's file.
fn sysctl_files(host: &Host, plan: &Plan) -> Vec<Owner> {
    let ours: Vec<String> = match host.read_optional(persist::SYSCTL_FILE) {
        Ok(Some(bytes)) => sysctl_d::parse_sysctl_conf(&String::from_utf8_lossy(&bytes))
            .into_iter()
            .map(|(k, _)| k)
            .collect(),
        _ => Vec::new(),
    };
    let lines = sysctl_d::boot_lines(host);
    let mut by_file: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (item, key) in sysctl_rows(plan) {
        let in_ours = ours.contains(&key);
        for line in sysctl_d::setting_otherwise(&lines, &key, &item.desired) {
            let effect = match (in_ours, persist::sysctl_persist(item)) {
                (true, _) if line.after_ours => format!(
                    "read after 90-hostperf.conf: boots as {}, not {}",
                    line.value, item.desired
                ),
                (true, _) => continue,
                (false, SysctlPersist::BootUnit) => format!(
                    "hostperf-apply.service raises it to {} again after systemd-sysctl, but `sysctl --system` puts {} back",
                    item.desired, line.value
                ),
                (false, SysctlPersist::SysctlD) => format!(
                    "not in 90-hostperf.conf: boots as {}, not {}",
                    line.value, item.desired
                ),
            };
            by_file
                .entry(line.file.clone())
                .or_default()
                .push(format!("{} ({effect})", setting_line(&key, line)));
        }
    }
    by_file
        .into_iter()
        .map(|(file, settings)| Owner {
            kind: OwnerKind::SysctlFile,
            owner: file.display().to_string(),
            detail: format!(
                "sets {} of the applied profile's sysctls to other values at boot; change or remove those lines",
                settings.len()
            ),
            settings,
        })
        .collect()
}

fn setting_line(key: &str, line: &BootLine) -> String {
    if line.pattern == key {
        format!("{key} = {}", line.value)
    } else {
        format!("{key} = {} (as {})", line.value, line.pattern)
    }
}

/// Where TuneD looks for a profile by name, highest precedence first (TuneD's
/// LOAD_DIRECTORIES read in reverse: /etc overrides /usr/lib; `profiles/` since 2.23).
const TUNED_DIRS: &[&str] = &[
    "/etc/tuned/profiles",
    "/etc/tuned",
    "/usr/lib/tuned/profiles",
    "/usr/lib/tuned",
];

/// The largest tuned.conf read, and how deep includes are followed.
const TUNED_FILE_LIMIT: usize = 1 << 20;
const TUNED_INCLUDE_DEPTH: usize = 8;

/// TuneD with an active profile (/etc/tuned/active_profile), running or not: the profile's
/// sysctls that the applied profile sets too, and its other plugins.
fn tuned(host: &Host, plan: &Plan) -> Option<Owner> {
    let active = host.read_optional("/etc/tuned/active_profile").ok()??;
    let active = String::from_utf8_lossy(&active);
    let names: Vec<String> = active
        .split_whitespace()
        .take(8)
        .map(|n| crate::journal::clean_line(n, 64))
        .collect();
    if names.is_empty() {
        return None;
    }
    let running = tuned_pid(host);
    let mut conf = TunedConf::default();
    for name in &names {
        conf.load(host, name, 0);
    }
    let mut settings = Vec::new();
    let mut differ = 0;
    for (item, key) in sysctl_rows(plan) {
        let Some(value) = conf
            .sysctl
            .iter()
            .rev()
            .find(|(k, _)| sysctl_d::glob_match(k, &key))
            .map(|(_, v)| v)
        else {
            continue;
        };
        let same = item
            .desired
            .is_met_by(&crate::host::sysctl::normalize(value));
        if !same {
            differ += 1;
        }
        settings.push(format!(
            "{key} = {value}{}",
            if same { " (same)" } else { "" }
        ));
    }
    let kinds: Vec<&str> = plan.items.iter().map(|i| i.kind).collect();
    let mut plugins: Vec<&str> = conf
        .plugins
        .iter()
        .map(String::as_str)
        .filter(|p| match *p {
            "net" => kinds.iter().any(|k| matches!(*k, "nic" | "qdisc")),
            "irqbalance" | "scheduler" => kinds.contains(&"irq"),
            _ => kinds.contains(p),
        })
        .collect();
    plugins.dedup();
    let state = match running {
        Some(pid) => format!("running (pid {pid})"),
        None => "not running now; applies it when started".to_string(),
    };
    let mut detail = format!("TuneD is {state}");
    if differ > 0 {
        detail.push_str(&format!(
            "; it sets {differ} of these sysctls to other values whenever it (re)starts"
        ));
    }
    if !plugins.is_empty() {
        detail.push_str(&format!(
            "; its {} plugin(s) also change settings of these kinds",
            plugins.join(", ")
        ));
    }
    detail.push_str(
        "; one owner per setting: `tuned-adm off`, or leave these settings out of one of the two profiles",
    );
    Some(Owner {
        kind: OwnerKind::Tuned,
        owner: format!("TuneD profile {}", names.join(" ")),
        settings,
        detail,
    })
}

/// TuneD's pid, when its pid file names a running `tuned`.
fn tuned_pid(host: &Host) -> Option<u32> {
    let text = host.read_optional("/run/tuned/tuned.pid").ok()??;
    let pid: u32 = String::from_utf8_lossy(&text).trim().parse().ok()?;
    (host.comm(pid).as_deref() == Some("tuned")).then_some(pid)
}

/// What the active TuneD profiles set: `[sysctl]` keys in the order they apply (a later
/// one wins), and the plugins of the other sections.
#[derive(Default)]
struct TunedConf {
    sysctl: Vec<(String, String)>,
    plugins: Vec<String>,
    loaded: Vec<String>,
}

impl TunedConf {
    /// Reads profile `name` (its includes first, as TuneD merges them).
    fn load(&mut self, host: &Host, name: &str, depth: usize) {
        if depth > TUNED_INCLUDE_DEPTH
            || self.loaded.iter().any(|n| n == name)
            || name.contains('/')
            || name.starts_with('.')
        {
            return;
        }
        self.loaded.push(name.to_string());
        let Some(text) = TUNED_DIRS.iter().find_map(|dir| {
            let path = Path::new(dir).join(name).join("tuned.conf");
            host.read_optional(&path).ok().flatten()
        }) else {
            return;
        };
        let text = String::from_utf8_lossy(&text[..text.len().min(TUNED_FILE_LIMIT)]).into_owned();
        let sections = parse_ini(&text);
        if let Some(main) = sections.iter().find(|(s, _)| s == "main") {
            for (k, v) in &main.1 {
                if k == "include" {
                    for inc in v.split([',', ' ', ';']).filter(|s| !s.is_empty()) {
                        self.load(host, inc.trim(), depth + 1);
                    }
                }
            }
        }
        for (section, entries) in &sections {
            if section == "main" {
                continue;
            }
            let plugin = entries
                .iter()
                .find(|(k, _)| k == "type")
                .map(|(_, v)| v.as_str())
                .unwrap_or(section.as_str());
            if plugin == "sysctl" {
                for (k, v) in entries.iter().filter(|(k, _)| k != "type") {
                    self.sysctl
                        .push((sysctl_d::dotted(k.trim_start_matches('-')), v.clone()));
                }
            } else if !self.plugins.iter().any(|p| p == plugin) {
                self.plugins.push(plugin.to_string());
            }
        }
    }
}

/// `[section]` and `key=value` lines of an INI file; comments and anything else skipped.
fn parse_ini(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(['#', ';']) || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((name.trim().to_string(), Vec::new()));
        } else if let (Some((k, v)), Some(section)) = (line.split_once('='), sections.last_mut()) {
            section.1.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    sections
}

/// irqbalance running while the profile pins IRQs: it moves them every few seconds.
fn irqbalance(host: &Host, plan: &Plan) -> Option<Owner> {
    let irqs: Vec<String> = plan
        .items
        .iter()
        .filter(|i| i.kind == "irq" && !matches!(i.action, Action::Skipped(_)))
        .map(|i| i.setting.clone())
        .collect();
    if irqs.is_empty() || !iface::irqbalance_running(host, false) {
        return None;
    }
    Some(Owner {
        kind: OwnerKind::Irqbalance,
        owner: "irqbalance".into(),
        detail: format!(
            "irqbalance is running and rewrites the IRQ affinity of these {} setting(s) every few seconds; stop it (systemctl disable --now irqbalance) or ban these IRQs (IRQBALANCE_BANNED_IRQS)",
            irqs.len()
        ),
        settings: irqs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_and_keys() {
        let s = parse_ini(
            "# c\n[main]\ninclude=network-throughput\n\n[sysctl]\nnet.core.busy_read=50\n[my_net]\ntype=net\ncoalesce=rx-usecs 3\nstray\n",
        );
        assert_eq!(s.len(), 3);
        assert_eq!(s[1].1, [("net.core.busy_read".into(), "50".into())]);
        assert_eq!(s[2].1[0], ("type".into(), "net".into()));
    }
}
