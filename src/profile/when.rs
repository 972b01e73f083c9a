//! Conditions on a profile, a section or one setting: `when:` with what the host must be
//! for it to apply. Every condition given must hold; a setting whose condition does not is
//! shown in the plan as skipped, with the reason ("numa_nodes >1: this host has 1 NUMA
//! node"), and never written.
//!
//! ```yaml
//! when:
//!   virtualization: none          # none (bare metal, no container), guest, container; or a list
//!   driver: [mlx5_core, ice]      # some NIC is bound to one of these drivers
//!   kernel: ">=4.13 <6.0"         # from /proc/sys/kernel/osrelease
//!   cpus: ">=8"                   # online CPUs
//!   numa_nodes: ">1"
//!   systemd: true                 # systemd is the service manager
//! ```
//! The facts come from [`HostFacts`], read through the Host seam, so a fixture root answers
//! from its own files. A fact the host does not show fails the condition ("could not tell").

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::facts::{HostFacts, KernelVersion};

/// One `when:` block: all of its conditions must hold.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualization: Option<OneOrMany<Virtualization>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<OneOrMany<DriverName>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numa_nodes: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<bool>,
}

/// What a host runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Virtualization {
    /// Bare metal: no hypervisor and no container.
    None,
    /// Under a hypervisor (a VM).
    Guest,
    /// Inside a container.
    Container,
}

/// A driver name as the kernel names it (letters, digits, `_`, `-`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DriverName(pub String);

impl<'de> Deserialize<'de> for DriverName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(DriverName(s))
        } else {
            Err(de::Error::custom(format!(
                "{s:?} is not a driver name (letters, digits, '_' and '-', as in /sys/bus/*/drivers)"
            )))
        }
    }
}

/// One value or a list of them; shown as it is usually written (one value bare).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T: Serialize> Serialize for OneOrMany<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read as YAML first, then each item as T, so T's own message (e.g. the unknown
        // value and the ones allowed) reaches the user.
        let one = |v: yaml_serde::Value| T::deserialize(v).map_err(de::Error::custom);
        match yaml_serde::Value::deserialize(d)? {
            yaml_serde::Value::Sequence(items) if items.is_empty() => {
                Err(de::Error::custom("an empty list matches nothing"))
            }
            yaml_serde::Value::Sequence(items) => items
                .into_iter()
                .map(one)
                .collect::<Result<_, _>>()
                .map(OneOrMany),
            other => one(other).map(|v| OneOrMany(vec![v])),
        }
    }
}

/// Bounds on a number or version: `">=8"`, `">1"`, `"<4.13"`, `">=5.4 <6.1"`, `"4"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub bounds: Vec<(Op, KernelVersion)>,
    text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Range {
    /// Parses bounds separated by spaces. Numbers are versions with one part (`8` is 8.0.0).
    pub fn parse(text: &str) -> Result<Range, String> {
        let mut bounds = Vec::new();
        for word in text.split_whitespace() {
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("==", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| word.strip_prefix(p).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, word));
            let version = parse_number_or_version(rest).ok_or_else(|| {
                format!(
                    "{word:?}: a bound is an operator (>=, >, <=, <, =) and a number or version such as 8 or 4.13"
                )
            })?;
            bounds.push((op, version));
        }
        if bounds.is_empty() || bounds.len() > 4 {
            return Err(format!(
                "{text:?}: give one to four bounds, e.g. \">=8\" or \">=5.4 <6.1\""
            ));
        }
        // A lower bound above an upper one (">=7 <5") would silently match nothing.
        for (lo_op, lo) in bounds
            .iter()
            .filter(|(op, _)| matches!(op, Op::Ge | Op::Gt | Op::Eq))
        {
            for (hi_op, hi) in bounds
                .iter()
                .filter(|(op, _)| matches!(op, Op::Le | Op::Lt | Op::Eq))
            {
                let strict = matches!(lo_op, Op::Gt) || matches!(hi_op, Op::Lt);
                if lo > hi || (lo == hi && strict) {
                    return Err(format!(
                        "{text:?}: no value is within these bounds, so the condition would never hold; check the order of the numbers"
                    ));
                }
            }
        }
        Ok(Range {
            bounds,
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        })
    }

    /// Whether `value` satisfies every bound.
    pub fn contains(&self, value: KernelVersion) -> bool {
        self.bounds.iter().all(|(op, b)| match op {
            Op::Lt => value < *b,
            Op::Le => value <= *b,
            Op::Gt => value > *b,
            Op::Ge => value >= *b,
            Op::Eq => value == *b,
        })
    }

    /// For counts: whether `n` satisfies every bound.
    pub fn contains_count(&self, n: u32) -> bool {
        self.contains(KernelVersion(n, 0, 0))
    }
}

