//! Whole-file knobs for the files hostperf writes to persist settings
//! (/etc/sysctl.d, /etc/security/limits.d, systemd drop-ins, the saved profile the boot
//! unit applies). Absent is a value.
//!
//! These are the only files outside its state directory that apply and rollback write, so
//! the set is closed: [`is_managed`] says whether a path is one of them, and the journal
//! refuses a file knob outside it.

use std::path::{Path, PathBuf};

use crate::host::Host;

use super::{ErrorKind, TuneError};

/// Sysctls for every boot (systemd-sysctl, `sysctl --system`).
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-hostperf.conf";
/// Limits for PAM login sessions.
pub const LIMITS_FILE: &str = "/etc/security/limits.d/90-hostperf.conf";
/// `DefaultLimit*=` for every systemd service.
pub const SYSTEMD_MANAGER_FILE: &str = "/etc/systemd/system.conf.d/90-hostperf.conf";
/// The resolved profile `apply --persist` saves, which hostperf-apply.service applies at
/// boot and hostperf-iface@.service to each interface as it appears.
pub const APPLIED_FILE: &str = "/etc/hostperf/applied.yaml";
/// The file name of every drop-in.
const DROP_IN: &str = "90-hostperf.conf";

/// The drop-in of one systemd unit: `/etc/systemd/system/UNIT.d/90-hostperf.conf`.
pub fn unit_drop_in(unit: &str) -> PathBuf {
    PathBuf::from(format!("/etc/systemd/system/{unit}.d/{DROP_IN}"))
}

/// A systemd unit name with its type (`nginx.service`): letters, digits and `:-_.@\`, not
/// starting with a dot, at most 255 bytes (systemd's UNIT_NAME_MAX).
pub fn is_unit_name(unit: &str) -> bool {
    !unit.is_empty()
        && unit.len() <= 255
        && !unit.starts_with('.')
        && unit.contains('.')
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c))
}

/// Whether `path` is a file `apply --persist` writes: the four fixed files or a unit
/// drop-in with a valid unit name.
pub fn is_managed(path: &Path) -> bool {
    if [SYSCTL_FILE, LIMITS_FILE, SYSTEMD_MANAGER_FILE, APPLIED_FILE]
        .iter()
        .any(|f| path == Path::new(f))
    {
        return true;
    }
    let Some(text) = path.to_str() else {
        return false;
    };
    text.strip_prefix("/etc/systemd/system/")
        .and_then(|rest| rest.strip_suffix(&format!(".d/{DROP_IN}")))
        .is_some_and(is_unit_name)
}

/// The directory hostperf may create before writing `path`: a systemd drop-in directory
/// (`system.conf.d`, `UNIT.d`), as `systemctl edit` does, and /etc/hostperf (the package
/// creates it; a hand-installed binary may not have it). Others must exist.
pub fn creatable_dir(path: &Path) -> Option<&Path> {
    let dir = path.parent()?;
    if path == Path::new(APPLIED_FILE) {
        return Some(dir);
    }
    let name = dir.file_name()?.to_str()?;
    (is_managed(path) && path != Path::new(SYSCTL_FILE) && path != Path::new(LIMITS_FILE))
        .then_some(dir)
        .filter(|_| name.ends_with(".d"))
}

pub fn read(host: &Host, path: &Path) -> Result<Option<String>, TuneError> {
    host.read_optional(path)
        .map(|bytes| bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
        .map_err(|e| TuneError::new(ErrorKind::Io, e.to_string()))
}

/// Writes (through the one writer) or removes a managed file. A systemd drop-in directory
/// is created first when absent; any other missing directory is an error.
pub fn write(host: &Host, path: &Path, content: Option<&str>) -> Result<(), TuneError> {
    let result = match content {
        Some(text) => match creatable_dir(path) {
            Some(dir) if !host.exists(dir) => host
                .create_dir(dir)
                .and_then(|()| host.write_file_atomic(path, text.as_bytes())),
            _ => host.write_file_atomic(path, text.as_bytes()),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_persisted_files_are_managed() {
        for ok in [
            SYSCTL_FILE,
            LIMITS_FILE,
            SYSTEMD_MANAGER_FILE,
            APPLIED_FILE,
            "/etc/systemd/system/nginx.service.d/90-hostperf.conf",
            "/etc/systemd/system/getty@tty1.service.d/90-hostperf.conf",
        ] {
            assert!(is_managed(Path::new(ok)), "{ok}");
        }
        for bad in [
            "/etc/cron.d/x",
            "/etc/sysctl.d/91-hostperf.conf",
            "/etc/hostperf/profiles/x.yaml",
            "/etc/hostperf/applied.yml",
            "/etc/systemd/system/../../cron.d/x.d/90-hostperf.conf",
            "/etc/systemd/system/a/b.service.d/90-hostperf.conf",
            "/etc/systemd/system/.service.d/90-hostperf.conf",
            "/etc/systemd/system/nginx.d/90-hostperf.conf",
            "etc/sysctl.d/90-hostperf.conf",
        ] {
            assert!(!is_managed(Path::new(bad)), "{bad}");
        }
        assert_eq!(
            creatable_dir(Path::new(SYSTEMD_MANAGER_FILE)),
            Some(Path::new("/etc/systemd/system.conf.d"))
        );
        assert_eq!(creatable_dir(Path::new(SYSCTL_FILE)), None);
        assert_eq!(
            creatable_dir(Path::new(APPLIED_FILE)),
            Some(Path::new("/etc/hostperf"))
        );
    }
}
