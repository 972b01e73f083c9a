//! The `network` section of a profile (congestion control, qdiscs, NIC queues, steering,
//! IRQ affinity), expanded into knobs for a given host.
//!
//! ```yaml
//! network:
//!   congestion_control: {value: bbr, reason: ...}
//!   default_qdisc: {value: fq, optional: true, reason: ...}
//!   interfaces:
//!     default-route:            # or a name (eth0), a glob ("en*"), driver:NAME
//!       channels: {combined: {value: max, optional: true, reason: ...}}
//!       coalesce: {adaptive-rx: off, rx-usecs: 8}
//!       rps_cpus: spread
//! ```
//! Every leaf takes the short form (`value`) or the long form with `reason` and `optional`,
//! like a sysctl entry. Unknown keys are errors with their line and column.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::host::sysctl::SysctlKey;
use crate::tune::net::ethtool::{self, Group};
use crate::tune::net::iface::{self, Selector};
use crate::tune::net::{NetKnob, cpus};
use crate::tune::{Desired, ErrorKind, Knob, Setting};

use super::SysctlEntry;

/// One leaf: value, reason, optional (and the profile it came from).
pub type Entry = SysctlEntry;

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// net.ipv4.tcp_congestion_control, checked against the kernel's available (and, in a
    /// network namespace, allowed) algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub congestion_control: Option<Entry>,
    /// net.core.default_qdisc (host-wide; new interfaces and mq children get it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_qdisc: Option<Entry>,
    /// net.core.rps_sock_flow_entries: the global RFS table (0 turns RFS off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps_sock_flow_entries: Option<Entry>,
    /// Per-interface settings, keyed by selector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub interfaces: BTreeMap<SelectorKey, Interface>,
}

/// What a profile sets on each interface a selector picks.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// The root qdisc kind (replaced; rollback restores the previous kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_qdisc: Option<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txqueuelen: Option<Entry>,
    /// rx, tx, other, combined: a number or `max`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub channels: BTreeMap<ChannelsParam, Entry>,
    /// rx, rx-mini, rx-jumbo, tx: a number or `max`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rings: BTreeMap<RingsParam, Entry>,
    /// adaptive-rx/tx (on/off), rx-usecs, rx-frames, tx-usecs, ... as `ethtool -C` names them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub coalesce: BTreeMap<CoalesceParam, Entry>,
    /// Every rx queue: `spread` (all NUMA-local CPUs), `all`, `none`, or a hex mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps_cpus: Option<Entry>,
    /// Every rx queue's RFS flow table size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps_flow_cnt: Option<Entry>,
    /// Every tx queue: `spread` (a distinct share of the NUMA-local CPUs each), `all`,
    /// `none`, or a hex mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xps_cpus: Option<Entry>,
    /// The queue interrupts: `spread` (one NUMA-local CPU each, round robin) or a CPU list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irq_affinity: Option<Entry>,
}

/// An interface selector as written (validated when parsed).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SelectorKey(pub String);

impl<'de> Deserialize<'de> for SelectorKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Selector::parse(&s).map_err(de::Error::custom)?;
        Ok(SelectorKey(s))
    }
}

macro_rules! param_key {
    ($name:ident, $group:expr) => {
        /// An ethtool parameter name of one group (validated when parsed).
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                if ethtool::param($group, &s).is_none() {
                    return Err(de::Error::custom(format!(
                        "unknown {} parameter {s:?}; expected one of: {}",
                        $group.name(),
                        ethtool::names($group).join(", ")
                    )));
                }
                Ok($name(s))
            }
        }
    };
}

param_key!(ChannelsParam, Group::Channels);
param_key!(RingsParam, Group::Rings);
param_key!(CoalesceParam, Group::Coalesce);

/// Settings plus what the operator should be told about them.
#[derive(Debug, Default)]
pub struct Expanded {
    pub settings: Vec<Setting>,
    pub warnings: Vec<String>,
}

