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
use crate::tune::net::cpus::{self, Topology};
use crate::tune::net::ethtool::{self, Group};
use crate::tune::net::iface::{self, QueueIrq, Selector};
use crate::tune::net::{NetKnob, qdisc};
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
    /// Every rx queue: `spread` (RPS only where the device has fewer rx queues than cores on
    /// its node: the CPUs of each queue's interrupt node; else off), `all`, `none`, or a hex
    /// mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps_cpus: Option<Entry>,
    /// Every rx queue's RFS flow table size; `auto`: net.core.rps_sock_flow_entries divided
    /// by the number of rx queues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rps_flow_cnt: Option<Entry>,
    /// Every tx queue: `spread` (the CPU of the queue's interrupt, and every other CPU on
    /// the queue nearest to it), `all`, `none`, or a hex mask.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xps_cpus: Option<Entry>,
    /// The queue interrupts: `spread` (each queue's vectors on one CPU: NIC-local cores
    /// first, then their SMT siblings, then other nodes; never an isolated CPU) or a CPU
    /// list.
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
        self.expand_full(host, false).map(|e| e.settings)
    }

    /// Settings in apply order (host-wide sysctls, then per interface: qdisc, queue
    /// length, channels, rings, coalescing, steering, IRQs) and warnings. Values that can
    /// never work (a mask with no online CPU, a count above the device's maximum) are
    /// errors; what the kernel or device lacks stays a setting, so the plan reports it per
    /// device (skipped when optional, blocking apply otherwise). `thorough` (apply and
    /// plan; check passes false) also reads every process's name to find an irqbalance
    /// started outside its service, which costs time in proportion to the process count.
    pub fn expand_full(&self, host: &Host, thorough: bool) -> Result<Expanded, String> {
        let mut out = Builder {
            sock_flow_entries: self.sock_flow_entries(host),
            ..Builder::default()
        };
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
        if let Some(note) = self.default_qdisc_note(host) {
            out.warnings.push(note);
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
        if irq_knobs > 0 && iface::irqbalance_running(host, thorough) {
            out.warnings.push(
                "irqbalance is running and will rewrite the IRQ affinity this profile sets; stop it (systemctl disable --now irqbalance) or ban these IRQs in its configuration (IRQBALANCE_BANNED_IRQS)".to_string(),
            );
        }
        Ok(Expanded {
            settings: out.settings,
            warnings: out.warnings,
        })
    }

    /// net.core.rps_sock_flow_entries as it will be after this profile: the value it asks
    /// for, else the host's (what `rps_flow_cnt: auto` divides among the rx queues).
    fn sock_flow_entries(&self, host: &Host) -> u32 {
        let current = host
            .read_string("/proc/sys/net/core/rps_sock_flow_entries")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "0".into());
        let value = match &self.rps_sock_flow_entries {
            Some(e) => e.value.target(&current).unwrap_or(current),
            None => current,
        };
        value.trim().parse().unwrap_or(0)
    }

    /// net.core.default_qdisc is used only for qdiscs the kernel creates later; say so when
    /// this profile changes it.
    fn default_qdisc_note(&self, host: &Host) -> Option<String> {
        let wanted = self.default_qdisc.as_ref()?.value.to_string();
        let current = host
            .read_string("/proc/sys/net/core/default_qdisc")
            .ok()?
            .trim()
            .to_string();
        // Unchanged, or a kind this kernel lacks (that row is skipped or blocks): no note.
        if current == wanted || crate::tune::net::check_qdisc(host, &wanted).is_err() {
            return None;
        }
        let roots = self.interfaces.values().any(|i| i.root_qdisc.is_some());
        Some(format!(
            "net.core.default_qdisc = {wanted} applies only to qdiscs the kernel creates from now on (new devices, a root qdisc that is replaced or deleted); the devices that exist keep their qdiscs{}",
            if roots {
                " unless this profile's root_qdisc changes them"
            } else {
                ": set root_qdisc under network.interfaces to change them now"
            }
        ))
    }
}

#[derive(Default)]
struct Builder {
    settings: Vec<Setting>,
    warnings: Vec<String>,
    /// Which selector produced each knob, to report two selectors that disagree.
    seen: HashMap<NetKnob, (String, String)>,
    /// The CPU topology, read once per expansion.
    topology: Option<Topology>,
    /// For `rps_flow_cnt: auto`.
    sock_flow_entries: u32,
}

/// The CPU each queue's interrupts go to, by queue position.
struct QueueCpus {
    irqs: Vec<(QueueIrq, u32)>,
    /// Spread order of the usable CPUs (NIC's node first), for queues without an IRQ.
    order: Vec<u32>,
}

impl QueueCpus {
    /// The CPU of tx/rx queue `q`: its interrupt's, else the spread order's.
    fn cpu(&self, q: u32) -> u32 {
        self.irqs
            .iter()
            .find(|(irq, _)| irq.queue == Some(q))
            .map(|(_, cpu)| *cpu)
            .unwrap_or_else(|| self.order[q as usize % self.order.len()])
    }
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

