//! The YAML profile format as written on disk. Every entry accepts a short form
//! (`net.core.somaxconn: 4096`) and a long form with its reason
//! (`{value: 4096, reason: "...", optional: false}`). Errors keep the line and column.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::host::rlimit::Resource;
use crate::host::sysctl::SysctlKey;
use crate::tune::cpu::IdleLimit;
use crate::tune::sysfs::SysfsKey;
use crate::tune::{Desired, Want};

use super::network::Network;
use super::when::Conditions;

/// One profile file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDoc {
    /// Defaults to the file name without `.yaml`.
    #[serde(default, deserialize_with = "name")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub description: String,
    /// Profiles to inherit, in order; later ones and this file win. A name (the profile
    /// directory, then the built-ins) or an explicit relative file `./x.yaml`.
    #[serde(default, deserialize_with = "includes")]
    pub include: Vec<String>,
    /// Conditions for every setting of this file (not of its includes).
    #[serde(default)]
    pub when: Conditions,
    #[serde(default)]
    pub sysctl: BTreeMap<SysctlKey, Item<SysctlEntry>>,
    /// Named sysfs attributes (transparent huge pages, NAPI per interface).
    #[serde(default)]
    pub sysfs: BTreeMap<SysfsKey, Item<SysctlEntry>>,
    /// CPU frequency and idle settings.
    #[serde(default)]
    pub cpu: Option<CpuSection>,
    #[serde(default, deserialize_with = "ulimits")]
    pub ulimits: BTreeMap<Resource, Item<UlimitEntry>>,
    #[serde(default)]
    pub network: Option<Network>,
}

/// The `cpu` section: governor, energy-performance preference and an idle-latency limit
/// for a set of CPUs (every online CPU by default). See [`crate::tune::cpu`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CpuSection {
    /// Conditions for every setting of the section.
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub when: Conditions,
    /// A CPU list such as `2-31,34-63`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "cpu_list"
    )]
    pub cpus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub governor: Option<Item<SysctlEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_performance_preference: Option<Item<SysctlEntry>>,
    /// Idle states whose exit latency is above this many microseconds are not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_idle_latency_us: Option<Item<SysctlEntry>>,
    /// How the latency limit is applied: auto (PM QoS where the kernel has it), pm-qos or
    /// disable-states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_limit: Option<IdleLimit>,
}

fn cpu_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(d)?;
    crate::tune::net::cpus::parse_list(&text)
        .map_err(|e| de::Error::custom(format!("cpus: {e}")))?;
    Ok(Some(text))
}

impl Serialize for Item<SysctlEntry> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Item::Set(e) => e.serialize(s),
            Item::Drop => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("drop", &true)?;
                m.end()
            }
        }
    }
}

/// An entry of a profile's `sysctl` or `ulimits` section: a setting, or `{drop: true}` to
/// remove the one an included profile set.
#[derive(Clone, Debug, PartialEq)]
pub enum Item<E> {
    Set(E),
    Drop,
}

/// The longest profile name.
pub const NAME_MAX: usize = 64;

/// Why `name` cannot be a profile name: 1 to 64 letters, digits, `.`, `_`, `-`, not
/// starting with `.` or `-` (it names files and appears in persisted headers).
pub fn bad_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= NAME_MAX
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    (!ok).then(|| {
        format!(
            "{name:?} is not a profile name: use 1 to {NAME_MAX} letters, digits, '.', '_' or '-', not starting with '.' or '-'"
        )
    })
}

/// Why a text field (description, reason) cannot be used: a control character (a newline
/// would start a new line in a persisted file). Surrounding whitespace, such as the final
/// newline of a folded block (`>`), is trimmed first.
fn bad_text(text: &str) -> Option<String> {
    let (at, c) = text.char_indices().find(|(_, c)| c.is_control())?;
    Some(format!(
        "a control character ({:?}) at character {} of the text; text fields are one line, without control characters",
        c,
        text[..at].chars().count() + 1
    ))
}

/// A one-line text field, checked where it stands (errors carry its line and column).
pub struct Text(pub String);

