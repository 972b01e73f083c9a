//! Named sysfs attributes a profile may set: a closed catalogue, never an arbitrary path.
//!
//! | profile key | file | values |
//! |---|---|---|
//! | `transparent_hugepage/enabled` | /sys/kernel/mm/transparent_hugepage/enabled | always, madvise, never |
//! | `transparent_hugepage/defrag` | …/defrag | always, defer, defer+madvise, madvise, never |
//! | `transparent_hugepage/shmem_enabled` | …/shmem_enabled | always, within_size, advise, never, deny, force |
//! | `transparent_hugepage/khugepaged/defrag` | …/khugepaged/defrag | 0, 1 |
//! | `net/SELECTOR/napi_defer_hard_irqs` | /sys/class/net/IF/napi_defer_hard_irqs | 0 … 2147483647 |
//! | `net/SELECTOR/gro_flush_timeout` | /sys/class/net/IF/gro_flush_timeout | nanoseconds |
//!
//! (Documentation/admin-guide/mm/transhuge.rst; Documentation/networking/napi.rst,
//! "Software IRQ coalescing"; Documentation/ABI/testing/sysfs-class-net.) SELECTOR is an
//! interface selector as in the `network` section: a name, a glob, `driver:NAME` or
//! `default-route`.
//!
//! The THP files are choice files: the kernel shows every choice with the current one in
//! brackets (`always [madvise] never`) and takes one word. Reads return the bracketed word;
//! writes send the word alone. A fixture tree has no kernel to move the brackets, so below
//! a root other than `/` the write puts back the whole line as the kernel would then show it.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::tune::net::iface::Selector;

use super::{ErrorKind, TuneError, attr};

/// The attributes hostperf knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SysfsAttr {
    ThpEnabled,
    ThpDefrag,
    ThpShmemEnabled,
    KhugepagedDefrag,
    NapiDeferHardIrqs,
    GroFlushTimeout,
}

/// What an attribute takes.
enum Format {
    /// One of these words, shown with the current one bracketed.
    Choice(&'static [&'static str]),
    /// A whole number from 0 to the maximum.
    Number(u64),
}

impl SysfsAttr {
    /// Every attribute with its profile name (for the per-interface ones, the part after
    /// `net/SELECTOR/`).
    const ALL: &'static [(SysfsAttr, &'static str)] = &[
        (SysfsAttr::ThpEnabled, "transparent_hugepage/enabled"),
        (SysfsAttr::ThpDefrag, "transparent_hugepage/defrag"),
        (
            SysfsAttr::ThpShmemEnabled,
            "transparent_hugepage/shmem_enabled",
        ),
        (
            SysfsAttr::KhugepagedDefrag,
            "transparent_hugepage/khugepaged/defrag",
        ),
        (SysfsAttr::NapiDeferHardIrqs, "napi_defer_hard_irqs"),
        (SysfsAttr::GroFlushTimeout, "gro_flush_timeout"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map(|(_, n)| *n)
            .unwrap_or("?")
    }

    /// Whether the attribute belongs to a network interface.
    pub fn per_interface(self) -> bool {
        matches!(
            self,
            SysfsAttr::NapiDeferHardIrqs | SysfsAttr::GroFlushTimeout
        )
    }

    /// Why `value` is not one this attribute takes, on any kernel.
    pub fn check_value(self, value: &str) -> Result<(), String> {
        match self.format() {
            Format::Choice(words) if words.contains(&value) => Ok(()),
            Format::Choice(words) => Err(format!("{value:?} is not one of {}", words.join(", "))),
            Format::Number(max) => match value.parse::<u64>() {
                Ok(n) if n <= max => Ok(()),
                _ => Err(format!("{value:?} is not a whole number from 0 to {max}")),
            },
        }
    }

    fn format(self) -> Format {
        match self {
            SysfsAttr::ThpEnabled => Format::Choice(&["always", "madvise", "never"]),
            SysfsAttr::ThpDefrag => {
                Format::Choice(&["always", "defer", "defer+madvise", "madvise", "never"])
            }
            SysfsAttr::ThpShmemEnabled => {
                Format::Choice(&["always", "within_size", "advise", "never", "deny", "force"])
            }
            SysfsAttr::KhugepagedDefrag => Format::Number(1),
            // napi_defer_hard_irqs is an int capped at S32_MAX; gro_flush_timeout an
            // unsigned long of nanoseconds (net/core/net-sysfs.c).
            SysfsAttr::NapiDeferHardIrqs => Format::Number(i32::MAX as u64),
            SysfsAttr::GroFlushTimeout => Format::Number(u32::MAX as u64),
        }
    }
}