    fn topology(&mut self, host: &Host) -> Result<&Topology, String> {
        if self.topology.is_none() {
            self.topology = Some(Topology::read(host)?);
        }
        Ok(self.topology.get_or_insert_with(Topology::default))
    }

    /// A warning when an explicit CPU set (`what` on `name`, a list or a mask) names CPUs
    /// isolated from the scheduler (isolcpus, nohz_full): `spread` never uses them, and an
    /// explicit value that does puts packet work on CPUs set aside for other work.
    fn warn_isolated(
        &mut self,
        host: &Host,
        name: &str,
        what: &str,
        set: Result<cpus::CpuSet, String>,
    ) {
        let Ok(set) = set else {
            return; // the value's own check reports it
        };
        let Ok(topology) = self.topology(host) else {
            return;
        };
        let hit: cpus::CpuSet = set.intersection(&topology.isolated).copied().collect();
        if !hit.is_empty() {
            let text = format!(
                "{name}: {what} names CPUs {} that are isolated (isolcpus or nohz_full), so packet work lands on CPUs set aside for other work; use `spread`, which avoids them, or a set without them",
                cpus::format_list(&hit)
            );
            self.warnings.push(text);
        }
    }

    /// Where each queue's interrupts go: with `irq_affinity: spread` (or when only
    /// steering needs to know), queue by queue over the spread order — every vector of one
    /// queue (RX, TX or combined) on the same CPU; a vector without a queue number takes
    /// the next position. Without a spread, an IRQ pinned to one CPU keeps it.
    fn queue_cpus(
        &mut self,
        host: &Host,
        name: &str,
        irqs: &[QueueIrq],
        spread: bool,
    ) -> Result<QueueCpus, String> {
        let node = cpus::nic_node(host, name);
        let order = self.topology(host)?.spread_order(node);
        if order.is_empty() {
            return Err("no usable CPU (every online CPU is isolated)".into());
        }
        let mut positions: Vec<Option<u32>> = Vec::new();
        for irq in irqs {
            if irq.queue.is_none() || !positions.contains(&irq.queue) {
                positions.push(irq.queue);
            }
        }
        positions.sort_by_key(|q| (q.is_none(), *q));
        let mut placed = Vec::new();
        let mut unnumbered = irqs.iter().filter(|i| i.queue.is_none());
        for (pos, queue) in positions.iter().enumerate() {
            let spread_cpu = order[pos % order.len()];
            let members: Vec<&QueueIrq> = match queue {
                Some(_) => irqs.iter().filter(|i| i.queue == *queue).collect(),
                None => unnumbered.next().into_iter().collect(),
            };
            for irq in members {
                let cpu = if spread {
                    spread_cpu
                } else {
                    current_single_cpu(host, irq.irq).unwrap_or(spread_cpu)
                };
                placed.push((irq.clone(), cpu));
            }
        }
        Ok(QueueCpus {
            irqs: placed,
            order,
        })
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
            let (value, restore) = match qdisc::read(host, name) {
                Ok(current) => (current.wanted(&text(e))?.kinds(), Some(current.full())),
                Err(_) => (text(e), None), // the plan row says why it cannot be read
            };
            self.push(
                host,
                sel,
                NetKnob::RootQdisc {
                    iface: iface.clone(),
                    restore,
                },
                value,
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
        let (rx_now, tx_now) = iface::rx_tx_queues(host, name);
        let rx = queue_count(host, name, "rx", rx_now, &channel_target);
        let tx = queue_count(host, name, "tx", tx_now, &channel_target);
        // Interrupts and the CPU topology only when something is spread or pinned.
        let spread = |e: &Option<Entry>| e.as_ref().is_some_and(|e| text(e) == "spread");
        let irqs = if w.irq_affinity.is_some() || spread(&w.rps_cpus) || spread(&w.xps_cpus) {
            iface::queue_irqs(host, name)
        } else {
            Vec::new()
        };
        let spread_irqs = spread(&w.irq_affinity);
        let placed = if w.irq_affinity.is_some() || spread(&w.rps_cpus) || spread(&w.xps_cpus) {
            Some(self.queue_cpus(host, name, &irqs, spread_irqs)?)
        } else {
            None
        };
        for (what, e) in [
            ("rps_cpus", &w.rps_cpus),
            ("xps_cpus", &w.xps_cpus),
            ("irq_affinity", &w.irq_affinity),
        ] {
            let Some(value) = e.as_ref().map(text) else {
                continue;
            };
            if matches!(value.as_str(), "spread" | "all" | "none" | "off") {
                continue;
            }
            let set = if what == "irq_affinity" {
                cpus::parse_list(&value)
            } else {
                cpus::parse_mask(&value)
            };
            self.warn_isolated(host, name, what, set);
        }
        if let Some(e) = &w.rps_cpus {
            let masks = self.rps_masks(host, name, &text(e), &rx, placed.as_ref())?;
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
            self.flow_counts(host, sel, &iface, &rx, e)?;
        }
        if let Some(e) = &w.xps_cpus {
            if tx.len() < 2 {
                self.warnings.push(format!(
                    "{name}: xps_cpus left alone: with a single tx queue the kernel has no queue to choose (Documentation/networking/scaling.rst)"
                ));
            } else {
                let masks = self.xps_masks(host, name, &text(e), &tx, placed.as_ref())?;
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
        }
        let mut irq_knobs = 0;
        if let Some(e) = &w.irq_affinity {
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
            for (irq, cpu) in placed.iter().flat_map(|p| &p.irqs) {
                let list = if spread_irqs {
                    cpu.to_string()
                } else {
                    text(e)
                };
                self.push(
                    host,
                    sel,
                    NetKnob::IrqAffinity {
                        irq: irq.irq,
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

    /// `rps_flow_cnt` of every rx queue; `auto` divides net.core.rps_sock_flow_entries
    /// among them (Documentation/networking/scaling.rst, "RFS: suggested configuration").
    fn flow_counts(
        &mut self,
        host: &Host,
        sel: &Selector,
        iface: &str,
        rx: &[u32],
        e: &Entry,
    ) -> Result<(), String> {
        let value = match e.value.to_string().as_str() {
            "auto" => (self.sock_flow_entries / (rx.len().max(1) as u32)).to_string(),
            other => other.to_string(),
        };
        for q in rx {
            self.push(
                host,
                sel,
                NetKnob::RpsFlowCnt {
                    iface: iface.to_string(),
                    queue: *q,
                },
                value.clone(),
                e,
            )?;
        }
        Ok(())
    }

    /// One RPS mask per rx queue. `spread`: only where the device has fewer rx queues than
    /// usable cores on its node (else RSS already spreads and RPS would add an IPI per
    /// packet: "0"); each queue then gets the usable CPUs of its interrupt CPU's node
    /// (Documentation/networking/scaling.rst, "RPS: suggested configuration"). `all`: the
    /// NIC's node; `none`/`off`: "0"; else a mask for every queue.
    fn rps_masks(
        &mut self,
        host: &Host,
        name: &str,
        value: &str,
        rx: &[u32],
        placed: Option<&QueueCpus>,
    ) -> Result<Vec<String>, String> {
        Ok(match (value, placed) {
            ("none" | "off", _) => vec!["0".into(); rx.len()],
            ("spread" | "all", _) => {
                let node = cpus::nic_node(host, name);
                let topology = self.topology(host)?;
                match placed {
                    Some(_) if value == "spread" && rx.len() >= topology.local_cores(node) => {
                        vec!["0".into(); rx.len()]
                    }
                    Some(placed) if value == "spread" => rx
                        .iter()
                        .map(|q| cpus::format_mask(&topology.same_node(placed.cpu(*q))))
                        .collect(),
                    _ => vec![cpus::format_mask(&topology.local(node)); rx.len()],
                }
            }
            (mask, _) => vec![mask.to_string(); rx.len()],
        })
    }

    /// One XPS mask per tx queue. `spread`: queue i on the CPU of its interrupt, every
    /// other usable CPU on the queue nearest to it ([`Topology::xps_sets`]). `all`: the
    /// NIC's node; `none`/`off`: "0"; else a mask for every queue.
    fn xps_masks(
        &mut self,
        host: &Host,
        name: &str,
        value: &str,
        tx: &[u32],
        placed: Option<&QueueCpus>,
    ) -> Result<Vec<String>, String> {
        Ok(match (value, placed) {
            ("none" | "off", _) => vec!["0".into(); tx.len()],
            ("spread", Some(placed)) => {
                let irq_cpus: Vec<u32> = tx.iter().map(|q| placed.cpu(*q)).collect();
                self.topology(host)?
                    .xps_sets(&irq_cpus)
                    .iter()
                    .map(cpus::format_mask)
                    .collect()
            }
            ("spread" | "all", _) => {
                let node = cpus::nic_node(host, name);
                vec![cpus::format_mask(&self.topology(host)?.local(node)); tx.len()]
            }
            (mask, _) => vec![mask.to_string(); tx.len()],
        })
    }
}

/// The one CPU an IRQ is pinned to now, if it is pinned to exactly one.
fn current_single_cpu(host: &Host, irq: u32) -> Option<u32> {
    let text = host
        .read_string(format!("/proc/irq/{irq}/smp_affinity_list"))
        .ok()?;
    let set = cpus::parse_list(&text).ok()?;
    (set.len() == 1).then(|| set.into_iter().next()).flatten()
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
fn queue_count(
    host: &Host,
    name: &str,
    dir: &str,
    present: Vec<u32>,
    target: &BTreeMap<&str, u32>,
) -> Vec<u32> {
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

impl fmt::Display for SelectorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
