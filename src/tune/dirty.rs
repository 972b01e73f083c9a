//! The writeback limits the kernel keeps as pairs: `vm.dirty_bytes`/`vm.dirty_ratio` and
//! `vm.dirty_background_bytes`/`vm.dirty_background_ratio`. Only one of each pair is in
//! force: writing one makes the kernel zero the other, and `*_bytes` refuses 0 (its minimum
//! is two pages; Documentation/admin-guide/sysctl/vm.rst, mm/page-writeback.c).
//!
//! So a profile's `vm.dirty_bytes` could not be rolled back by writing back the 0 it read:
//! the previous state was "the ratio is in force". These keys therefore read as the limit
//! in force: a plain number when the key itself is, else `ratio N` (or `bytes N`) for its
//! partner. Writing `ratio 20` writes vm.dirty_ratio = 20, which puts the ratio back in
//! force exactly as it was.
//!
//! A fixture tree has no kernel to zero the partner, so below a root other than `/` the
//! write does it too.

use crate::host::Host;
use crate::host::sysctl::SysctlKey;

use super::{TuneError, sysctl};

/// The pairs, bytes key first.
const PAIRS: &[(&str, &str)] = &[
    ("vm.dirty_bytes", "vm.dirty_ratio"),
    ("vm.dirty_background_bytes", "vm.dirty_background_ratio"),
];

/// For a key of a pair: its partner, and the word for the partner's unit.
fn partner(key: &SysctlKey) -> Option<(SysctlKey, &'static str)> {
    let name = key.to_string();
    PAIRS.iter().find_map(|(bytes, ratio)| {
        let (other, unit) = if name == *bytes {
            (*ratio, "ratio")
        } else if name == *ratio {
            (*bytes, "bytes")
        } else {
            return None;
        };
        SysctlKey::parse(other).ok().map(|k| (k, unit))
    })
}

/// Whether `key` is one of a pair.
pub fn is_pair(key: &SysctlKey) -> bool {
    partner(key).is_some()
}

/// The limit in force, as seen from `key`: its own value when non-zero, else `UNIT N` of
/// its partner when that is non-zero, else "0".
pub fn read(host: &Host, key: &SysctlKey) -> Result<String, TuneError> {
    let own = sysctl::read(host, key)?;
    if own.trim() != "0" {
        return Ok(own.trim().to_string());
    }
    let Some((other, unit)) = partner(key) else {
        return Ok(own.trim().to_string());
    };
    match sysctl::read(host, &other) {
        Ok(v) if v.trim() != "0" => Ok(format!("{unit} {}", v.trim())),
        _ => Ok(own.trim().to_string()),
    }
}

/// Writes a plain value to `key`, or `UNIT N` to the partner it names.
pub fn write(host: &Host, key: &SysctlKey, value: &str) -> Result<(), TuneError> {
    let (target, number) = match (value.split_once(' '), partner(key)) {
        (Some((unit, n)), Some((other, partner_unit))) if unit == partner_unit => {
            (other, n.trim().to_string())
        }
        _ => (key.clone(), value.to_string()),
    };
    sysctl::write(host, &target, &number)?;
    if !host.is_live()
        && number != "0"
        && let Some((other, _)) = partner(&target)
    {
        sysctl::write(host, &other, "0")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(bytes: &str, ratio: &str) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        let vm = dir.path().join("proc/sys/vm");
        std::fs::create_dir_all(&vm).unwrap();
        std::fs::write(vm.join("dirty_bytes"), format!("{bytes}\n")).unwrap();
        std::fs::write(vm.join("dirty_ratio"), format!("{ratio}\n")).unwrap();
        let host = Host::with_root(dir.path());
        (dir, host)
    }

    #[test]
    fn the_limit_in_force_round_trips_through_a_rollback() {
        let (dir, host) = fixture("0", "20");
        let key = SysctlKey::parse("vm.dirty_bytes").unwrap();
        let before = read(&host, &key).unwrap();
        assert_eq!(before, "ratio 20");
        write(&host, &key, "268435456").unwrap();
        assert_eq!(read(&host, &key).unwrap(), "268435456");
        let vm = dir.path().join("proc/sys/vm");
        assert_eq!(
            std::fs::read_to_string(vm.join("dirty_ratio")).unwrap(),
            "0\n"
        );
        write(&host, &key, &before).unwrap();
        assert_eq!(read(&host, &key).unwrap(), "ratio 20");
        assert_eq!(
            std::fs::read_to_string(vm.join("dirty_bytes")).unwrap(),
            "0\n"
        );
        assert_eq!(
            std::fs::read_to_string(vm.join("dirty_ratio")).unwrap(),
            "20\n"
        );
        let ratio = SysctlKey::parse("vm.dirty_ratio").unwrap();
        write(&host, &key, "268435456").unwrap();
        assert_eq!(read(&host, &ratio).unwrap(), "bytes 268435456");
        assert!(!is_pair(&SysctlKey::parse("vm.swappiness").unwrap()));
    }
}