/// A key of a profile's `sysfs` section: an attribute, and for per-interface ones the
/// interface selector as written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SysfsKey {
    pub attr: SysfsAttr,
    pub selector: Option<String>,
}

impl SysfsKey {
    pub fn parse(text: &str) -> Result<SysfsKey, String> {
        let catalogue = || {
            let names: Vec<String> = SysfsAttr::ALL
                .iter()
                .map(|(a, n)| {
                    if a.per_interface() {
                        format!("net/SELECTOR/{n}")
                    } else {
                        n.to_string()
                    }
                })
                .collect();
            format!(
                "{text:?} is not a sysfs setting hostperf knows; it sets only: {}",
                names.join(", ")
            )
        };
        if let Some(rest) = text.strip_prefix("net/") {
            let (selector, name) = rest.rsplit_once('/').ok_or_else(catalogue)?;
            let attr = SysfsAttr::ALL
                .iter()
                .find(|(a, n)| a.per_interface() && *n == name)
                .map(|(a, _)| *a)
                .ok_or_else(catalogue)?;
            Selector::parse(selector)?;
            return Ok(SysfsKey {
                attr,
                selector: Some(selector.to_string()),
            });
        }
        SysfsAttr::ALL
            .iter()
            .find(|(a, n)| !a.per_interface() && *n == text)
            .map(|(a, _)| SysfsKey {
                attr: *a,
                selector: None,
            })
            .ok_or_else(catalogue)
    }

    /// The knobs this key names on `host`, with notes on what a selector left out.
    pub fn resolve(&self, host: &Host) -> Result<(Vec<SysfsKnob>, Vec<String>), String> {
        let Some(selector) = &self.selector else {
            return Ok((
                vec![SysfsKnob {
                    attr: self.attr,
                    iface: None,
                }],
                Vec::new(),
            ));
        };
        let (ifaces, notes) = Selector::parse(selector)?.resolve(host)?;
        Ok((
            ifaces
                .into_iter()
                .map(|iface| SysfsKnob {
                    attr: self.attr,
                    iface: Some(iface),
                })
                .collect(),
            notes,
        ))
    }
}

impl fmt::Display for SysfsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            Some(sel) => write!(f, "net/{sel}/{}", self.attr.name()),
            None => f.write_str(self.attr.name()),
        }
    }
}

impl Serialize for SysfsKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SysfsKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SysfsKey::parse(&s).map_err(de::Error::custom)
    }
}

/// One attribute file on this host.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SysfsKnob {
    pub attr: SysfsAttr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iface: Option<String>,
}

impl SysfsKnob {
    pub fn path(&self) -> String {
        match (&self.iface, self.attr) {
            (Some(iface), attr) => format!("/sys/class/net/{iface}/{}", attr.name()),
            (None, attr) => format!("/sys/kernel/mm/{}", attr.name()),
        }
    }

