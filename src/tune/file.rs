//! Whole-file knobs for the files hostperf writes to persist settings
//! (/etc/sysctl.d, /etc/security/limits.d, systemd drop-ins). Absent is a value.

use std::path::Path;

use crate::host::Host;

use super::{ErrorKind, TuneError};

pub fn read(host: &Host, path: &Path) -> Result<Option<String>, TuneError> {
    host.read_optional(path)
        .map(|bytes| bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
        .map_err(|e| TuneError::new(ErrorKind::Io, e.to_string()))
}

pub fn write(host: &Host, path: &Path, content: Option<&str>) -> Result<(), TuneError> {
    let result = match content {
        Some(text) => host.write_file_atomic(path, text.as_bytes()),
        None => host.remove_file(path),
    };
    result.map_err(|e| {
        let kind = match e.errno() {
            Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => ErrorKind::NeedsPrivilege,
            _ => ErrorKind::Io,
        };
        TuneError::new(kind, e.to_string())
    })
}