fn stamp(entry: &mut Entry, from: &str) {
    if entry.from.is_empty() {
        entry.from = from.to_string();
    }
}

fn later_wins(mine: &mut Option<Entry>, later: Option<Entry>, from: &str) {
    if let Some(mut e) = later {
        stamp(&mut e, from);
        *mine = Some(e);
    }
}

fn extend<K: Ord>(mine: &mut BTreeMap<K, Entry>, later: BTreeMap<K, Entry>, from: &str) {
    for (k, mut e) in later {
        stamp(&mut e, from);
        mine.insert(k, e);
    }
}

impl Interface {
    fn merge(&mut self, later: Interface, from: &str) {
        later_wins(&mut self.root_qdisc, later.root_qdisc, from);
        later_wins(&mut self.txqueuelen, later.txqueuelen, from);
        extend(&mut self.channels, later.channels, from);
        extend(&mut self.rings, later.rings, from);
        extend(&mut self.coalesce, later.coalesce, from);
        later_wins(&mut self.rps_cpus, later.rps_cpus, from);
        later_wins(&mut self.rps_flow_cnt, later.rps_flow_cnt, from);
        later_wins(&mut self.xps_cpus, later.xps_cpus, from);
        later_wins(&mut self.irq_affinity, later.irq_affinity, from);
    }
}

impl Network {
    /// Folds a later profile's section over this one: later wins, key by key.
    pub fn merge(&mut self, later: Network, from: &str) {
        later_wins(&mut self.congestion_control, later.congestion_control, from);
        later_wins(&mut self.default_qdisc, later.default_qdisc, from);
        later_wins(
            &mut self.rps_sock_flow_entries,
            later.rps_sock_flow_entries,
            from,
        );
        for (selector, iface) in later.interfaces {
            self.interfaces
                .entry(selector)
                .or_default()
                .merge(iface, from);
        }
    }

    pub fn is_empty(&self) -> bool {
        self == &Network::default()
    }

    /// The settings this section asks for on `host`, or why it cannot be expanded.
    pub fn expand(&self, host: &Host) -> Result<Vec<Setting>, String> {
        self.expand_full(host).map(|e| e.settings)
    }

    /// Settings in apply order (host-wide sysctls, then per interface: qdisc, queue
    /// length, channels, rings, coalescing, steering, IRQs) and warnings. Values that can
    /// never work (a mask with no online CPU, a count above the device's maximum) are
    /// errors; what the kernel or device lacks stays a setting, so the plan reports it per
    /// device (skipped when optional, blocking apply otherwise).
    pub fn expand_full(&self, host: &Host) -> Result<Expanded, String> {
        let mut out = Builder::default();
        for (key, entry) in [
            ("net.ipv4.tcp_congestion_control", &self.congestion_control),
            ("net.core.default_qdisc", &self.default_qdisc),
            (
                "net.core.rps_sock_flow_entries",
                &self.rps_sock_flow_entries,
            ),
        ] {
            if let Some(entry) = entry {
                let key = SysctlKey::parse(key).map_err(|e| e.to_string())?;
                out.settings.push(Setting {
                    knob: Knob::sysctl(key),
                    desired: entry.value.clone(),
                    reason: entry.reason.clone().unwrap_or_default(),
                    optional: entry.optional,
                });
            }
        }
        let mut irq_knobs = 0;
        for (key, wanted) in &self.interfaces {
            let selector = Selector::parse(&key.0)?;
            let (ifaces, notes) = selector.resolve(host)?;
            out.warnings.extend(notes);
            for name in ifaces {
                irq_knobs += out.interface(host, &selector, &name, wanted)?;
            }
        }
        if irq_knobs > 0 && iface::irqbalance_running(host) {
            out.warnings.push(
                "irqbalance is running and will rewrite the IRQ affinity this profile sets; stop it (systemctl disable --now irqbalance) or ban these IRQs in its configuration (IRQBALANCE_BANNED_IRQS)".to_string(),
            );
        }
        Ok(Expanded {
            settings: out.settings,
            warnings: out.warnings,
        })
    }
}

