//! Network knobs below sysctl: NIC queues, qdiscs, packet steering, IRQ affinity.
//!
//! Every knob reads and writes text, like a sysctl, so plan, apply, check, the journal and
//! rollback treat them alike. Files (/sys/class/net, /proc/irq) go through the Host; NIC
//! queues and qdiscs go over the Host's netlink backend: the kernel on a live host, the
//! scripted double of a fixture root that describes its devices.

pub mod cpus;
pub mod driver;
pub mod ethtool;
pub mod iface;
pub mod qdisc;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::host::netlink::NlError;
use crate::host::sysctl::SysctlKey;
use crate::host::{Host, HostError};
use crate::tune::{ErrorKind, TuneError};

pub use iface::irqbalance_running;

fn is_none(v: &Option<String>) -> bool {
    v.is_none()
}

/// One network setting of one interface (or IRQ).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "setting", rename_all = "kebab-case")]
pub enum NetKnob {
    /// /sys/class/net/IF/tx_queue_len.
    TxQueueLen { iface: String },
    /// The interface's qdisc tree ("pfifo_fast", "mq:fq_codel", see [`qdisc`]): the root, and
    /// under an mq root the per-queue children. Compared by kinds; `restore` is the tree with
    /// its options as the plan read it, which a write of the same kinds (rollback) puts back
    /// exactly.
    RootQdisc {
        iface: String,
        #[serde(default, skip_serializing_if = "is_none")]
        restore: Option<String>,
    },
    /// ethtool channels: rx, tx, other, combined.
    Channels { iface: String, param: String },
    /// ethtool rings: rx, rx-mini, rx-jumbo, tx.
    Rings { iface: String, param: String },
    /// ethtool coalescing: rx-usecs, adaptive-rx, ...
    Coalesce { iface: String, param: String },
    /// /sys/class/net/IF/queues/rx-N/rps_cpus (hex mask).
    RpsCpus { iface: String, queue: u32 },
    /// /sys/class/net/IF/queues/rx-N/rps_flow_cnt.
    RpsFlowCnt { iface: String, queue: u32 },
    /// /sys/class/net/IF/queues/tx-N/xps_cpus (hex mask).
    XpsCpus { iface: String, queue: u32 },
    /// /proc/irq/N/smp_affinity_list of one of the interface's queue interrupts.
    IrqAffinity { irq: u32, iface: String },
}

