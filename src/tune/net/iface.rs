//! Which interfaces a profile means (name, glob, driver, default route), and what belongs to
//! an interface: its queues and its interrupts. Everything is read through the Host.

use std::fmt;

use crate::host::Host;

/// How a profile names interfaces: the key of an entry under `network.interfaces`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// Exactly this interface, virtual or not; it must exist.
    Name(String),
    /// Physical interfaces whose name matches (`*`, `?`, `[a-z]`).
    Glob(String),
    /// Physical interfaces bound to this driver (`driver:ixgbe`).
    Driver(String),
    /// The interface(s) carrying the default route.
    DefaultRoute,
}

impl Selector {
    pub fn parse(key: &str) -> Result<Self, String> {
        if key == "default-route" {
            return Ok(Selector::DefaultRoute);
        }
        if let Some(driver) = key.strip_prefix("driver:") {
            if driver.is_empty() || driver.contains('/') {
                return Err(format!(
                    "{key:?}: name a driver after \"driver:\", e.g. driver:ixgbe"
                ));
            }
            return Ok(Selector::Driver(driver.to_string()));
        }
        let valid = !key.is_empty()
            && key.len() <= 15
            && key != "."
            && key != ".."
            && !key.contains(['/', ':'])
            && !key.contains(char::is_whitespace);
        if !valid {
            return Err(format!(
                "{key:?} is not an interface selector: use a name (eth0), a glob (\"en*\"), driver:NAME or default-route"
            ));
        }
        if key.contains(['*', '?', '[']) {
            Ok(Selector::Glob(key.to_string()))
        } else {
            Ok(Selector::Name(key.to_string()))
        }
    }

    /// The interfaces this selector picks on `host`, with notes on what it skipped.
    pub fn resolve(&self, host: &Host) -> Result<(Vec<String>, Vec<String>), String> {
        let all = list(host)?;
        let mut notes = Vec::new();
        let picked: Vec<String> = match self {
            Selector::Name(name) => {
                if !all.contains(name) {
                    return Err(format!(
                        "no interface named {name} (this host has: {})",
                        all.join(", ")
                    ));
                }
                vec![name.clone()]
            }
            Selector::Glob(pattern) => {
                let matched: Vec<String> =
                    all.iter().filter(|i| glob(pattern, i)).cloned().collect();
                physical_only(host, matched, &mut notes)
            }
            Selector::Driver(driver) => all
                .iter()
                .filter(|i| driver_of(host, i).as_deref() == Some(driver.as_str()))
                .cloned()
                .collect(),
            Selector::DefaultRoute => physical_only(host, default_route(host)?, &mut notes),
        };
        if picked.is_empty() {
            notes.push(format!("{self} matches no physical interface on this host"));
        }
        Ok((picked, notes))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Name(n) | Selector::Glob(n) => f.write_str(n),
            Selector::Driver(d) => write!(f, "driver:{d}"),
            Selector::DefaultRoute => f.write_str("default-route"),
        }
    }
}

fn physical_only(host: &Host, ifaces: Vec<String>, notes: &mut Vec<String>) -> Vec<String> {
    let (physical, virt): (Vec<String>, Vec<String>) =
        ifaces.into_iter().partition(|i| is_physical(host, i));
    for v in virt {
        notes.push(format!(
            "{v} is a virtual device (no /sys/class/net/{v}/device); skipped, name it explicitly to tune it"
        ));
    }
    physical
}

/// Interface names on the host, sorted.
pub fn list(host: &Host) -> Result<Vec<String>, String> {
    host.list_dir("/sys/class/net")
        .map(|names| {
            names
                .into_iter()
                .filter(|n| n != "bonding_masters")
                .collect()
        })
        .map_err(|e| e.to_string())
}

pub fn exists(host: &Host, iface: &str) -> bool {
    host.exists(format!("/sys/class/net/{iface}"))
}

/// Backed by a device (PCI, virtio, ...) rather than purely virtual (veth, bridge, lo).
pub fn is_physical(host: &Host, iface: &str) -> bool {
    host.exists(format!("/sys/class/net/{iface}/device"))
}