#[derive(Default)]
struct Builder {
    settings: Vec<Setting>,
    warnings: Vec<String>,
    /// Which selector produced each knob, to report two selectors that disagree.
    seen: HashMap<NetKnob, (String, String)>,
}

impl Builder {
    /// Adds one knob with its value; checks the value can work here.
    fn push(
        &mut self,
        host: &Host,
        selector: &Selector,
        knob: NetKnob,
        value: String,
        entry: &Entry,
    ) -> Result<(), String> {
        let value = knob.normalize(&value);
        if let Some((v, sel)) = self.seen.get(&knob) {
            if *v != value {
                return Err(format!(
                    "{knob}: selector {sel} wants {v:?} and selector {selector} wants {value:?}; make them agree"
                ));
            }
            return Ok(());
        }
        match knob.validate(host, &value) {
            Err(e) if e.kind == ErrorKind::Invalid => return Err(e.message),
            _ => {} // unsupported, privilege: the plan reports them on the row
        }
        self.seen
            .insert(knob.clone(), (value.clone(), selector.to_string()));
        self.settings.push(Setting {
            knob: Knob::Net(knob),
            desired: Desired::exact(value),
            reason: entry.reason.clone().unwrap_or_default(),
            optional: entry.optional,
        });
        Ok(())
    }

    /// Expands one interface's block; returns how many IRQ knobs it added.
    fn interface(
        &mut self,
        host: &Host,
        sel: &Selector,
        name: &str,
        w: &Interface,
    ) -> Result<usize, String> {
        let iface = name.to_string();
        let text = |e: &Entry| e.value.to_string();
        if let Some(e) = &w.root_qdisc {
            self.push(
                host,
                sel,
                NetKnob::RootQdisc {
                    iface: iface.clone(),
                },
                text(e),
                e,
            )?;
        }
        if let Some(e) = &w.txqueuelen {
            self.push(
                host,
                sel,
                NetKnob::TxQueueLen {
                    iface: iface.clone(),
                },
                text(e),
                e,
            )?;
        }
        // Channel counts after apply decide how many rx/tx queues steering covers.
        let mut channel_target: BTreeMap<&str, u32> = BTreeMap::new();
        for (p, e) in &w.channels {
            let knob = NetKnob::Channels {
                iface: iface.clone(),
                param: p.0.clone(),
            };
            let value = resolve_max(host, &knob, &text(e));
            if let Ok(n) = value.parse::<u32>() {
                channel_target.insert(
                    match p.0.as_str() {
                        "rx" => "rx",
                        "tx" => "tx",
                        "combined" => "combined",
                        _ => "other",
                    },
                    n,
                );
            }
            self.push(host, sel, knob, value, e)?;
        }
        for (p, e) in &w.rings {
            let knob = NetKnob::Rings {
                iface: iface.clone(),
                param: p.0.clone(),
            };
            let value = resolve_max(host, &knob, &text(e));
            self.push(host, sel, knob, value, e)?;
        }
        for (p, e) in &w.coalesce {
            let knob = NetKnob::Coalesce {
                iface: iface.clone(),
                param: p.0.clone(),
            };
            self.push(host, sel, knob, text(e), e)?;
        }
        let rx = queue_count(host, name, "rx", &channel_target);
        let tx = queue_count(host, name, "tx", &channel_target);
        if let Some(e) = &w.rps_cpus {
            let masks = masks(host, name, &text(e), rx.len(), false)?;
            for (q, mask) in rx.iter().zip(masks) {
                self.push(
                    host,
                    sel,
                    NetKnob::RpsCpus {
                        iface: iface.clone(),
                        queue: *q,
                    },
                    mask,
                    e,
                )?;
            }
        }
        if let Some(e) = &w.rps_flow_cnt {
            for q in &rx {
                self.push(
                    host,
                    sel,
                    NetKnob::RpsFlowCnt {
                        iface: iface.clone(),
                        queue: *q,
                    },
                    text(e),
                    e,
                )?;
            }
        }
        if let Some(e) = &w.xps_cpus {
            let masks = masks(host, name, &text(e), tx.len(), true)?;
            for (q, mask) in tx.iter().zip(masks) {
                self.push(
                    host,
                    sel,
                    NetKnob::XpsCpus {
                        iface: iface.clone(),
                        queue: *q,
                    },
                    mask,
                    e,
                )?;
            }
        }
        let mut irq_knobs = 0;
        if let Some(e) = &w.irq_affinity {
            let irqs = iface::queue_irqs(host, name);
            if irqs.is_empty() {
                let why = format!(
                    "{name}: found no queue interrupts (no device msi_irqs and no /proc/interrupts line naming it; virtual devices have none)"
                );
                if e.optional {
                    self.warnings
                        .push(format!("irq_affinity skipped (optional): {why}"));
                } else {
                    return Err(why);
                }
            }
            let lists: Vec<String> = match text(e).as_str() {
                "spread" => {
                    let (cpus, _) = cpus::local_cpus(host, name)?;
                    let cpus: Vec<u32> = cpus.into_iter().collect();
                    (0..irqs.len())
                        .map(|i| cpus[i % cpus.len()].to_string())
                        .collect()
                }
                list => vec![list.to_string(); irqs.len()],
            };
            for (irq, list) in irqs.iter().zip(lists) {
                self.push(
                    host,
                    sel,
                    NetKnob::IrqAffinity {
                        irq: *irq,
                        iface: iface.clone(),
                    },
                    list,
                    e,
                )?;
                irq_knobs += 1;
            }
        }
        Ok(irq_knobs)
    }
}