impl NetKnob {
    pub fn kind(&self) -> &'static str {
        match self {
            NetKnob::TxQueueLen { .. }
            | NetKnob::Channels { .. }
            | NetKnob::Rings { .. }
            | NetKnob::Coalesce { .. } => "nic",
            NetKnob::RootQdisc { .. } => "qdisc",
            NetKnob::RpsCpus { .. } | NetKnob::RpsFlowCnt { .. } | NetKnob::XpsCpus { .. } => {
                "steering"
            }
            NetKnob::IrqAffinity { .. } => "irq",
        }
    }

    pub fn iface(&self) -> &str {
        match self {
            NetKnob::TxQueueLen { iface }
            | NetKnob::RootQdisc { iface, .. }
            | NetKnob::Channels { iface, .. }
            | NetKnob::Rings { iface, .. }
            | NetKnob::Coalesce { iface, .. }
            | NetKnob::RpsCpus { iface, .. }
            | NetKnob::RpsFlowCnt { iface, .. }
            | NetKnob::XpsCpus { iface, .. }
            | NetKnob::IrqAffinity { iface, .. } => iface,
        }
    }

    /// The file behind a file-backed knob.
    fn file(&self) -> Option<String> {
        Some(match self {
            NetKnob::TxQueueLen { iface } => format!("/sys/class/net/{iface}/tx_queue_len"),
            NetKnob::RpsCpus { iface, queue } => {
                format!("/sys/class/net/{iface}/queues/rx-{queue}/rps_cpus")
            }
            NetKnob::RpsFlowCnt { iface, queue } => {
                format!("/sys/class/net/{iface}/queues/rx-{queue}/rps_flow_cnt")
            }
            NetKnob::XpsCpus { iface, queue } => {
                format!("/sys/class/net/{iface}/queues/tx-{queue}/xps_cpus")
            }
            NetKnob::IrqAffinity { irq, .. } => format!("/proc/irq/{irq}/smp_affinity_list"),
            _ => return None,
        })
    }

    fn ethtool_param(&self) -> Option<(&str, ethtool::Param)> {
        let (iface, group, param) = match self {
            NetKnob::Channels { iface, param } => (iface, ethtool::Group::Channels, param),
            NetKnob::Rings { iface, param } => (iface, ethtool::Group::Rings, param),
            NetKnob::Coalesce { iface, param } => (iface, ethtool::Group::Coalesce, param),
            _ => return None,
        };
        ethtool::param(group, param).map(|p| (iface.as_str(), p))
    }

    pub fn read(&self, host: &Host) -> Result<String, TuneError> {
        if let Some(path) = self.file() {
            return match host.read_string(&path) {
                Ok(s) => Ok(self.normalize(&s)),
                Err(e) if e.is_not_found() && self.queue_to_come(host) => Ok("0".to_string()),
                Err(e) => Err(self.file_error(e, None)),
            };
        }
        if let NetKnob::RootQdisc { iface, .. } = self {
            host.check_fault("read", &self.fault_path())
                .map_err(|e| self.file_error(e, None))?;
            return qdisc::read(host, iface)
                .map(|t| t.kinds())
                .map_err(|e| self.nl_error(e, None));
        }
        let (iface, param) = self.known_param()?;
        let values = self.ethtool_get(host, iface, param)?;
        match values.get(&param.attr) {
            Some(v) => Ok(ethtool::format(param, *v)),
            None => Err(TuneError::new(
                ErrorKind::Unsupported,
                format!(
                    "{self}: the device does not report this {} parameter (n/a in ethtool {} {iface})",
                    param.group.name(),
                    param.group.ethtool_flag()
                ),
            )),
        }
    }

    /// A steering file of a queue that does not exist yet but will once channels grow (its
    /// index is below the device's maximum): it starts as the kernel creates it, "0".
    fn queue_to_come(&self, host: &Host) -> bool {
        let (iface, queue, dir) = match self {
            NetKnob::RpsCpus { iface, queue } | NetKnob::RpsFlowCnt { iface, queue } => {
                (iface, *queue, "rx")
            }
            NetKnob::XpsCpus { iface, queue } => (iface, *queue, "tx"),
            _ => return false,
        };
        let present = iface::queues(host, iface, dir);
        if present.is_empty() || present.contains(&queue) {
            return false;
        }
        let Ok(values) = ethtool::get(host, iface, ethtool::Group::Channels) else {
            return false;
        };
        let max = |name: &str| {
            ethtool::param(ethtool::Group::Channels, name)
                .and_then(|p| p.max_attr)
                .and_then(|a| values.get(&a).copied())
                .unwrap_or(0)
        };
        queue < max(dir).saturating_add(max("combined"))
    }

    /// The device's maximum for a channels or rings parameter (what `max` means).
    pub fn maximum(&self, host: &Host) -> Result<u32, TuneError> {
        let (iface, param) = self.known_param()?;
        let Some(max_attr) = param.max_attr else {
            return Err(TuneError::new(
                ErrorKind::Invalid,
                format!("{self}: has no maximum; give a number"),
            ));
        };
        let values = self.ethtool_get(host, iface, param)?;
        values
            .get(&max_attr)
            .copied()
            .filter(|m| *m > 0)
            .ok_or_else(|| {
                TuneError::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{self}: the device has no such {} (n/a in ethtool {} {iface})",
                        param.group.name(),
                        param.group.ethtool_flag()
                    ),
                )
            })
    }

    pub fn write(&self, host: &Host, value: &str) -> Result<(), TuneError> {
        let wanted = self.normalize(value);
        if let Some(path) = self.file() {
            // Masks go out in the kernel's 32-bit groups, as wide as it prints them.
            let text = match self {
                NetKnob::RpsCpus { .. } | NetKnob::XpsCpus { .. } => {
                    match (cpus::parse_mask(&wanted), cpus::nr_cpu_ids(host)) {
                        (Ok(set), Some(n)) => cpus::format_mask_width(&set, n),
                        _ => wanted.clone(),
                    }
                }
                _ => wanted.clone(),
            };
            host.write_all_once(&path, format!("{text}\n").as_bytes())
                .map_err(|e| self.file_error(e, Some(&wanted)))?;
        } else if let NetKnob::RootQdisc { iface, restore } = self {
            return self.write_qdisc(host, iface, restore.as_deref(), &wanted);
        } else {
            let (iface, param) = self.known_param()?;
            let n = ethtool::parse(param, &wanted).ok_or_else(|| {
                TuneError::new(
                    ErrorKind::Invalid,
                    format!("{self}: {wanted:?} is not a value for {}", param.name),
                )
            })?;
            host.check_fault("write", &self.fault_path())
                .map_err(|e| self.file_error(e, Some(&wanted)))?;
            ethtool::set(host, iface, param, n).map_err(|e| self.nl_error(e, Some(&wanted)))?;
        }
        let read_back = self.read(host)?;
        if read_back != wanted {
            return Err(TuneError::new(
                ErrorKind::NotTaken,
                format!(
                    "{self}: wrote {wanted:?} but read back {read_back:?}; the kernel or driver adjusted or ignored the value"
                ),
            ));
        }
        Ok(())
    }

    /// Writes a qdisc tree: the tree captured with its options when the kinds are the ones
    /// asked for (a rollback), else the kinds; then reads it back.
    fn write_qdisc(
        &self,
        host: &Host,
        iface: &str,
        restore: Option<&str>,
        wanted: &str,
    ) -> Result<(), TuneError> {
        let invalid = |why: String| TuneError::new(ErrorKind::Invalid, format!("{self}: {why}"));
        let mut target = qdisc::Tree::parse(wanted).map_err(invalid)?;
        if let Some(full) = restore
            && let Ok(captured) = qdisc::Tree::parse(full)
            && captured.kinds() == target.kinds()
        {
            target = captured;
        }
        host.check_fault("write", &self.fault_path())
            .map_err(|e| self.file_error(e, Some(wanted)))?;
        qdisc::write(host, iface, &target).map_err(|e| self.nl_error(e, Some(wanted)))?;
        let now = qdisc::read(host, iface).map_err(|e| self.nl_error(e, None))?;
        if !now.satisfies(&target) {
            return Err(TuneError::new(
                ErrorKind::NotTaken,
                format!(
                    "{self}: asked for {} but the device shows {}; the kernel kept or attached another qdisc",
                    target.kinds(),
                    now.kinds()
                ),
            ));
        }
        Ok(())
    }

    /// The comparable form: CPU masks as bitmaps in the kernel's 32-bit groups, CPU lists as
    /// ascending ranges, ethtool flags as on/off and numbers without leading zeros, RFS flow
    /// counts rounded up to the power of two the kernel keeps, qdisc trees by kinds; other
    /// values whitespace-normalised.
    pub fn normalize(&self, value: &str) -> String {
        match self {
            NetKnob::RpsCpus { .. } | NetKnob::XpsCpus { .. } => cpus::normalize_mask(value),
            NetKnob::IrqAffinity { .. } => match cpus::parse_list(value) {
                Ok(set) if !set.is_empty() => cpus::format_list(&set),
                _ => crate::host::sysctl::normalize(value),
            },
            NetKnob::RpsFlowCnt { .. } => match value.trim().parse::<u32>() {
                Ok(0) => "0".to_string(),
                Ok(n) => n
                    .checked_next_power_of_two()
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| n.to_string()),
                Err(_) => crate::host::sysctl::normalize(value),
            },
            NetKnob::RootQdisc { .. } => match qdisc::Tree::parse(value) {
                Ok(tree) => tree.kinds(),
                Err(_) => crate::host::sysctl::normalize(value),
            },
            NetKnob::Channels { .. } | NetKnob::Rings { .. } | NetKnob::Coalesce { .. } => {
                match self.ethtool_param() {
                    Some((_, param)) => ethtool::normalize(param, value),
                    None => crate::host::sysctl::normalize(value),
                }
            }
            NetKnob::TxQueueLen { .. } => crate::host::sysctl::normalize(value),
        }
    }

    /// Whether `e`, from reading this knob, means the driver lacks the setting: an ethtool
    /// parameter the device does not report (ethtool's "n/a"), or an ethtool operation its
    /// driver does not implement (EOPNOTSUPP) — not a host without netlink.
    pub fn driver_lacks(&self, host: &Host, e: &TuneError) -> bool {
        let Some((iface, param)) = self.ethtool_param() else {
            return false;
        };
        if e.kind != ErrorKind::Unsupported || host.netlink_backend().is_err() {
            return false;
        }
        match ethtool::get(host, iface, param.group) {
            Ok(values) => !values.contains_key(&param.attr),
            Err(nl) => nl.errno == libc::EOPNOTSUPP,
        }
    }

    /// Why the driver will refuse `value` although it reports the parameter, where the
    /// kernel tells beforehand (see [`driver`]); the plan shows such a row as "unsupported
    /// by this driver".
    pub fn driver_refuses(&self, host: &Host, value: &str) -> Option<String> {
        let (iface, param) = self.ethtool_param()?;
        let n = ethtool::parse(param, value)?;
        driver::refuses(host, iface, param, n)
    }

    /// Checks, without writing, that `value` is one this knob can take on this host: the
    /// qdisc exists in the kernel, a mask names online CPUs, a count is within the maximum.
    pub fn validate(&self, host: &Host, value: &str) -> Result<(), TuneError> {
        let value = self.normalize(value);
        let invalid =
            |why: String| Err(TuneError::new(ErrorKind::Invalid, format!("{self}: {why}")));
        match self {
            NetKnob::RootQdisc { iface, .. } => {
                let tree = qdisc::Tree::parse(&value)
                    .or_else(|e| invalid(e).map(|_| Default::default()))?;
                for node in tree.root.iter().chain(&tree.children) {
                    check_qdisc(host, &node.kind)
                        .map_err(|e| TuneError::new(e.kind, format!("{self}: {}", e.message)))?;
                }
                match qdisc::read(host, iface) {
                    Ok(current) if current.foreign > 0 && !current.satisfies(&tree) => {
                        invalid(format!(
                            "the root {} has {} qdisc(s) and classes below it that hostperf cannot restore; it will not replace it (remove root_qdisc from the profile, or clear that tree first)",
                            current.kinds(),
                            current.foreign
                        ))
                    }
                    _ => Ok(()),
                }
            }
            NetKnob::RpsCpus { .. } | NetKnob::XpsCpus { .. } => {
                let set =
                    cpus::parse_mask(&value).or_else(|e| invalid(e).map(|_| Default::default()))?;
                check_cpus(host, &set).or_else(invalid)
            }
            NetKnob::IrqAffinity { .. } => {
                let set =
                    cpus::parse_list(&value).or_else(|e| invalid(e).map(|_| Default::default()))?;
                if set.is_empty() {
                    return invalid("an IRQ needs at least one CPU".into());
                }
                check_cpus(host, &set).or_else(invalid)
            }
            NetKnob::TxQueueLen { .. } | NetKnob::RpsFlowCnt { .. } => match value.parse::<u32>() {
                Ok(_) => Ok(()),
                Err(_) => invalid(format!("{value:?} is not a number")),
            },
            NetKnob::Channels { .. } | NetKnob::Rings { .. } | NetKnob::Coalesce { .. } => {
                let (_, param) = self.known_param()?;
                if value == "max" && param.max_attr.is_some() {
                    // Unresolved: the device's maximum could not be read; say why.
                    return self.maximum(host).map(|_| ());
                }
                let Some(n) = ethtool::parse(param, &value) else {
                    let expected = if param.flag { "on or off" } else { "a number" };
                    return invalid(format!("{value:?} is not {expected}"));
                };
                if param.max_attr.is_some()
                    && let Ok(max) = self.maximum(host)
                    && n > max
                {
                    return invalid(format!("{n} is more than the device's maximum {max}"));
                }
                Ok(())
            }
        }
    }

    fn known_param(&self) -> Result<(&str, ethtool::Param), TuneError> {
        self.ethtool_param().ok_or_else(|| {
            TuneError::new(
                ErrorKind::Invalid,
                format!("{self}: unknown ethtool parameter"),
            )
        })
    }

    fn fault_path(&self) -> std::path::PathBuf {
        Path::new("/netlink").join(self.to_string().replace(' ', "/"))
    }

    fn ethtool_get(
        &self,
        host: &Host,
        iface: &str,
        param: ethtool::Param,
    ) -> Result<ethtool::Values, TuneError> {
        host.check_fault("read", &self.fault_path())
            .map_err(|e| self.file_error(e, None))?;
        ethtool::get(host, iface, param.group).map_err(|e| self.nl_error(e, None))
    }

    fn file_error(&self, e: HostError, value: Option<&str>) -> TuneError {
        let (kind, hint) = match (e.op, e.errno()) {
            (_, Some(libc::ENOENT)) | (_, Some(libc::ENOTDIR)) => (
                ErrorKind::Unsupported,
                "this interface, queue or IRQ does not exist here",
            ),
            (_, Some(libc::EACCES)) | (_, Some(libc::EPERM)) | (_, Some(libc::EROFS)) => {
                (ErrorKind::NeedsPrivilege, "run as root")
            }
            ("write", Some(libc::EIO)) if matches!(self, NetKnob::IrqAffinity { .. }) => (
                ErrorKind::Rejected,
                "the kernel manages this IRQ's affinity itself (managed interrupt) or the CPUs cannot take it",
            ),
            ("write", Some(libc::EINVAL))
            | ("write", Some(libc::ERANGE))
            | ("write", Some(libc::EOVERFLOW)) => {
                (ErrorKind::Rejected, "the kernel rejected the value")
            }
            ("write", Some(libc::EOPNOTSUPP)) => {
                (ErrorKind::Unsupported, "the device does not support it")
            }
            _ => (ErrorKind::Io, ""),
        };
        let value = value.map(|v| format!(" writing {v:?}")).unwrap_or_default();
        let hint = if hint.is_empty() {
            String::new()
        } else {
            format!("; {hint}")
        };
        TuneError::new(kind, format!("{self}{value}: {e}{hint}"))
    }

    fn nl_error(&self, e: NlError, value: Option<&str>) -> TuneError {
        let kind = match e.errno {
            libc::EOPNOTSUPP | libc::ENODEV => ErrorKind::Unsupported,
            libc::EPERM | libc::EACCES => ErrorKind::NeedsPrivilege,
            libc::ENOENT if matches!(self, NetKnob::RootQdisc { .. }) => ErrorKind::Unsupported,
            libc::EPROTO | libc::EIO => ErrorKind::Io,
            libc::EINVAL | libc::ERANGE | libc::ENOENT | libc::EBUSY => ErrorKind::Rejected,
            _ => ErrorKind::Io,
        };
        let what = match (self, e.errno) {
            (
                NetKnob::Channels { .. } | NetKnob::Rings { .. } | NetKnob::Coalesce { .. },
                libc::EOPNOTSUPP,
            ) => " (the driver does not implement this ethtool operation)",
            (_, libc::EPERM) => " (needs CAP_NET_ADMIN: run as root)",
            _ => "",
        };
        let value = value.map(|v| format!(" setting {v:?}")).unwrap_or_default();
        TuneError::new(kind, format!("{self}{value}: {e}{what}"))
    }
}