/// Checks a string scalar inside the deserializer, so its position is in the error.
struct CheckedStr(fn(&str) -> Result<String, String>, &'static str);

impl Visitor<'_> for CheckedStr {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.1)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        (self.0)(v).map_err(E::custom)
    }
}

fn check_text(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    match bad_text(trimmed) {
        Some(why) => Err(why),
        None => Ok(trimmed.to_string()),
    }
}

fn check_name(name: &str) -> Result<String, String> {
    match bad_name(name) {
        Some(why) => Err(why),
        None => Ok(name.to_string()),
    }
}

fn check_include(include: &str) -> Result<String, String> {
    match bad_include(include) {
        Some(why) => Err(why),
        None => Ok(include.to_string()),
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CheckedStr(check_text, "one line of text"))
            .map(Text)
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Text::deserialize(d).map(|t| t.0)
}

fn name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_str(CheckedStr(check_name, "a profile name"))
        .map(Some)
}

/// One include, checked where it stands.
struct Include(String);

impl<'de> Deserialize<'de> for Include {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CheckedStr(check_include, "a profile name or ./FILE.yaml"))
            .map(Include)
    }
}

/// Why an include cannot be used: a profile name, or `./PATH.yaml` with no `..`.
pub fn bad_include(include: &str) -> Option<String> {
    if let Some(rest) = include.strip_prefix("./") {
        let ok = !rest.is_empty()
            && (rest.ends_with(".yaml") || rest.ends_with(".yml"))
            && rest
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
            && !include.chars().any(char::is_control);
        return (!ok).then(|| {
            format!(
                "include {include:?}: a file include is ./NAME.yaml below the including file's directory, without '..'"
            )
        });
    }
    if include.contains('/') {
        return Some(format!(
            "include {include:?}: a file include is an explicit relative path ./NAME.yaml below the including file's directory, without '..'; absolute paths are not read"
        ));
    }
    bad_name(include).map(|why| format!("include {why}"))
}

fn includes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Vec::<Include>::deserialize(d).map(|list| list.into_iter().map(|i| i.0).collect())
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
    /// Conditions on the host for this setting (its own, its section's and its file's).
    #[serde(skip_serializing_if = "Conditions::is_empty")]
    pub when: Conditions,
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
    #[serde(skip_serializing_if = "Conditions::is_empty")]
    pub when: Conditions,
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

const ENTRY_FIELDS: &[&str] = &["value", "reason", "optional", "when"];
const ITEM_FIELDS: &[&str] = &["value", "reason", "optional", "when", "drop"];

/// Reads a sysctl (or network) entry; `drop` is accepted only where `allow_drop`.
struct EntryVisitor {
    allow_drop: bool,
}

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Item<SysctlEntry>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value, or a map with value, reason and optional")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        ValueVisitor.visit_i64(v).map(SysctlEntry::short)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        ValueVisitor.visit_u64(v).map(SysctlEntry::short)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        ValueVisitor.visit_bool(v).map(SysctlEntry::short)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        ValueVisitor.visit_f64(v).map(SysctlEntry::short)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        ValueVisitor.visit_str(v).map(SysctlEntry::short)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        ValueVisitor.visit_seq(seq).map(SysctlEntry::short)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let fields = if self.allow_drop {
            ITEM_FIELDS
        } else {
            ENTRY_FIELDS
        };
        let mut value = None;
        let mut reason = None;
        let mut optional = false;
        let mut when = Conditions::default();
        let mut drop = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "value" => value = Some(map.next_value::<Value>()?.0),
                "reason" => reason = Some(map.next_value::<Text>()?.0),
                "optional" => optional = map.next_value::<bool>()?,
                "when" => when = map.next_value::<Conditions>()?,
                "drop" if self.allow_drop => drop = Some(map.next_value::<bool>()?),
                other => return Err(de::Error::unknown_field(other, fields)),
            }
        }
        match (drop, value) {
            (Some(true), None) => Ok(Item::Drop),
            (Some(true), Some(_)) => Err(de::Error::custom(
                "drop: true removes an inherited key; it cannot also give a value",
            )),
            (Some(false), _) => Err(de::Error::custom(
                "drop: false means nothing; remove it, or write drop: true to remove the inherited key",
            )),
            (None, None) => Err(de::Error::missing_field("value")),
            (None, Some(value)) => Ok(Item::Set(SysctlEntry {
                value,
                reason,
                optional,
                when,
                from: String::new(),
            })),
        }
    }
}

