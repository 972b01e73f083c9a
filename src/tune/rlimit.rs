//! Rlimit knobs: soft and hard limits of running processes, as the value `soft hard`.

use crate::host::Host;
use crate::host::rlimit::{Limits, Resource, format_limit};

use super::{ErrorKind, TuneError};

pub fn read(host: &Host, pid: u32, resource: Resource) -> Result<String, TuneError> {
    host.rlimit_read(pid, resource)
        .map(|l| format!("{} {}", format_limit(l.soft), format_limit(l.hard)))
        .map_err(|e| {
            let kind = if e.is_not_found() {
                ErrorKind::Unsupported
            } else {
                ErrorKind::Io
            };
            TuneError::new(kind, format!("{resource} of pid {pid}: {e}"))
        })
}

pub fn write(host: &Host, pid: u32, resource: Resource, value: &str) -> Result<(), TuneError> {
    let limits: Limits = value
        .replacen(' ', ":", 1)
        .parse()
        .map_err(|e| TuneError::new(ErrorKind::Invalid, format!("{resource} of pid {pid}: {e}")))?;
    if let Err(e) = host.rlimit_write(pid, resource, limits) {
        let (kind, hint) = match e.errno() {
            Some(libc::EPERM) => (
                ErrorKind::NeedsPrivilege,
                "raising a hard limit needs CAP_SYS_RESOURCE (root, outside restricted containers), and no hard limit may exceed fs.nr_open",
            ),
            Some(libc::EINVAL) => (
                ErrorKind::Rejected,
                "the soft limit must not exceed the hard limit",
            ),
            Some(libc::ESRCH) => (ErrorKind::Io, "the process has exited"),
            _ => (ErrorKind::Io, "prlimit failed"),
        };
        return Err(TuneError::new(
            kind,
            format!("{resource} of pid {pid}: setting {value} failed: {e} ({hint})"),
        ));
    }
    let now = read(host, pid, resource)?;
    if now.replacen(' ', ":", 1) != limits.to_string() {
        return Err(TuneError::new(
            ErrorKind::NotTaken,
            format!("{resource} of pid {pid}: set {value} but /proc/{pid}/limits shows {now}"),
        ));
    }
    Ok(())
}
