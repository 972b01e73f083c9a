//! The YAML profile format as written on disk. Every entry accepts a short form
//! (`net.core.somaxconn: 4096`) and a long form with its reason
//! (`{value: 4096, reason: "...", optional: false}`). Errors keep the line and column.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::host::rlimit::Resource;
use crate::host::sysctl::SysctlKey;
use crate::tune::{Desired, Want};

use super::network::Network;

/// One profile file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDoc {
    /// Defaults to the file name without `.yaml`.
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Profiles to inherit, in order; later ones and this file win.
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub sysctl: BTreeMap<SysctlKey, SysctlEntry>,
    #[serde(default)]
    pub ulimits: BTreeMap<Resource, UlimitEntry>,
    #[serde(default)]
    pub network: Option<Network>,
}

/// A sysctl's wanted value, why, and whether the host may lack it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SysctlEntry {
    #[serde(serialize_with = "as_text")]
    pub value: Desired,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub optional: bool,
    /// The profile this entry came from after includes are resolved.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
}

/// Soft and hard limits; a single value sets both.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UlimitEntry {
    #[serde(serialize_with = "as_text")]
    pub soft: Want,
    #[serde(serialize_with = "as_text")]
    pub hard: Want,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub optional: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
}

impl UlimitEntry {
    /// As a knob value: `soft hard`.
    pub fn desired(&self) -> Desired {
        Desired {
            fields: vec![self.soft.clone(), self.hard.clone()],
        }
    }
}

fn as_text<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A sysctl value: a number, a string (`bbr`, `">=4096"`, `"4096 87380 16777216"`), a bool,
/// or a list of fields.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Desired;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, a string such as \"bbr\" or \">=4096\", or a list of fields")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Desired, E> {
        Ok(Desired::exact(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Desired, E> {
        Ok(Desired::exact(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Desired, E> {
        Ok(Desired::exact(if v { "1" } else { "0" }))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Desired, E> {
        Err(E::custom(format!(
            "{v} is not an integer; sysctl values are integers or strings"
        )))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Desired, E> {
        let fields = v
            .split_whitespace()
            .map(Desired::parse_field)
            .collect::<Result<Vec<_>, _>>()
            .map_err(E::custom)?;
        if fields.is_empty() {
            return Err(E::custom("the value is empty"));
        }
        Ok(Desired { fields })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Desired, A::Error> {
        let mut fields = Vec::new();
        while let Some(field) = seq.next_element::<Field>()? {
            fields.push(field.0);
        }
        if fields.is_empty() {
            return Err(de::Error::custom("the list of fields is empty"));
        }
        Ok(Desired { fields })
    }
}

/// One field of a list value: a number or a one-word string.
struct Field(Want);

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Want;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a one-word string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Want, E> {
                Ok(Want::Exact(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Want, E> {
                Ok(Want::Exact(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Want, E> {
                Desired::parse_field(v).map_err(E::custom)
            }
        }
        d.deserialize_any(FieldVisitor).map(Field)
    }
}

struct Value(Desired);

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor).map(Value)
    }
}

const ENTRY_FIELDS: &[&str] = &["value", "reason", "optional"];

impl<'de> Deserialize<'de> for SysctlEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = SysctlEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value, or a map with value, reason and optional")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SysctlEntry, E> {
                ValueVisitor.visit_i64(v).map(SysctlEntry::short)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SysctlEntry, E> {
                ValueVisitor.visit_u64(v).map(SysctlEntry::short)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SysctlEntry, E> {
                ValueVisitor.visit_bool(v).map(SysctlEntry::short)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SysctlEntry, E> {
                ValueVisitor.visit_f64(v).map(SysctlEntry::short)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SysctlEntry, E> {
                ValueVisitor.visit_str(v).map(SysctlEntry::short)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<SysctlEntry, A::Error> {
                ValueVisitor.visit_seq(seq).map(SysctlEntry::short)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SysctlEntry, A::Error> {
                let mut value = None;
                let mut reason = None;
                let mut optional = false;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "value" => value = Some(map.next_value::<Value>()?.0),
                        "reason" => reason = Some(map.next_value::<String>()?),
                        "optional" => optional = map.next_value::<bool>()?,
                        other => return Err(de::Error::unknown_field(other, ENTRY_FIELDS)),
                    }
                }
                let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
                Ok(SysctlEntry {
                    value,
                    reason,
                    optional,
                    from: String::new(),
                })
            }
        }
        d.deserialize_any(EntryVisitor)
    }
}

impl SysctlEntry {
    fn short(value: Desired) -> Self {
        SysctlEntry {
            value,
            reason: None,
            optional: false,
            from: String::new(),
        }
    }
}

/// A limit: a number, "unlimited", or a bound such as ">=65536".
fn limit_want(text: &str) -> Result<Want, String> {
    match Desired::parse_field(text)? {
        Want::Exact(v) if v != "unlimited" && v.parse::<u64>().is_err() => Err(format!(
            "{v:?} is not a limit; use a number, \"unlimited\" or \">=N\""
        )),
        want => Ok(want),
    }
}

struct Limit(Want);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Field::deserialize(d).and_then(|Field(want)| {
            limit_want(&want.to_string())
                .map(Limit)
                .map_err(de::Error::custom)
        })
    }
}

const ULIMIT_FIELDS: &[&str] = &["soft", "hard", "value", "reason", "optional"];

impl<'de> Deserialize<'de> for UlimitEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct UlimitVisitor;
        impl UlimitVisitor {
            fn both(want: Want) -> UlimitEntry {
                UlimitEntry {
                    soft: want.clone(),
                    hard: want,
                    reason: None,
                    optional: false,
                    from: String::new(),
                }
            }
        }
        impl<'de> Visitor<'de> for UlimitVisitor {
            type Value = UlimitEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a limit, or a map with soft, hard and reason")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UlimitEntry, E> {
                Ok(Self::both(Want::Exact(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UlimitEntry, E> {
                Err(E::custom(format!(
                    "{v} is not a limit; limits are 0 or more"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UlimitEntry, E> {
                limit_want(v).map(Self::both).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UlimitEntry, A::Error> {
                let (mut soft, mut hard, mut reason, mut optional) = (None, None, None, false);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "soft" => soft = Some(map.next_value::<Limit>()?.0),
                        "hard" => hard = Some(map.next_value::<Limit>()?.0),
                        "value" => {
                            let both = map.next_value::<Limit>()?.0;
                            soft = Some(both.clone());
                            hard = Some(both);
                        }
                        "reason" => reason = Some(map.next_value::<String>()?),
                        "optional" => optional = map.next_value::<bool>()?,
                        other => return Err(de::Error::unknown_field(other, ULIMIT_FIELDS)),
                    }
                }
                let (soft, hard) = match (soft, hard) {
                    (Some(s), Some(h)) => (s, h),
                    (Some(one), None) | (None, Some(one)) => (one.clone(), one),
                    (None, None) => return Err(de::Error::missing_field("soft")),
                };
                Ok(UlimitEntry {
                    soft,
                    hard,
                    reason,
                    optional,
                    from: String::new(),
                })
            }
        }
        d.deserialize_any(UlimitVisitor)
    }
}