    /// Whether a journal entry naming this knob is one a profile could produce: an
    /// interface exactly for the per-interface attributes, with a valid name.
    pub fn check_journaled(&self) -> Result<(), String> {
        match (&self.iface, self.attr.per_interface()) {
            (Some(iface), true) if super::is_iface_name(iface) => Ok(()),
            (Some(iface), true) => Err(format!("{iface:?} is not an interface name")),
            (None, false) => Ok(()),
            _ => Err(format!(
                "{}: {} an interface",
                self.attr.name(),
                if self.attr.per_interface() {
                    "needs"
                } else {
                    "takes no"
                }
            )),
        }
    }

    fn absent(&self, host: &Host) -> String {
        match &self.iface {
            Some(iface) if !crate::tune::net::iface::exists(host, iface) => {
                format!("{} is absent: no interface {iface}", self.path())
            }
            Some(_) => format!(
                "{} is absent (napi_defer_hard_irqs needs Linux 5.10 or later)",
                self.path()
            ),
            None => format!(
                "{} is absent: this kernel has no transparent huge pages (CONFIG_TRANSPARENT_HUGEPAGE)",
                self.path()
            ),
        }
    }

    /// The current value: the bracketed word of a choice file, else the number.
    pub fn read(&self, host: &Host) -> Result<String, TuneError> {
        let text = attr::read(host, &self.path(), &self.to_string(), &self.absent(host))?;
        Ok(match self.attr.format() {
            Format::Choice(_) => selected(&text).unwrap_or(text),
            Format::Number(_) => text,
        })
    }

    /// Checks the value is one the attribute takes, and for a choice file, one this kernel
    /// offers (older kernels lack `defer+madvise`).
    pub fn validate(&self, host: &Host, value: &str) -> Result<(), TuneError> {
        self.attr
            .check_value(value)
            .map_err(|why| TuneError::new(ErrorKind::Invalid, format!("{self}: {why}")))?;
        match self.attr.format() {
            Format::Choice(_) => {
                if let Ok(text) = host.read_string(self.path()) {
                    let offered = choices(&text);
                    if offered.len() > 1 && !offered.iter().any(|c| c == value) {
                        return Err(TuneError::new(
                            ErrorKind::Unsupported,
                            format!(
                                "{self}: this kernel offers {}, not {value:?}",
                                offered.join(", ")
                            ),
                        ));
                    }
                }
                Ok(())
            }
            Format::Number(_) => Ok(()),
        }
    }

    /// Writes the value and reads it back.
    pub fn write(&self, host: &Host, value: &str) -> Result<(), TuneError> {
        self.validate(host, value)?;
        let text = match self.attr.format() {
            Format::Choice(_) if !host.is_live() => host
                .read_string(self.path())
                .ok()
                .and_then(|line| select(&line, value))
                .unwrap_or_else(|| value.to_string()),
            _ => value.to_string(),
        };
        attr::write(host, &self.path(), &text, &self.to_string())?;
        attr::confirm(&self.to_string(), value, &self.read(host)?)
    }
}

impl fmt::Display for SysfsKnob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.iface {
            Some(iface) => write!(f, "{iface} {}", self.attr.name()),
            None => f.write_str(self.attr.name()),
        }
    }
}

/// The bracketed word of a choice line (`always [madvise] never` -> `madvise`).
pub fn selected(line: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
}

