//! The kinds of setting hostperf changes, as knobs with one interface: read the current
//! value, write a new one. Values are text, as the kernel shows them, so the plan, the
//! journal and rollback treat every kind alike.

mod attr;
pub mod cpu;
mod desired;
pub mod dirty;
pub mod file;
pub mod net;
pub mod ports;
pub mod rlimit;
pub mod sysctl;
pub mod sysfs;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::host::rlimit::Resource;
use crate::host::sysctl::SysctlKey;

pub use desired::{Desired, Want};

/// One thing on the host that has a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Knob {
    Sysctl {
        key: SysctlKey,
    },
    /// Soft and hard limit of a running process, as `soft:hard`.
    Rlimit {
        pid: u32,
        comm: String,
        resource: Resource,
    },
    /// A whole file hostperf manages (persistence); absent is a value too.
    File {
        path: PathBuf,
    },
    Net(crate::tune::net::NetKnob),
    /// A CPU power file: governor, energy-performance preference, idle latency.
    Cpu(cpu::CpuKnob),
    /// A named sysfs attribute (transparent huge pages, per-interface NAPI settings).
    Sysfs(sysfs::SysfsKnob),
}

impl Knob {
    pub fn sysctl(key: SysctlKey) -> Self {
        Knob::Sysctl { key }
    }

    /// The section of a profile this knob comes from, for grouping and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Knob::Sysctl { .. } => "sysctl",
            Knob::Rlimit { .. } => "ulimit",
            Knob::File { .. } => "file",
            Knob::Net(n) => n.kind(),
            Knob::Cpu(_) => "cpu",
            Knob::Sysfs(_) => "sysfs",
        }
    }

    /// The current value; `Ok(None)` for a managed file that does not exist.
    pub fn read(&self, host: &Host) -> Result<Option<String>, TuneError> {
        match self {
            Knob::Sysctl { key } if dirty::is_pair(key) => dirty::read(host, key).map(Some),
            Knob::Sysctl { key } => sysctl::read(host, key).map(Some),
            Knob::Rlimit { pid, resource, .. } => rlimit::read(host, *pid, *resource).map(Some),
            Knob::File { path } => file::read(host, path),
            Knob::Net(n) => n.read(host).map(Some),
            Knob::Cpu(c) => c.read(host).map(Some),
            Knob::Sysfs(s) => s.read(host).map(Some),
        }
    }

    /// Sets the value (`None` removes a managed file) and confirms it took.
    pub fn write(&self, host: &Host, value: Option<&str>) -> Result<(), TuneError> {
        match (self, value) {
            (Knob::File { path }, value) => file::write(host, path, value),
            (knob, None) => Err(TuneError::new(
                ErrorKind::Rejected,
                format!("{knob}: has no absent state to restore"),
            )),
            (Knob::Sysctl { key }, Some(v)) if dirty::is_pair(key) => dirty::write(host, key, v),
            (Knob::Sysctl { key }, Some(v)) => sysctl::write(host, key, v),
            (Knob::Rlimit { pid, resource, .. }, Some(v)) => {
                rlimit::write(host, *pid, *resource, v)
            }
            (Knob::Net(n), Some(v)) => n.write(host, v),
            (Knob::Cpu(c), Some(v)) => c.write(host, v),
            (Knob::Sysfs(s), Some(v)) => s.write(host, v),
        }
    }

    /// Checks, before anything is written, that this host can take `value` (a congestion
    /// control or qdisc the kernel has, CPUs that exist, a parameter the device knows).
    pub fn validate(&self, host: &Host, value: &str) -> Result<(), TuneError> {
        match self {
            Knob::Sysctl { key } => crate::tune::net::validate_sysctl(host, key, value),
            Knob::Net(n) => n.validate(host, value),
            Knob::Cpu(c) => c.validate(host, value),
            Knob::Sysfs(s) => s.validate(host, value),
            Knob::Rlimit { .. } | Knob::File { .. } => Ok(()),
        }
    }

    /// Whether `current` (normalised) meets `desired`, by this knob's meaning where a plain
    /// field comparison would be wrong: a resume-latency limit (0 is no limit), a writeback
    /// limit whose partner is in force (`ratio 20` never meets a bytes value).
    pub fn meets(&self, desired: &Desired, current: &str) -> bool {
        match self {
            Knob::Cpu(c) => c
                .meets(desired, current)
                .unwrap_or_else(|| desired.is_met_by(current)),
            _ => desired.is_met_by(current),
        }
    }

    /// The value to write for `desired` given `current`; see [`Desired::target`].
    pub fn target(&self, desired: &Desired, current: &str) -> Result<String, String> {
        match self {
            Knob::Cpu(c) => match c.target(desired) {
                Some(t) => Ok(t),
                None => Ok(desired.to_string()),
            },
            // A port list is one value, empty when nothing is reserved.
            Knob::Sysctl { key } if key.to_string() == ports::KEY => Ok(desired.to_string()),
            // The partner is in force: this key is 0 until written.
            Knob::Sysctl { key } if dirty::is_pair(key) && current.contains(' ') => {
                desired.target("0")
            }
            _ => desired.target(current),
        }
    }

    /// The file a write goes to, for the privilege check before apply (sysctls, CPU and
    /// sysfs attributes).
    pub fn write_path(&self) -> Option<PathBuf> {
        match self {
            Knob::Sysctl { key } => Some(key.proc_path()),
            Knob::Cpu(c) => Some(PathBuf::from(c.path())),
            Knob::Sysfs(s) => Some(PathBuf::from(s.path())),
            Knob::Rlimit { .. } | Knob::File { .. } | Knob::Net(_) => None,
        }
    }

    /// Whether the setting belongs to the network namespace it was applied in (net.*
    /// sysctls, NIC settings, an interface's sysfs attributes).
    pub fn is_per_netns(&self) -> bool {
        match self {
            Knob::Sysctl { key } => key.top() == "net",
            Knob::Net(_) => true,
            Knob::Sysfs(s) => s.iface.is_some(),
            Knob::Rlimit { .. } | Knob::File { .. } | Knob::Cpu(_) => false,
        }
    }

    /// The network interface this knob belongs to: a network knob's, or the one named in a
    /// per-interface sysctl (`net.ipv4.conf.IF.*`, `net.ipv6.conf.IF.*`, `net.ipv4.neigh.IF.*`,
    /// not `all` or `default`). Rollback skips the settings of an interface that is gone.
    pub fn iface(&self) -> Option<&str> {
        match self {
            Knob::Net(n) => Some(n.iface()),
            Knob::Sysctl { key } => match key.components() {
                [net, family, table, iface, _, ..]
                    if net == "net"
                        && matches!(family.as_str(), "ipv4" | "ipv6")
                        && matches!(table.as_str(), "conf" | "neigh")
                        && !matches!(iface.as_str(), "all" | "default") =>
                {
                    Some(iface)
                }
                _ => None,
            },
            Knob::Sysfs(s) => s.iface.as_deref(),
            Knob::Rlimit { .. } | Knob::File { .. } | Knob::Cpu(_) => None,
        }
    }

    /// Whether a journal entry naming this knob is one a profile could have produced: a
    /// sysctl key that passes [`SysctlKey::parse`] (checked when it is read), a file among
    /// those `--persist` writes, a valid interface name and parameter, a real pid, a CPU
    /// number and idle state a kernel can have, a catalogued sysfs attribute (with an
    /// interface exactly when it is per interface). Rollback
    /// writes what a snapshot names as root, so anything else is refused.
    pub fn check_journaled(&self) -> Result<(), String> {
        match self {
            Knob::Sysctl { .. } => Ok(()),
            Knob::Rlimit { pid, comm, .. } => {
                if *pid == 0 || comm.len() > 64 {
                    Err(format!(
                        "rlimit of pid {pid}: not a process hostperf targets"
                    ))
                } else {
                    Ok(())
                }
            }
            Knob::File { path } => {
                if file::is_managed(path) {
                    Ok(())
                } else {
                    Err(format!(
                        "{}: not a file `apply --persist` writes ({}, {}, {}, {} or /etc/systemd/system/UNIT.d/90-hostperf.conf)",
                        path.display(),
                        file::SYSCTL_FILE,
                        file::LIMITS_FILE,
                        file::SYSTEMD_MANAGER_FILE,
                        file::APPLIED_FILE
                    ))
                }
            }
            Knob::Net(n) => {
                use crate::tune::net::NetKnob;
                use crate::tune::net::ethtool::{Group, param};
                if !is_iface_name(n.iface()) {
                    return Err(format!("{:?} is not an interface name", n.iface()));
                }
                let known = match n {
                    NetKnob::Channels { param: p, .. } => param(Group::Channels, p).is_some(),
                    NetKnob::Rings { param: p, .. } => param(Group::Rings, p).is_some(),
                    NetKnob::Coalesce { param: p, .. } => param(Group::Coalesce, p).is_some(),
                    _ => true,
                };
                if known {
                    Ok(())
                } else {
                    Err(format!("{n}: not an ethtool parameter hostperf sets"))
                }
            }
            Knob::Cpu(c) => c.check_journaled(),
            Knob::Sysfs(s) => s.check_journaled(),
        }
    }

    /// The value in the form used for comparing (e.g. cpu masks without leading zeros).
    pub fn normalize(&self, value: &str) -> String {
        match self {
            Knob::Net(n) => n.normalize(value),
            _ => crate::host::sysctl::normalize(value),
        }
    }
}

