//! A resolved profile as text: YAML that is itself a loadable profile (`profiles show`),
//! and key by key (`profiles diff`).
//!
//! Both walk the profile as it serializes, so a section or field added to the profile
//! format shows up here without a change. An entry is a map with `value` (or `soft` and
//! `hard`, for ulimits); `from` (the profile an entry came from) becomes a comment in YAML.
//!
//! YAML 1.1 readers (PyYAML, Ansible, older libyaml bindings) read `off`, `on`, `yes`, `no`,
//! `y`, `n`, `null` and `~` as booleans or null, and `0700` as octal: every string that is
//! not plainly a word starting with a letter is quoted, so every reader gets the same text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use yaml_serde::{Mapping, Value};

use crate::profile::Profile;

use super::doc::{KeyDifference, ProfilesDiffDoc, SCHEMA_VERSION};

/// Top-level fields that are not sections of settings.
const META: &[&str] = &["name", "description", "source", "resolved_from"];

/// One setting of a resolved profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileKey {
    /// The profile's section: `sysctl`, `ulimits`, `network`, ...
    pub section: String,
    /// The key within the section; nested keys joined with `.`, e.g.
    /// `interfaces.default-route.coalesce.rx-usecs`.
    pub key: String,
    /// The value as the profile writes it; for a ulimit, `SOFT HARD`.
    pub value: String,
    pub reason: Option<String>,
    pub optional: bool,
    /// The profile (of its includes) that set it.
    pub from: Option<String>,
    /// Any other field of the entry, as written.
    pub other: BTreeMap<String, serde_json::Value>,
}

fn to_value(profile: &Profile) -> anyhow::Result<Mapping> {
    match yaml_serde::to_value(profile)? {
        Value::Mapping(m) => Ok(m),
        _ => anyhow::bail!("a profile serializes as a map"),
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Sequence(items) => Some(items.iter().filter_map(text).collect::<Vec<_>>().join(" ")),
        _ => None,
    }
}

fn is_entry(m: &Mapping) -> bool {
    m.contains_key("value") || (m.contains_key("soft") && m.contains_key("hard"))
}

/// The resolved profile, one row per setting, in the profile's order.
pub fn keys(profile: &Profile) -> anyhow::Result<Vec<ProfileKey>> {
    let mut out = Vec::new();
    for (section, node) in to_value(profile)? {
        let Some(section) = section.as_str() else {
            continue;
        };
        if META.contains(&section) {
            continue;
        }
        if let Value::Mapping(m) = node {
            walk(section, &mut Vec::new(), &m, &mut out);
        }
    }
    Ok(out)
}

fn walk(section: &str, path: &mut Vec<String>, m: &Mapping, out: &mut Vec<ProfileKey>) {
    if is_entry(m) {
        let value = match m.get("value") {
            Some(v) => text(v).unwrap_or_default(),
            None => [m.get("soft"), m.get("hard")]
                .into_iter()
                .flatten()
                .filter_map(text)
                .collect::<Vec<_>>()
                .join(" "),
        };
        let get = |k: &str| m.get(k).and_then(text);
        let other = m
            .iter()
            .filter_map(|(k, v)| {
                let k = k.as_str()?;
                let known = ["value", "soft", "hard", "reason", "optional", "from"];
                (!known.contains(&k))
                    .then(|| Some((k.to_string(), serde_json::to_value(v).ok()?)))
                    .flatten()
            })
            .collect();
        out.push(ProfileKey {
            section: section.to_string(),
            key: path.join("."),
            value,
            reason: get("reason"),
            optional: m.get("optional").and_then(Value::as_bool).unwrap_or(false),
            from: get("from"),
            other,
        });
        return;
    }
    for (k, v) in m {
        let Some(k) = text(k) else { continue };
        path.push(k);
        match v {
            Value::Mapping(inner) => walk(section, path, inner, out),
            scalar => out.push(ProfileKey {
                section: section.to_string(),
                key: path.join("."),
                value: text(scalar).unwrap_or_default(),
                reason: None,
                optional: false,
                from: None,
                other: BTreeMap::new(),
            }),
        }
        path.pop();
    }
}

/// Every key either profile sets whose value differs, in `a`'s order then `b`'s.
pub fn diff(a: &Profile, b: &Profile) -> anyhow::Result<ProfilesDiffDoc> {
    let (ka, kb) = (keys(a)?, keys(b)?);
    let index = |list: &[ProfileKey]| -> BTreeMap<(String, String), String> {
        list.iter()
            .map(|k| ((k.section.clone(), k.key.clone()), k.value.clone()))
            .collect()
    };
    let (ia, ib) = (index(&ka), index(&kb));
    let mut differences = Vec::new();
    let mut same = 0;
    for k in ka.iter().chain(
        kb.iter()
            .filter(|k| !ia.contains_key(&(k.section.clone(), k.key.clone()))),
    ) {
        let id = (k.section.clone(), k.key.clone());
        let (va, vb) = (ia.get(&id).cloned(), ib.get(&id).cloned());
        if va == vb {
            same += 1;
        } else {
            differences.push(KeyDifference {
                section: k.section.clone(),
                key: k.key.clone(),
                a: va,
                b: vb,
            });
        }
    }
    // Grouped by section, in the order sections first appear; keys in profile order.
    let sections: Vec<String> =
        ka.iter()
            .chain(&kb)
            .map(|k| k.section.clone())
            .fold(Vec::new(), |mut seen, s| {
                if !seen.contains(&s) {
                    seen.push(s);
                }
                seen
            });
    differences.sort_by_key(|d| sections.iter().position(|s| *s == d.section));
    Ok(ProfilesDiffDoc {
        schema_version: SCHEMA_VERSION,
        a: a.name.clone(),
        b: b.name.clone(),
        same,
        differences,
    })
}

