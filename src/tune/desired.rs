//! What a profile wants a value to be: exact fields, or bounds such as ">=4096" that only
//! ever raise a value.

use std::fmt;

use serde::Serialize;

/// One whitespace-separated field of a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Want {
    Exact(String),
    AtLeast(i128),
    AtMost(i128),
}

/// The wanted value, field by field (most values have one field; tcp_rmem has three).
/// Serialized as the profile writes it, one string: `">=4096"`, `"4096 87380 6291456"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub fields: Vec<Want>,
}

impl Serialize for Desired {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for Desired {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Desired".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "The value as a profile writes it: fields separated by spaces, each a word or number to set exactly, or a bound `>=N` (raise to at least N) or `<=N` (lower to at most N). Examples: \"bbr\", \">=4096\", \"4096 87380 6291456\"."
        })
    }
}

impl Desired {
    pub fn exact(value: impl Into<String>) -> Self {
        let value: String = value.into();
        Desired {
            fields: value
                .split_whitespace()
                .map(|f| Want::Exact(f.to_string()))
                .collect(),
        }
    }

    /// Parses one field as written in a profile: `4096`, `bbr`, `>=4096`, `<=10`.
    pub fn parse_field(text: &str) -> Result<Want, String> {
        let text = text.trim();
        for (prefix, make) in [
            (">=", Want::AtLeast as fn(i128) -> Want),
            ("<=", Want::AtMost as fn(i128) -> Want),
        ] {
            if let Some(bound) = text.strip_prefix(prefix) {
                let n = bound.trim().parse::<i128>().map_err(|_| {
                    format!("{text:?}: the bound after {prefix} must be an integer")
                })?;
                return Ok(make(n));
            }
        }
        if text.is_empty() || text.contains(char::is_whitespace) {
            return Err(format!("{text:?}: a field must be one word"));
        }
        if text.contains(char::is_control) {
            return Err(format!("{text:?}: a field has a control character"));
        }
        if text.len() > 256 {
            return Err(format!(
                "a field of {} bytes; kernel values are short words or numbers",
                text.len()
            ));
        }
        Ok(Want::Exact(text.to_string()))
    }

    /// Does `current` (normalised) satisfy every field?
    pub fn is_met_by(&self, current: &str) -> bool {
        let fields: Vec<&str> = current.split_whitespace().collect();
        fields.len() == self.fields.len()
            && self
                .fields
                .iter()
                .zip(fields)
                .all(|(want, have)| match want {
                    Want::Exact(v) => v == have,
                    Want::AtLeast(n) => number(have).is_some_and(|h| h >= *n),
                    Want::AtMost(n) => number(have).is_some_and(|h| h <= *n),
                })
    }

    /// The value to write given the current one: bounds keep a current value that already
    /// meets them. A list of words (tcp_allowed_congestion_control, core_pattern) may have
    /// another number of fields than the kernel's value has now, when every field is exact
    /// and none of the kernel's is a number. Fails when the field counts of numbers differ
    /// or a bound meets a non-number.
    pub fn target(&self, current: &str) -> Result<String, String> {
        let fields: Vec<&str> = current.split_whitespace().collect();
        let words = !fields.is_empty()
            && fields.iter().all(|f| number(f).is_none())
            && self.fields.iter().all(|w| matches!(w, Want::Exact(_)));
        if words && fields.len() != self.fields.len() {
            return Ok(self.to_string());
        }
        if fields.len() != self.fields.len() {
            return Err(format!(
                "the kernel's value {current:?} has {} field(s), the profile gives {}",
                fields.len(),
                self.fields.len()
            ));
        }
        let mut out = Vec::with_capacity(fields.len());
        for (want, have) in self.fields.iter().zip(fields) {
            let numeric = number(have);
            let value = match want {
                Want::Exact(v) => {
                    if numeric.is_some() && number(v).is_none() {
                        return Err(format!(
                            "{v:?} is not a number, but the kernel's value {have:?} is one: give a number"
                        ));
                    }
                    v.clone()
                }
                Want::AtLeast(n) | Want::AtMost(n) => {
                    let current = numeric.ok_or_else(|| {
                        format!("a bound needs a number, the kernel's value is {have:?}")
                    })?;
                    let keep = match want {
                        Want::AtLeast(_) => current >= *n,
                        _ => current <= *n,
                    };
                    if keep {
                        have.to_string()
                    } else {
                        n.to_string()
                    }
                }
            };
            out.push(value);
        }
        Ok(out.join(" "))
    }
}

/// A field as a number; "unlimited" (rlimits) is larger than any number.
fn number(field: &str) -> Option<i128> {
    match field {
        "unlimited" | "infinity" => Some(i128::MAX),
        _ => field.parse().ok(),
    }
}

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Want::Exact(v) => f.write_str(v),
            Want::AtLeast(n) => write!(f, ">={n}"),
            Want::AtMost(n) => write!(f, "<={n}"),
        }
    }
}

impl fmt::Display for Desired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.fields.iter().map(Want::to_string).collect();
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired(fields: &[&str]) -> Desired {
        Desired {
            fields: fields
                .iter()
                .map(|f| Desired::parse_field(f).unwrap())
                .collect(),
        }
    }

    #[test]
    fn a_lower_bound_only_raises() {
        let d = desired(&[">=4096"]);
        assert_eq!(d.target("128").unwrap(), "4096");
        assert_eq!(d.target("65535").unwrap(), "65535");
        assert!(d.is_met_by("65535"));
        assert!(!d.is_met_by("128"));
    }

    #[test]
    fn multi_field_values_compare_field_by_field() {
        let d = desired(&["4096", "87380", ">=16777216"]);
        assert!(d.is_met_by("4096 87380 33554432"));
        assert!(!d.is_met_by("4096 131072 33554432"));
        assert_eq!(
            d.target("4096 131072 6291456").unwrap(),
            "4096 87380 16777216"
        );
    }

    /// A list of words is one value: another number of words is fine.
    #[test]
    fn a_list_of_words_may_change_length() {
        let d = desired(&["reno", "cubic", "bbr"]);
        assert_eq!(d.target("reno cubic").unwrap(), "reno cubic bbr");
        assert!(!d.is_met_by("reno cubic"));
        assert!(d.is_met_by("reno cubic bbr"));
        assert_eq!(
            desired(&["|/usr/lib/systemd/systemd-coredump", "%P"])
                .target("core")
                .unwrap(),
            "|/usr/lib/systemd/systemd-coredump %P"
        );
        // Numbers keep their field count; a bound is never a word list.
        assert!(desired(&["bbr", ">=1"]).target("reno").is_err());
    }

    #[test]
    fn field_count_and_type_mismatches_are_errors() {
        assert!(
            desired(&["4096", "87380"])
                .target("4096 131072 6291456")
                .is_err()
        );
        assert!(desired(&["lots"]).target("4096").is_err());
        assert!(desired(&[">=1"]).target("bbr").is_err());
        assert!(Desired::parse_field(">=many").is_err());
        assert!(Desired::parse_field("two words").is_err());
    }

    #[test]
    fn unlimited_meets_any_lower_bound_and_is_kept() {
        let d = desired(&[">=1048576", ">=1048576"]);
        assert!(d.is_met_by("1048576 unlimited"));
        assert_eq!(d.target("1024 unlimited").unwrap(), "1048576 unlimited");
    }

    #[test]
    fn exact_strings_are_fine_for_string_values() {
        assert_eq!(Desired::exact("bbr").target("cubic").unwrap(), "bbr");
    }
}