impl fmt::Display for Knob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Knob::Sysctl { key } => write!(f, "{key}"),
            Knob::Rlimit {
                pid,
                comm,
                resource,
            } => {
                // A process may name itself anything, newlines included.
                let comm: String = comm
                    .chars()
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect();
                write!(f, "{resource} of pid {pid} ({comm})")
            }
            Knob::File { path } => write!(f, "{}", path.display()),
            Knob::Net(n) => write!(f, "{n}"),
            Knob::Cpu(c) => write!(f, "{c}"),
            Knob::Sysfs(s) => write!(f, "{s}"),
        }
    }
}

/// The kernel's rule for an interface name (dev_valid_name): 1 to 15 bytes, not `.` or
/// `..`, no `/`, `:` or whitespace.
pub fn is_iface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

/// A knob, the value a profile wants for it, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Setting {
    pub knob: Knob,
    pub desired: Desired,
    pub reason: String,
    /// An optional setting the host cannot take is skipped with a warning, not an error.
    pub optional: bool,
}

/// What kind of failure, which decides the action in a plan and the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The kernel or device does not have this setting (or this value, e.g. a qdisc).
    Unsupported,
    /// The value is not one this setting can take.
    Invalid,
    NeedsPrivilege,
    /// The kernel refused the value at write time.
    Rejected,
    /// The write succeeded but reading back shows another value.
    NotTaken,
    Io,
}

/// A failure on one knob, with a message that names the knob, the value, and what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TuneError {
    pub kind: ErrorKind,
    pub message: String,
}

impl TuneError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        TuneError {
            kind,
            message: message.into(),
        }
    }
}
