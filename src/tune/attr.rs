//! One kernel attribute file in /sys (a CPU's governor, a THP mode, an interface's NAPI
//! setting): read it trimmed, write a value with one write(2), and map the kernel's errors
//! to what a plan does with them. Shared by the `cpu` and `sysfs` knob kinds.

use crate::host::{Host, HostError};

use super::{ErrorKind, TuneError};

/// The file's text, trimmed. A missing file is `Unsupported` ("the kernel or device does
/// not have this setting"), with `absent` as the explanation.
pub fn read(host: &Host, path: &str, what: &str, absent: &str) -> Result<String, TuneError> {
    host.read_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| error(e, what, None, absent))
}

/// Writes `value` plus a newline in one write(2); the caller reads back.
pub fn write(host: &Host, path: &str, value: &str, what: &str) -> Result<(), TuneError> {
    host.write_all_once(path, format!("{value}\n").as_bytes())
        .map_err(|e| error(e, what, Some(value), "the file is absent"))
}

/// After a write: the value read back must be the one written, else the kernel adjusted
/// or ignored it (NotTaken).
pub fn confirm(what: &str, wanted: &str, now: &str) -> Result<(), TuneError> {
    if now == wanted {
        return Ok(());
    }
    Err(TuneError::new(
        ErrorKind::NotTaken,
        format!("{what}: wrote {wanted:?} but read back {now:?}"),
    ))
}

/// A failed read or write as a plan action: absent = unsupported, EACCES/EPERM/EROFS =
/// privilege, EINVAL/EBUSY/EOPNOTSUPP/EIO at write = the kernel refused the value.
pub fn error(e: HostError, what: &str, value: Option<&str>, absent: &str) -> TuneError {
    let attempt = match value {
        Some(v) => format!("writing {v:?}"),
        None => "reading".to_string(),
    };
    let (kind, why) = match e.errno() {
        _ if e.is_not_found() => (ErrorKind::Unsupported, absent.to_string()),
        Some(libc::EACCES | libc::EPERM | libc::EROFS) => (
            ErrorKind::NeedsPrivilege,
            format!("{e}; run as root (sysfs is read-only inside most containers)"),
        ),
        Some(libc::EINVAL | libc::EBUSY | libc::EOPNOTSUPP | libc::EIO | libc::ERANGE)
            if value.is_some() =>
        {
            (ErrorKind::Rejected, format!("the kernel refused it: {e}"))
        }
        _ => (ErrorKind::Io, e.to_string()),
    };
    TuneError::new(kind, format!("{what}: {attempt}: {why}"))
}
