//! Sysctl knobs: the Host's /proc/sys I/O with its errors mapped to plan actions.

use crate::host::Host;
use crate::host::sysctl::{SysctlError, SysctlKey};

use super::{ErrorKind, TuneError};

pub fn read(host: &Host, key: &SysctlKey) -> Result<String, TuneError> {
    host.sysctl_read(key).map_err(into_tune_error)
}

pub fn write(host: &Host, key: &SysctlKey, value: &str) -> Result<(), TuneError> {
    host.sysctl_write(key, value).map_err(into_tune_error)
}

fn into_tune_error(e: SysctlError) -> TuneError {
    let kind = match &e {
        SysctlError::Unknown { .. } => ErrorKind::Unsupported,
        SysctlError::NeedsPrivilege { .. } => ErrorKind::NeedsPrivilege,
        SysctlError::Rejected { .. } => ErrorKind::Rejected,
        SysctlError::NotTaken { .. } => ErrorKind::NotTaken,
        SysctlError::Io { .. } => ErrorKind::Io,
    };
    TuneError::new(kind, e.to_string())
}

/// Global keys shared by every network namespace and the whole machine. Tests never write
/// them on a real host.
pub fn is_global(key: &SysctlKey) -> bool {
    matches!(key.top(), "fs" | "vm" | "kernel")
}
