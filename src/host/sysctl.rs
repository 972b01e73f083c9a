//! Sysctls as plain /proc/sys files: key syntax, one-write updates, read-back, and errors
//! classified by what the operator should do about them.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Host, HostError};

/// A validated sysctl name such as `net.ipv4.tcp_rmem` or `net.ipv4.conf.eth0/1.rp_filter`
/// (sysctl(8) writes a dot inside a component as `/`). It can never name a file outside
/// /proc/sys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SysctlKey {
    components: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid sysctl name {key:?}: {why}")]
pub struct BadKey {
    pub key: String,
    pub why: &'static str,
}

impl SysctlKey {
    pub fn parse(key: &str) -> Result<Self, BadKey> {
        let bad = |why| BadKey {
            key: key.to_string(),
            why,
        };
        if key.is_empty() {
            return Err(bad("it is empty"));
        }
        if key.starts_with('-') {
            return Err(bad(
                "a leading '-' is sysctl.d syntax for \"ignore if absent\"; in a profile, drop the '-' and write the key as {value: ..., optional: true}",
            ));
        }
        if key.contains(['*', '?', '[']) {
            return Err(bad(
                "globs are sysctl.d syntax, not a key; name each interface (net.ipv4.conf.eth0.rp_filter), use `all` or `default`, or mark an interface's key optional: true",
            ));
        }
        if key.len() > 255 {
            return Err(bad("it is longer than 255 bytes"));
        }
        // sysctl(8): with a dot anywhere the name is dotted and '/' stands for a literal dot;
        // without one, '/' separates components.
        let components: Vec<String> = if key.contains('.') {
            key.split('.').map(|c| c.replace('/', ".")).collect()
        } else {
            key.split('/').map(str::to_string).collect()
        };
        for component in &components {
            if component.is_empty() {
                return Err(bad(
                    "it has an empty component (leading, trailing or doubled separator)",
                ));
            }
            if component.starts_with('.') || component.ends_with('.') {
                return Err(bad(
                    "a component is '.', '..' or starts or ends with a dot ('/' in a dotted name)",
                ));
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.:@+".contains(c);
            if !component.chars().all(allowed) {
                return Err(bad(
                    "it has a character other than letters, digits and _ - . : @ +",
                ));
            }
        }
        Ok(SysctlKey { components })
    }

    /// The absolute path on the target host, e.g. `/proc/sys/net/core/somaxconn`.
    pub fn proc_path(&self) -> PathBuf {
        let mut path = PathBuf::from("/proc/sys");
        path.extend(&self.components);
        path
    }

    /// The first component: `net`, `fs`, `vm`, `kernel`, ...
    pub fn top(&self) -> &str {
        &self.components[0]
    }

    pub fn components(&self) -> &[String] {
        &self.components
    }
}

impl fmt::Display for SysctlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dotted: Vec<String> = self
            .components
            .iter()
            .map(|c| c.replace('.', "/"))
            .collect();
        f.write_str(&dotted.join("."))
    }
}

impl TryFrom<String> for SysctlKey {
    type Error = BadKey;
    fn try_from(key: String) -> Result<Self, BadKey> {
        SysctlKey::parse(&key)
    }
}

impl From<SysctlKey> for String {
    fn from(key: SysctlKey) -> String {
        key.to_string()
    }
}

/// Why a sysctl could not be read or written, in the terms an operator acts on.
#[derive(Debug, thiserror::Error)]
pub enum SysctlError {
    #[error(
        "sysctl {key}: no such key on this kernel ({path} does not exist); check the spelling, or the key is host-only and absent in a network namespace"
    )]
    Unknown { key: SysctlKey, path: PathBuf },
    #[error(
        "sysctl {key}: permission denied on {path}; run as root (inside a network namespace some keys are read-only)"
    )]
    NeedsPrivilege { key: SysctlKey, path: PathBuf },
    #[error(
        "sysctl {key}: the kernel rejected the value {value:?} ({reason}); pick a value this kernel accepts"
    )]
    Rejected {
        key: SysctlKey,
        value: String,
        reason: String,
    },
    #[error(
        "sysctl {key}: wrote {value:?} but read back {read_back:?}; the kernel adjusted or ignored the value"
    )]
    NotTaken {
        key: SysctlKey,
        value: String,
        read_back: String,
    },
    #[error("sysctl {key}: {source}")]
    Io {
        key: SysctlKey,
        #[source]
        source: HostError,
    },
}