impl fmt::Display for NetKnob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetKnob::TxQueueLen { iface } => write!(f, "{iface} txqueuelen"),
            NetKnob::RootQdisc { iface, .. } => write!(f, "{iface} root qdisc"),
            NetKnob::Channels { iface, param } => write!(f, "{iface} channels {param}"),
            NetKnob::Rings { iface, param } => write!(f, "{iface} rings {param}"),
            NetKnob::Coalesce { iface, param } => write!(f, "{iface} coalesce {param}"),
            NetKnob::RpsCpus { iface, queue } => write!(f, "{iface} rx-{queue} rps_cpus"),
            NetKnob::RpsFlowCnt { iface, queue } => write!(f, "{iface} rx-{queue} rps_flow_cnt"),
            NetKnob::XpsCpus { iface, queue } => write!(f, "{iface} tx-{queue} xps_cpus"),
            NetKnob::IrqAffinity { irq, iface } => {
                write!(f, "irq {irq} smp_affinity_list ({iface})")
            }
        }
    }
}

fn check_cpus(host: &Host, set: &cpus::CpuSet) -> Result<(), String> {
    if set.is_empty() {
        return Ok(()); // an empty mask turns steering off
    }
    let online = cpus::online(host)?;
    let offline: cpus::CpuSet = set.difference(&online).copied().collect();
    if set.intersection(&online).next().is_none() {
        return Err(format!(
            "CPUs {} are not online (online: {}): the mask has no valid CPU",
            cpus::format_list(set),
            cpus::format_list(&online)
        ));
    }
    if !offline.is_empty() {
        return Err(format!(
            "CPUs {} are not online (online: {}); the kernel would drop them",
            cpus::format_list(&offline),
            cpus::format_list(&online)
        ));
    }
    Ok(())
}