impl<'de> Deserialize<'de> for SysctlEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(EntryVisitor { allow_drop: false })? {
            Item::Set(entry) => Ok(entry),
            Item::Drop => Err(de::Error::custom(
                "drop is only for sysctl and ulimits keys",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Item<SysctlEntry> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(EntryVisitor { allow_drop: true })
    }
}

impl SysctlEntry {
    fn short(value: Desired) -> Item<SysctlEntry> {
        Item::Set(SysctlEntry {
            value,
            reason: None,
            optional: false,
            when: Conditions::default(),
            from: String::new(),
        })
    }
}

/// The kernel's ceiling for fs.nr_open, and so for any nofile limit (include/linux/fs.h:
/// `sysctl_nr_open_max`, INT_MAX rounded down to a multiple of BITS_PER_LONG on 64-bit).
pub const NR_OPEN_MAX: u64 = 2_147_483_584;

/// The largest value a limit may be given, and whether it may be unlimited.
///
/// - nofile: at most [`NR_OPEN_MAX`] and never unlimited: the kernel has no unlimited
///   number of open files (RLIM_INFINITY is refused above fs.nr_open), and a persisted
///   `unlimited` (limits.conf) or `infinity` (systemd) makes PAM logins and services fail.
/// - nice: 0..=40 (the limit is 20 - nice value, setpriority(2)); rtprio: 0..=99
///   (sched_get_priority_max(SCHED_FIFO)).
/// - the rest: below 2^63, the range pam_limits and systemd parse (RLIM_INFINITY is
///   `unlimited`).
pub fn limit_range(resource: Resource) -> (u64, bool) {
    match resource {
        Resource::Nofile => (NR_OPEN_MAX, false),
        Resource::Nice => (40, true),
        Resource::Rtprio => (99, true),
        _ => (i64::MAX as u64, true),
    }
}

/// A limit as written: a number, "unlimited", or a bound such as ">=65536".
fn limit_want(text: &str) -> Result<Want, String> {
    match Desired::parse_field(text)? {
        Want::Exact(v) if v != "unlimited" && v.parse::<u64>().is_err() => Err(format!(
            "{v:?} is not a limit; use a number, \"unlimited\" or \">=N\""
        )),
        want => Ok(want),
    }
}

/// Checks one limit of `resource` against the kernel's range.
fn check_limit(resource: Resource, want: &Want) -> Result<(), String> {
    let (max, unlimited_ok) = limit_range(resource);
    let n = match want {
        Want::Exact(v) if v == "unlimited" || v == "infinity" => {
            return if unlimited_ok {
                Ok(())
            } else {
                Err("\"unlimited\" is not a limit the kernel has for open files (at most fs.nr_open, 1048576 by default), and a persisted unlimited/infinity makes logins and services fail; give a number such as 1048576".to_string())
            };
        }
        Want::Exact(v) => v
            .parse::<i128>()
            .map_err(|_| format!("{v:?} is not a number"))?,
        Want::AtLeast(n) | Want::AtMost(n) => *n,
    };
    if n < 0 || n > i128::from(max) {
        let cap = if resource == Resource::Nofile {
            " (the kernel's largest fs.nr_open)"
        } else {
            ""
        };
        return Err(format!(
            "{want} is outside the kernel's range for {resource}, 0..={max}{cap}"
        ));
    }
    Ok(())
}

/// Soft must not exceed hard: the kernel refuses it (EINVAL).
fn check_soft_hard(resource: Resource, soft: &Want, hard: &Want) -> Result<(), String> {
    let value = |w: &Want| match w {
        Want::Exact(v) => v.parse::<i128>().unwrap_or(i128::MAX),
        Want::AtLeast(n) | Want::AtMost(n) => *n,
    };
    // The least soft can become, and the most hard can become.
    let soft_min = match soft {
        Want::AtMost(_) => 0,
        w => value(w),
    };
    let hard_max = match hard {
        Want::AtLeast(_) => i128::MAX,
        w => value(w),
    };
    let bounds_cross = matches!((soft, hard), (Want::AtLeast(a), Want::AtLeast(b)) if a > b);
    if soft_min > hard_max || bounds_cross {
        return Err(format!(
            "the soft limit ({soft}) is above the hard limit ({hard}); the kernel refuses soft > hard for {resource}"
        ));
    }
    Ok(())
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

const ULIMIT_FIELDS: &[&str] = &[
    "soft", "hard", "value", "reason", "optional", "when", "drop",
];

/// Reads the entry of one resource, checking its range and soft <= hard where it stands.
struct UlimitSeed(Resource);

impl<'de> de::DeserializeSeed<'de> for UlimitSeed {
    type Value = Item<UlimitEntry>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl UlimitSeed {
    fn both<E: de::Error>(&self, want: Want) -> Result<Item<UlimitEntry>, E> {
        self.entry(want.clone(), want, None, false, Conditions::default())
    }

    fn entry<E: de::Error>(
        &self,
        soft: Want,
        hard: Want,
        reason: Option<String>,
        optional: bool,
        when: Conditions,
    ) -> Result<Item<UlimitEntry>, E> {
        for want in [&soft, &hard] {
            check_limit(self.0, want).map_err(E::custom)?;
        }
        check_soft_hard(self.0, &soft, &hard).map_err(E::custom)?;
        Ok(Item::Set(UlimitEntry {
            soft,
            hard,
            reason,
            optional,
            when,
            from: String::new(),
        }))
    }
}

impl<'de> Visitor<'de> for UlimitSeed {
    type Value = Item<UlimitEntry>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a limit, or a map with soft, hard and reason")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.both(Want::Exact(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "{v} is not a limit; limits are 0 or more"
        )))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "{v} is not a limit; limits are whole numbers within the kernel's range"
        )))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let want = limit_want(v).map_err(E::custom)?;
        self.both(want)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut soft, mut hard, mut reason, mut optional) = (None, None, None, false);
        let mut when = Conditions::default();
        let mut drop = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "soft" => soft = Some(map.next_value::<Limit>()?.0),
                "hard" => hard = Some(map.next_value::<Limit>()?.0),
                "value" => {
                    let both = map.next_value::<Limit>()?.0;
                    soft = Some(both.clone());
                    hard = Some(both);
                }
                "reason" => reason = Some(map.next_value::<Text>()?.0),
                "optional" => optional = map.next_value::<bool>()?,
                "when" => when = map.next_value::<Conditions>()?,
                "drop" => drop = Some(map.next_value::<bool>()?),
                other => return Err(de::Error::unknown_field(other, ULIMIT_FIELDS)),
            }
        }
        match drop {
            Some(true) if soft.is_none() && hard.is_none() => return Ok(Item::Drop),
            Some(true) => {
                return Err(de::Error::custom(
                    "drop: true removes an inherited limit; it cannot also give one",
                ));
            }
            Some(false) => {
                return Err(de::Error::custom(
                    "drop: false means nothing; remove it, or write drop: true to remove the inherited limit",
                ));
            }
            None => {}
        }
        let (soft, hard) = match (soft, hard) {
            (Some(s), Some(h)) => (s, h),
            (Some(one), None) | (None, Some(one)) => (one.clone(), one),
            (None, None) => return Err(de::Error::missing_field("soft")),
        };
        self.entry(soft, hard, reason, optional, when)
    }
}

/// The `ulimits` section: each entry is checked knowing its resource.
pub(super) fn ulimits<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<Resource, Item<UlimitEntry>>, D::Error> {
    struct SectionVisitor;
    impl<'de> Visitor<'de> for SectionVisitor {
        type Value = BTreeMap<Resource, Item<UlimitEntry>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of limits (nofile, nproc, memlock, ...)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(resource) = map.next_key::<Resource>()? {
                let item = map.next_value_seed(UlimitSeed(resource))?;
                if out.insert(resource, item).is_some() {
                    return Err(de::Error::custom(format!(
                        "ulimit {resource} is given twice"
                    )));
                }
            }
            Ok(out)
        }
    }
    d.deserialize_map(SectionVisitor)
}