/// The resolved profile as a profile file: loadable by `plan --file`, with where it came
/// from and where each entry came from as comments.
pub fn yaml(profile: &Profile) -> anyhow::Result<String> {
    let m = to_value(profile)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Profile {} ({}), includes resolved: {}.",
        profile.name,
        profile.source,
        profile.resolved_from.join(", ")
    );
    out.push_str("# A profile itself: `hostperf plan --file THIS.yaml` reads it.\n");
    for key in ["name", "description"] {
        if let Some(v) = m.get(key).and_then(text) {
            let _ = writeln!(out, "{key}: {}", scalar(&v, false));
        }
    }
    for (k, v) in &m {
        let Some(k) = k.as_str() else { continue };
        if META.contains(&k) {
            continue;
        }
        node(&mut out, 0, k, v);
    }
    Ok(out)
}

/// One `key: value` at `indent`, recursing into maps.
fn node(out: &mut String, indent: usize, key: &str, v: &Value) {
    let pad = " ".repeat(indent);
    let key_text = scalar(key, false);
    match v {
        Value::Mapping(m) if m.is_empty() => {
            let _ = writeln!(out, "{pad}{key_text}: {{}}");
        }
        Value::Mapping(m) => {
            let from = m
                .get("from")
                .filter(|_| is_entry(m))
                .and_then(Value::as_str);
            match from {
                Some(from) => {
                    let _ = writeln!(out, "{pad}{key_text}:  # from {from}");
                }
                None => {
                    let _ = writeln!(out, "{pad}{key_text}:");
                }
            }
            let entry = is_entry(m);
            for (k, inner) in m {
                let Some(k) = text(k) else { continue };
                if entry && k == "from" {
                    continue;
                }
                node(out, indent + 2, &k, inner);
            }
        }
        Value::Sequence(items) => {
            let flat: Vec<String> = items
                .iter()
                .filter_map(|i| text(i).map(|t| value_scalar(&t, true, i)))
                .collect();
            let _ = writeln!(out, "{pad}{key_text}: [{}]", flat.join(", "));
        }
        Value::Null => {
            let _ = writeln!(out, "{pad}{key_text}: null");
        }
        other => {
            let t = text(other).unwrap_or_default();
            let numeric_key = matches!(key, "value" | "soft" | "hard");
            let shown = if numeric_key {
                value_scalar(&t, false, other)
            } else {
                match other {
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => scalar(&t, false),
                }
            };
            let _ = writeln!(out, "{pad}{key_text}: {shown}");
        }
    }
}

/// A setting's value: a decimal integer plain (profiles read `4096` and `'4096'` alike),
/// anything else as [`scalar`].
fn value_scalar(t: &str, flow: bool, v: &Value) -> String {
    let decimal =
        !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) && (t == "0" || !t.starts_with('0'));
    match v {
        Value::Bool(b) => b.to_string(),
        _ if decimal => t.to_string(),
        _ => scalar(t, flow),
    }
}

/// A string scalar: plain when every YAML reader (1.1 and 1.2) takes it as that string,
/// else single-quoted (double-quoted when it has a control character).
pub fn scalar(s: &str, flow: bool) -> String {
    if plain_ok(s, flow) {
        return s.to_string();
    }
    if s.chars().any(char::is_control) {
        return serde_json::to_string(s).unwrap_or_default();
    }
    format!("'{}'", s.replace('\'', "''"))
}

fn plain_ok(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    // A letter, `_` or `/` first: never a number, bool, null, alias, tag or indicator.
    let starts_well = first.is_alphabetic() || first == '_' || first == '/';
    let lower = s.to_ascii_lowercase();
    let yaml11_word = matches!(
        lower.as_str(),
        "y" | "yes" | "n" | "no" | "true" | "false" | "on" | "off" | "null"
    );
    starts_well
        && !yaml11_word
        && s == s.trim()
        && !s.chars().any(char::is_control)
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !(flow && s.contains([',', '[', ']', '{', '}']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_yaml_1_1_misreads_are_quoted() {
        for word in ["off", "On", "YES", "no", "y", "N", "null", "true"] {
            assert!(scalar(word, false).starts_with('\''), "{word}");
        }
        assert_eq!(scalar("bbr", false), "bbr");
        assert_eq!(scalar(">=4096", false), "'>=4096'");
        assert_eq!(scalar("0700", false), "'0700'");
        assert_eq!(scalar("it's: here", false), "'it''s: here'");
        assert_eq!(scalar("a, b", true), "'a, b'");
        assert_eq!(scalar("a\nb", false), "\"a\\nb\"");
        assert_eq!(value_scalar("4096", false, &Value::Null), "4096");
        assert_eq!(value_scalar("0700", false, &Value::Null), "'0700'");
    }
}