/// Folds runs of spaces and tabs into one space: multi-field values come back tab-separated.
pub fn normalize(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Host {
    /// The current value, whitespace normalised.
    pub fn sysctl_read(&self, key: &SysctlKey) -> Result<String, SysctlError> {
        let path = key.proc_path();
        match self.read(&path) {
            Ok(bytes) => Ok(normalize(&String::from_utf8_lossy(&bytes))),
            Err(e) => Err(classify_open(key, path, e)),
        }
    }

    /// Writes `value` in one write, then reads it back and compares.
    pub fn sysctl_write(&self, key: &SysctlKey, value: &str) -> Result<(), SysctlError> {
        let path = key.proc_path();
        let wanted = normalize(value);
        let line = format!("{wanted}\n");
        if let Err(e) = self.write_all_once(&path, line.as_bytes()) {
            return Err(match e.op {
                "open" => classify_open(key, path, e),
                _ => classify_write(key, &wanted, path, e),
            });
        }
        let read_back = self.sysctl_read(key)?;
        if read_back != wanted {
            return Err(SysctlError::NotTaken {
                key: key.clone(),
                value: wanted,
                read_back,
            });
        }
        Ok(())
    }
}

fn classify_open(key: &SysctlKey, path: PathBuf, e: HostError) -> SysctlError {
    match e.errno() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => SysctlError::Unknown {
            key: key.clone(),
            path,
        },
        Some(libc::EACCES) | Some(libc::EPERM) | Some(libc::EROFS) => SysctlError::NeedsPrivilege {
            key: key.clone(),
            path,
        },
        _ => SysctlError::Io {
            key: key.clone(),
            source: e,
        },
    }
}

fn classify_write(key: &SysctlKey, value: &str, path: PathBuf, e: HostError) -> SysctlError {
    let reason = match e.errno() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            return SysctlError::NeedsPrivilege {
                key: key.clone(),
                path,
            };
        }
        Some(libc::EINVAL) => "EINVAL: out of range or malformed".to_string(),
        Some(libc::ENOENT) => "ENOENT: the named algorithm or object does not exist".to_string(),
        Some(libc::EBUSY) => "EBUSY: the setting is in use".to_string(),
        _ => e.source.to_string(),
    };
    SysctlError::Rejected {
        key: key.clone(),
        value: value.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_and_slashed_names_map_to_the_same_file() {
        let dotted = SysctlKey::parse("net.core.somaxconn").unwrap();
        let slashed = SysctlKey::parse("net/core/somaxconn").unwrap();
        assert_eq!(dotted, slashed);
        assert_eq!(
            dotted.proc_path(),
            PathBuf::from("/proc/sys/net/core/somaxconn")
        );
    }

    #[test]
    fn vlan_interface_names_keep_their_dot() {
        let key = SysctlKey::parse("net.ipv4.conf.eth0/1.rp_filter").unwrap();
        assert_eq!(
            key.proc_path(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth0.1/rp_filter")
        );
        assert_eq!(key.to_string(), "net.ipv4.conf.eth0/1.rp_filter");
    }

    #[test]
    fn names_that_could_escape_proc_sys_are_rejected() {
        for key in [
            "net/../../etc",
            "../etc/passwd",
            "/etc/passwd",
            "net.core.",
            ".net",
            "net..core",
            "net/./core",
            "net.core.some maxconn",
            "net.core.x\0y",
            "",
            "net/core/..",
            "-net.ipv4.tcp_sack",
            "net.ipv4.conf.*.rp_filter",
        ] {
            assert!(SysctlKey::parse(key).is_err(), "{key:?} was accepted");
        }
    }

    #[test]
    fn sysctl_d_syntax_is_refused_with_the_profile_way_to_say_it() {
        let e = SysctlKey::parse("-net.ipv4.tcp_sack").unwrap_err();
        assert!(e.to_string().contains("optional: true"), "{e}");
        let e = SysctlKey::parse("net.ipv4.conf.*.rp_filter").unwrap_err();
        assert!(e.to_string().contains("name each interface"), "{e}");
    }

    #[test]
    fn multi_field_values_compare_whitespace_normalised() {
        assert_eq!(normalize("4096\t131072\t6291456\n"), "4096 131072 6291456");
    }
}