const CONGESTION_CONTROL: &str = "net.ipv4.tcp_congestion_control";
const DEFAULT_QDISC: &str = "net.core.default_qdisc";

/// Checks that a sysctl value names something this kernel has (congestion control, qdisc)
/// before anything is written.
pub fn validate_sysctl(host: &Host, key: &SysctlKey, value: &str) -> Result<(), TuneError> {
    let value = value.trim();
    match key.to_string().as_str() {
        CONGESTION_CONTROL => check_congestion_control(host, value),
        DEFAULT_QDISC => check_qdisc(host, value),
        _ => Ok(()),
    }
    .map_err(|e| TuneError::new(e.kind, format!("sysctl {key} = {value}: {}", e.message)))
}

fn words(host: &Host, path: &str) -> Option<Vec<String>> {
    host.read_optional(path).ok().flatten().map(|b| {
        String::from_utf8_lossy(&b)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    })
}

/// Is the process in a network namespace other than the initial one? Compares the
/// namespace links of this process and pid 1 when both can be read; otherwise (pid 1 of
/// another user namespace, a sandbox) relies on net.core.netdev_max_backlog, which the
/// kernel registers for the initial namespace only.
pub fn in_child_netns(host: &Host) -> bool {
    match (
        host.read_link("/proc/self/ns/net"),
        host.read_link("/proc/1/ns/net"),
    ) {
        (Ok(mine), Ok(init)) => mine != init,
        _ => {
            host.exists("/proc/sys/net/ipv4/tcp_congestion_control")
                && !host.exists("/proc/sys/net/core/netdev_max_backlog")
        }
    }
}