/// Every choice of a line, brackets removed.
pub fn choices(line: &str) -> Vec<String> {
    line.split_whitespace()
        .map(|w| w.trim_start_matches('[').trim_end_matches(']').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The line as the kernel shows it once `word` is chosen; `None` when it is not offered.
pub fn select(line: &str, word: &str) -> Option<String> {
    let all = choices(line);
    all.iter().any(|c| c == word).then(|| {
        all.iter()
            .map(|c| {
                if c == word {
                    format!("[{c}]")
                } else {
                    c.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_lines_parse_and_rewrite_like_the_kernel() {
        assert_eq!(
            selected("always [madvise] never").as_deref(),
            Some("madvise")
        );
        assert_eq!(
            selected("always defer defer+madvise [madvise] never").as_deref(),
            Some("madvise")
        );
        assert_eq!(selected("never"), None);
        assert_eq!(selected(""), None);
        assert_eq!(selected("[] x"), None);
        assert_eq!(
            select("always [madvise] never", "never").as_deref(),
            Some("always madvise [never]")
        );
        assert_eq!(
            select(
                "[always] defer defer+madvise madvise never",
                "defer+madvise"
            )
            .as_deref(),
            Some("always defer [defer+madvise] madvise never")
        );
        assert_eq!(select("always [madvise] never", "defer"), None);
        assert_eq!(
            choices("always within_size advise [never] deny force"),
            ["always", "within_size", "advise", "never", "deny", "force"]
        );
    }

    #[test]
    fn only_catalogued_keys_parse() {
        let thp = SysfsKey::parse("transparent_hugepage/enabled").unwrap();
        assert_eq!(thp.attr, SysfsAttr::ThpEnabled);
        let napi = SysfsKey::parse("net/default-route/napi_defer_hard_irqs").unwrap();
        assert_eq!(napi.selector.as_deref(), Some("default-route"));
        assert_eq!(napi.to_string(), "net/default-route/napi_defer_hard_irqs");
        let drv = SysfsKey::parse("net/driver:mlx5_core/gro_flush_timeout").unwrap();
        assert_eq!(drv.attr, SysfsAttr::GroFlushTimeout);
        for bad in [
            "kernel/mm/transparent_hugepage/enabled",
            "/sys/kernel/mm/transparent_hugepage/enabled",
            "transparent_hugepage/../../../etc/passwd",
            "net/eth0/../../napi_defer_hard_irqs",
            "net/eth0/mtu",
            "net//napi_defer_hard_irqs",
            "napi_defer_hard_irqs",
            "net/eth0/transparent_hugepage/enabled",
        ] {
            assert!(SysfsKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn journal_entries_must_fit_their_attribute() {
        let ok = |attr, iface: Option<&str>| {
            SysfsKnob {
                attr,
                iface: iface.map(str::to_string),
            }
            .check_journaled()
        };
        assert!(ok(SysfsAttr::ThpEnabled, None).is_ok());
        assert!(ok(SysfsAttr::GroFlushTimeout, Some("eth0")).is_ok());
        assert!(ok(SysfsAttr::ThpEnabled, Some("eth0")).is_err());
        assert!(ok(SysfsAttr::GroFlushTimeout, None).is_err());
        assert!(ok(SysfsAttr::GroFlushTimeout, Some("../../etc")).is_err());
        assert!(ok(SysfsAttr::GroFlushTimeout, Some("a/b")).is_err());
        let bad: Result<SysfsKnob, _> =
            serde_json::from_str(r#"{"attr": "arbitrary-file", "iface": null}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn a_fixture_choice_file_round_trips_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let thp = dir.path().join("sys/kernel/mm/transparent_hugepage");
        std::fs::create_dir_all(&thp).unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        let original = "always [madvise] never\n";
        std::fs::write(thp.join("enabled"), original).unwrap();
        let host = Host::with_root(dir.path());
        let knob = SysfsKnob {
            attr: SysfsAttr::ThpEnabled,
            iface: None,
        };
        assert_eq!(knob.read(&host).unwrap(), "madvise");
        knob.write(&host, "never").unwrap();
        assert_eq!(
            std::fs::read_to_string(thp.join("enabled")).unwrap(),
            "always madvise [never]\n"
        );
        assert!(knob.write(&host, "sometimes").is_err());
        knob.write(&host, "madvise").unwrap();
        assert_eq!(
            std::fs::read_to_string(thp.join("enabled")).unwrap(),
            original
        );
        let defrag = SysfsKnob {
            attr: SysfsAttr::ThpDefrag,
            iface: None,
        };
        let err = defrag.read(&host).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);
        std::fs::write(thp.join("defrag"), "always defer [madvise] never\n").unwrap();
        let err = defrag.validate(&host, "defer+madvise").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    }
}