pub fn driver_of(host: &Host, iface: &str) -> Option<String> {
    host.read_link(format!("/sys/class/net/{iface}/device/driver"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// Interfaces with a default route (destination and mask 0) in /proc/net/route.
pub fn default_route(host: &Host) -> Result<Vec<String>, String> {
    // No routing table (a capture without it): no default route, reported as no match.
    let Some(bytes) = host
        .read_optional("/proc/net/route")
        .map_err(|e| e.to_string())?
    else {
        return Ok(Vec::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 8
            && f[1] == "00000000"
            && f[7] == "00000000"
            && !out.iter().any(|i| i == f[0])
        {
            out.push(f[0].to_string());
        }
    }
    Ok(out)
}

/// Queue indexes of `iface` with prefix "rx" or "tx", ascending.
pub fn queues(host: &Host, iface: &str, prefix: &str) -> Vec<u32> {
    let mut q: Vec<u32> = host
        .list_dir(format!("/sys/class/net/{iface}/queues"))
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n.strip_prefix(prefix)?.strip_prefix('-')?.parse().ok())
        .collect();
    q.sort_unstable();
    q
}

/// The interrupts of `iface`'s queues: MSI vectors of its device (or the bus device above a
/// virtio device) and /proc/interrupts lines naming the interface or its device, minus
/// configuration/control vectors. Ascending.
pub fn queue_irqs(host: &Host, iface: &str) -> Vec<u32> {
    let mut irqs: Vec<u32> = Vec::new();
    for dir in [
        format!("/sys/class/net/{iface}/device/msi_irqs"),
        format!("/sys/class/net/{iface}/device/../msi_irqs"),
    ] {
        irqs.extend(
            host.list_dir(&dir)
                .unwrap_or_default()
                .iter()
                .filter_map(|n| n.parse::<u32>().ok()),
        );
    }
    let device = host
        .read_link(format!("/sys/class/net/{iface}/device"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let names = interrupt_names(host);
    let names_us = |name: &str| {
        let starts = |prefix: &str| {
            name.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '@', '_']))
        };
        starts(iface) || device.as_deref().is_some_and(starts)
    };
    for (irq, name) in &names {
        if name.split(',').map(str::trim).any(names_us) {
            irqs.push(*irq);
        }
    }
    irqs.sort_unstable();
    irqs.dedup();
    irqs.retain(|irq| {
        names
            .iter()
            .find(|(n, _)| n == irq)
            .is_none_or(|(_, name)| !is_control_vector(name))
    });
    irqs
}

fn is_control_vector(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with("-config") || n.ends_with("-async") || n.ends_with("-lsc") || n.ends_with("-mbx")
}

/// (irq number, action names) for numbered lines of /proc/interrupts.
pub fn interrupt_names(host: &Host) -> Vec<(u32, String)> {
    let Some(table) = host
        .read("/proc/interrupts")
        .ok()
        .and_then(|bytes| crate::parse::parse_interrupts(&bytes).ok())
    else {
        return Vec::new();
    };
    table
        .rows
        .iter()
        .filter_map(|row| {
            let irq = row.id.parse::<u32>().ok()?;
            // The description is the chip, the hwirq and type, then the action names.
            let names: Vec<&str> = row.desc.split_whitespace().skip(2).collect();
            Some((irq, names.join(" ")))
        })
        .collect()
}

/// Is an irqbalance daemon running? It rewrites IRQ affinity every few seconds.
pub fn irqbalance_running(host: &Host) -> bool {
    host.pids()
        .unwrap_or_default()
        .into_iter()
        .any(|pid| host.comm(pid).is_some_and(|c| c == "irqbalance"))
}

/// Shell-style matching of `*`, `?` and `[...]` (with ranges and `!` negation).
pub fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|c| *c == ']').map(|i| i + 2) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let (negate, set) = match p[1] {
                    '!' | '^' => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &n[1..])
            }
            Some(c) => n.first() == Some(c) && go(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_by_shape() {
        assert_eq!(
            Selector::parse("eth0").unwrap(),
            Selector::Name("eth0".into())
        );
        assert_eq!(
            Selector::parse("en*").unwrap(),
            Selector::Glob("en*".into())
        );
        assert_eq!(
            Selector::parse("driver:ixgbe").unwrap(),
            Selector::Driver("ixgbe".into())
        );
        assert_eq!(
            Selector::parse("default-route").unwrap(),
            Selector::DefaultRoute
        );
        for bad in [
            "",
            "../etc",
            "a/b",
            "driver:",
            "waytoolonginterfacename",
            "x y",
        ] {
            assert!(Selector::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn globs_match_like_the_shell() {
        assert!(glob("en*", "enp3s0"));
        assert!(glob("eth?", "eth1"));
        assert!(!glob("eth?", "eth10"));
        assert!(glob("eth[0-2]", "eth2"));
        assert!(!glob("eth[!0-2]", "eth2"));
        assert!(!glob("en*", "eth0"));
    }
}