/// The congestion control must be available (built in or loaded) and, inside a network
/// namespace, also allowed (only algorithms in tcp_allowed_congestion_control; others EPERM).
pub fn check_congestion_control(host: &Host, algo: &str) -> Result<(), TuneError> {
    let Some(available) = words(host, "/proc/sys/net/ipv4/tcp_available_congestion_control") else {
        return Ok(()); // no TCP sysctls here: reading the key itself will report it
    };
    if !available.iter().any(|a| a == algo) {
        return Err(TuneError::new(
            ErrorKind::Unsupported,
            format!(
                "congestion control {algo} is not available on this kernel (available: {}); it needs tcp_{algo} built in or loaded (modprobe tcp_{algo})",
                available.join(" ")
            ),
        ));
    }
    if in_child_netns(host) {
        let allowed =
            words(host, "/proc/sys/net/ipv4/tcp_allowed_congestion_control").unwrap_or_default();
        let current = words(host, "/proc/sys/net/ipv4/tcp_congestion_control").unwrap_or_default();
        if !allowed.iter().any(|a| a == algo) && current.first().map(String::as_str) != Some(algo) {
            return Err(TuneError::new(
                ErrorKind::Unsupported,
                format!(
                    "congestion control {algo} cannot be set inside a network namespace: only the algorithms in net.ipv4.tcp_allowed_congestion_control ({}) can, others fail with EPERM; add {algo} to that list on the host",
                    allowed.join(" ")
                ),
            ));
        }
    }
    Ok(())
}

/// The qdisc must exist in the kernel. Probed in a throwaway network namespace on a live
/// host; a fixture root answers from its description's `qdisc_kinds`, and passes when it
/// has none.
pub fn check_qdisc(host: &Host, kind: &str) -> Result<(), TuneError> {
    let valid = !kind.is_empty()
        && kind.len() < 16
        && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(TuneError::new(
            ErrorKind::Invalid,
            format!("{kind:?} is not a qdisc name"),
        ));
    }
    if kind == qdisc::DEFAULT {
        return Ok(());
    }
    match qdisc::available_on(host, kind) {
        qdisc::Availability::Yes => Ok(()),
        qdisc::Availability::No => Err(TuneError::new(
            ErrorKind::Unsupported,
            format!(
                "qdisc {kind} is not available on this kernel (sch_{kind} is neither built in nor loadable as a module); use one it has, e.g. pfifo_fast"
            ),
        )),
        qdisc::Availability::Unknown(why) => {
            tracing::debug!("cannot tell whether qdisc {kind} exists: {why}");
            Ok(())
        }
    }
}