/// `8` as 8.0.0, `4.13` as 4.13.0, `5.4.1` as is.
fn parse_number_or_version(text: &str) -> Option<KernelVersion> {
    let mut parts = text.split('.');
    let mut next = |required: bool| -> Option<u32> {
        match parts.next() {
            Some(p) => p.parse().ok(),
            None if required => None,
            None => Some(0),
        }
    };
    let v = KernelVersion(next(true)?, next(false)?, next(false)?);
    parts.next().is_none().then_some(v)
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Range {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Range {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Range;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bound such as \">=8\" or \">=4.13 <6.0\", or a number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Range, E> {
                Range::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Range, E> {
                Range::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Range, E> {
                Err(E::custom(format!(
                    "{v}: write versions as text, e.g. \">=4.13\" (4.10 as a number would read as 4.1)"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Range, E> {
                Range::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl When {
    /// Whether `facts` meet every condition: `Ok` with nothing to say, or `Err` with the
    /// first condition that fails and why ("numa_nodes >1: this host has 1 NUMA node").
    pub fn check(&self, facts: &HostFacts) -> Result<(), String> {
        if let Some(OneOrMany(wanted)) = &self.virtualization {
            let is = |v: &Virtualization| match v {
                Virtualization::None => facts.guest.is_none() && facts.container.is_none(),
                Virtualization::Guest => facts.guest.is_some(),
                Virtualization::Container => facts.container.is_some(),
            };
            let names: Vec<&str> = wanted
                .iter()
                .map(|v| match v {
                    Virtualization::None => "none",
                    Virtualization::Guest => "guest",
                    Virtualization::Container => "container",
                })
                .collect();
            let unknown = !facts.virtualization_known && facts.container.is_none();
            if unknown || !wanted.iter().any(is) {
                return Err(format!(
                    "virtualization {}: this host is {}",
                    names.join(" or "),
                    facts.describe_virtualization()
                ));
            }
        }
        if let Some(OneOrMany(drivers)) = &self.driver {
            let found = facts.nics.iter().find(|n| {
                n.driver
                    .as_deref()
                    .is_some_and(|d| drivers.iter().any(|w| w.0 == d))
            });
            if found.is_none() {
                let have: Vec<String> = facts
                    .nics
                    .iter()
                    .map(|n| {
                        format!(
                            "{} ({})",
                            n.name,
                            n.driver.as_deref().unwrap_or("no driver")
                        )
                    })
                    .collect();
                let want: Vec<&str> = drivers.iter().map(|d| d.0.as_str()).collect();
                return Err(format!(
                    "driver {}: this host's NICs are {}",
                    want.join(" or "),
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                ));
            }
        }
        if let Some(range) = &self.kernel {
            match (facts.kernel(), &facts.kernel_release) {
                (Some(v), _) if range.contains(v) => {}
                (Some(_), Some(release)) => {
                    return Err(format!("kernel {range}: this kernel is {release}"));
                }
                _ => {
                    return Err(format!(
                        "kernel {range}: could not tell (no /proc/sys/kernel/osrelease)"
                    ));
                }
            }
        }
        for (name, range, value, what) in [
            ("cpus", &self.cpus, facts.cpus, "online CPU(s)"),
            (
                "numa_nodes",
                &self.numa_nodes,
                facts.numa_nodes,
                "NUMA node(s)",
            ),
        ] {
            let Some(range) = range else { continue };
            match value {
                Some(n) if range.contains_count(n) => {}
                Some(n) => return Err(format!("{name} {range}: this host has {n} {what}")),
                None => return Err(format!("{name} {range}: could not tell the {what}")),
            }
        }
        if let Some(wanted) = self.systemd
            && wanted != facts.systemd
        {
            return Err(format!(
                "systemd {wanted}: systemd {} the service manager here (/run/systemd/system)",
                if facts.systemd { "is" } else { "is not" }
            ));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self == &When::default()
    }
}

/// Every `when:` that applies to one setting (its own, its section's, its profile's): all
/// must hold. Written as one map; shown as a map, or a list when several apply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditions(pub Vec<When>);

impl Conditions {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds the conditions of an enclosing section or profile.
    pub fn and(&mut self, outer: &Conditions) {
        for w in &outer.0 {
            if !self.0.contains(w) {
                self.0.push(w.clone());
            }
        }
    }

    /// `Err(why)` for the first condition the host does not meet.
    pub fn check(&self, facts: &HostFacts) -> Result<(), String> {
        self.0.iter().try_for_each(|w| w.check(facts))
    }
}

impl Serialize for Conditions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Conditions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = When::deserialize(d)?;
        Ok(Conditions(if w.is_empty() { Vec::new() } else { vec![w] }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::facts::Evidence;

    fn when(yaml: &str) -> When {
        yaml_serde::from_str(yaml).unwrap()
    }

    fn facts() -> HostFacts {
        HostFacts::example_server()
    }

    #[test]
    fn every_condition_must_hold_and_the_failure_says_why() {
        let server = facts();
        assert_eq!(
            when("{virtualization: none, numa_nodes: \">1\", cpus: \">=8\", driver: [ice, mlx5_core], kernel: \">=4.13 <6.0\", systemd: true}")
                .check(&server),
            Ok(())
        );
        let err = when("{numa_nodes: \">1\"}")
            .check(&HostFacts {
                numa_nodes: Some(1),
                ..facts()
            })
            .unwrap_err();
        assert_eq!(err, "numa_nodes >1: this host has 1 NUMA node(s)");
        let err = when("{kernel: \"<4.13\"}").check(&server).unwrap_err();
        assert_eq!(err, "kernel <4.13: this kernel is 5.15.0-126-generic");
        let err = when("{driver: virtio_net}").check(&server).unwrap_err();
        assert!(err.contains("eth2 (mlx5_core)"), "{err}");
    }

    #[test]
    fn virtualization_none_means_no_hypervisor_and_no_container() {
        let vm = HostFacts {
            guest: Some(Evidence {
                kind: "kvm".into(),
                source: "/sys/class/dmi/id/product_name: KVM".into(),
            }),
            ..facts()
        };
        let err = when("{virtualization: none}").check(&vm).unwrap_err();
        assert!(err.contains("a kvm guest"), "{err}");
        assert_eq!(when("{virtualization: guest}").check(&vm), Ok(()));
        assert_eq!(when("{virtualization: [none, guest]}").check(&vm), Ok(()));
        let docker = HostFacts {
            container: Some(Evidence {
                kind: "docker".into(),
                source: "/.dockerenv".into(),
            }),
            ..facts()
        };
        assert!(when("{virtualization: none}").check(&docker).is_err());
        assert_eq!(when("{virtualization: container}").check(&docker), Ok(()));
        let unknown = HostFacts {
            virtualization_known: false,
            ..facts()
        };
        let err = when("{virtualization: none}").check(&unknown).unwrap_err();
        assert!(err.contains("unknown virtualization"), "{err}");
    }

    #[test]
    fn unknown_facts_fail_their_conditions() {
        let bare = HostFacts::default();
        assert!(
            when("{cpus: \">=1\"}")
                .check(&bare)
                .unwrap_err()
                .contains("could not tell")
        );
        assert!(
            when("{kernel: \">=2.6\"}")
                .check(&bare)
                .unwrap_err()
                .contains("could not tell")
        );
    }

    #[test]
    fn bad_conditions_are_refused_with_what_to_write() {
        for bad in [
            "{numa_nodes: \">one\"}",
            "{kernel: 4.10}",
            "{virtualization: cloud}",
            "{driver: \"../x\"}",
            "{cpu: 4}",
            "{cpus: \">=1 >=2 >=3 >=4 >=5\"}",
            "{kernel: \">=7 <5\"}",
            "{cpus: \">8 <=8\"}",
            "{virtualization: []}",
        ] {
            assert!(yaml_serde::from_str::<When>(bad).is_err(), "{bad}");
        }
        let r = Range::parse(">=5.4  <6.1").unwrap();
        assert!(r.contains(KernelVersion(5, 10, 0)));
        assert!(!r.contains(KernelVersion(6, 1, 0)));
        assert!(!r.contains(KernelVersion(5, 3, 18)));
        assert_eq!(r.to_string(), ">=5.4 <6.1");
        assert!(Range::parse("4").unwrap().contains_count(4));
    }
}