/// `max` becomes the device's maximum when it can be read; otherwise the text stays and
/// the plan reports why the device lacks the parameter.
fn resolve_max(host: &Host, knob: &NetKnob, value: &str) -> String {
    if value != "max" {
        return value.to_string();
    }
    knob.maximum(host)
        .map(|m| m.to_string())
        .unwrap_or_else(|_| value.to_string())
}

/// The rx or tx queue indexes steering covers: those the channel settings will leave (rx or
/// tx plus combined), else the queues present now.
fn queue_count(host: &Host, name: &str, dir: &str, target: &BTreeMap<&str, u32>) -> Vec<u32> {
    let present = iface::queues(host, name, dir);
    if target.contains_key(dir) || target.contains_key("combined") {
        let read = |p: &str| {
            target.get(p).copied().or_else(|| {
                let knob = NetKnob::Channels {
                    iface: name.to_string(),
                    param: p.to_string(),
                };
                knob.read(host).ok().and_then(|v| v.parse().ok())
            })
        };
        let n = read(dir).unwrap_or(0) + read("combined").unwrap_or(0);
        if n > 0 {
            return (0..n).collect();
        }
    }
    present
}

/// One mask per queue for `value`: spread, all, none, or a hex mask for every queue.
fn masks(
    host: &Host,
    name: &str,
    value: &str,
    queues: usize,
    distinct: bool,
) -> Result<Vec<String>, String> {
    Ok(match value {
        "spread" | "all" => {
            let (local, _) = cpus::local_cpus(host, name)?;
            if distinct && value == "spread" {
                cpus::spread(&local, queues)
                    .iter()
                    .map(cpus::format_mask)
                    .collect()
            } else {
                vec![cpus::format_mask(&local); queues]
            }
        }
        "none" | "off" => vec!["0".to_string(); queues],
        mask => vec![mask.to_string(); queues],
    })
}

impl fmt::Display for SelectorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
