//! Proof that bench left the host alone: the host's own value of every sysctl the profile
//! names, every key a testbed starts from, and the keys bench itself writes inside its
//! namespaces, read before and after the run from the host's namespace.

use std::collections::{BTreeMap, BTreeSet};

use super::scenario::Scenario;
use super::settings::SettingRow;
use crate::host::Host;
use crate::host::sysctl::SysctlKey;

/// The keys to watch.
pub fn keys(
    settings: &[SettingRow],
    scenarios: &[Scenario],
    sysctls: &[(String, String)],
) -> Vec<String> {
    let mut keys: BTreeSet<String> = settings
        .iter()
        .map(|r| r.key.clone())
        .filter(|k| {
            SysctlKey::parse(k).is_ok() && !k.starts_with("network.") && !k.starts_with("ulimits.")
        })
        .collect();
    for s in scenarios {
        keys.extend(s.start.iter().map(|st| st.key.clone()));
        keys.extend(s.keys.iter().map(|k| k.to_string()));
    }
    keys.extend(sysctls.iter().map(|(k, _)| k.clone()));
    keys.insert("net.ipv4.ip_forward".into());
    keys.into_iter().collect()
}

/// The host's values (this thread must be in the host's namespace: bench's main thread never
/// enters another). Absent keys read as None.
pub fn capture(keys: &[String]) -> BTreeMap<String, Option<String>> {
    let host = Host::live();
    keys.iter()
        .map(|k| {
            let value = SysctlKey::parse(k)
                .ok()
                .and_then(|key| host.sysctl_read(&key).ok());
            (k.clone(), value)
        })
        .collect()
}

/// Every key whose value differs, as "key: before -> after".
pub fn compare(
    before: &BTreeMap<String, Option<String>>,
    after: &BTreeMap<String, Option<String>>,
) -> Vec<String> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
    before
        .iter()
        .filter_map(|(k, b)| {
            let a = after.get(k).cloned().flatten();
            (b != &a).then(|| format!("{k}: {} -> {}", show(b), show(&a)))
        })
        .collect()
}
