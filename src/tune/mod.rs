//! The kinds of setting hostperf changes, as knobs with one interface: read the current
//! value, write a new one. Values are text, as the kernel shows them, so the plan, the
//! journal and rollback treat every kind alike.

mod desired;
pub mod file;
pub mod net;
pub mod rlimit;
pub mod sysctl;

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
        }
    }

    /// The current value; `Ok(None)` for a managed file that does not exist.
    pub fn read(&self, host: &Host) -> Result<Option<String>, TuneError> {
        match self {
            Knob::Sysctl { key } => sysctl::read(host, key).map(Some),
            Knob::Rlimit { pid, resource, .. } => rlimit::read(host, *pid, *resource).map(Some),
            Knob::File { path } => file::read(host, path),
            Knob::Net(n) => n.read(host).map(Some),
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
            (Knob::Sysctl { key }, Some(v)) => sysctl::write(host, key, v),
            (Knob::Rlimit { pid, resource, .. }, Some(v)) => {
                rlimit::write(host, *pid, *resource, v)
            }
            (Knob::Net(n), Some(v)) => n.write(host, v),
        }
    }

    /// Checks, before anything is written, that this host can take `value` (a congestion
    /// control or qdisc the kernel has, CPUs that exist, a parameter the device knows).
    pub fn validate(&self, host: &Host, value: &str) -> Result<(), TuneError> {
        match self {
            Knob::Sysctl { key } => crate::tune::net::validate_sysctl(host, key, value),
            Knob::Net(n) => n.validate(host, value),
            Knob::Rlimit { .. } | Knob::File { .. } => Ok(()),
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
            Knob::Rlimit { .. } | Knob::File { .. } => None,
        }
    }

    /// Whether a journal entry naming this knob is one a profile could have produced: a
    /// sysctl key that passes [`SysctlKey::parse`] (checked when it is read), a file among
    /// those `--persist` writes, a valid interface name and parameter, a real pid. Rollback
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
