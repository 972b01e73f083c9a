//! CPU sets as the kernel writes them: lists ("0-3,8") and hex masks ("ff,00000000"), and
//! the CPUs an interface should use (NUMA-local when the NIC names a node).

use std::collections::BTreeSet;

use crate::host::Host;

pub type CpuSet = BTreeSet<u32>;

/// Parses a CPU list such as "0-3,8,10-11" (empty or whitespace: no CPU).
pub fn parse_list(text: &str) -> Result<CpuSet, String> {
    let mut set = CpuSet::new();
    for part in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let bad = || format!("{text:?} is not a CPU list (like \"0-3,8\")");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || b - a > 65536 {
                    return Err(bad());
                }
                set.extend(a..=b);
            }
            None => {
                set.insert(part.parse().map_err(|_| bad())?);
            }
        }
    }
    Ok(set)
}

/// The canonical list form: ascending ranges, "0-3,8".
pub fn format_list(set: &CpuSet) -> String {
    let mut parts = Vec::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end = iter.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// Parses a hex mask, with or without the kernel's comma-separated 32-bit groups.
pub fn parse_mask(text: &str) -> Result<CpuSet, String> {
    let digits: String = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ',')
        .collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "{text:?} is not a hex CPU mask (like \"f\" or \"ff,00000000\")"
        ));
    }
    let mut set = CpuSet::new();
    for (i, c) in digits.chars().rev().enumerate() {
        let nibble = c.to_digit(16).unwrap_or(0);
        for bit in 0..4 {
            if nibble & (1 << bit) != 0 {
                set.insert((i * 4 + bit) as u32);
            }
        }
    }
    Ok(set)
}

/// The mask in hex without leading zeros or commas ("0" for none); the kernel accepts it.
pub fn format_mask(set: &CpuSet) -> String {
    let Some(&max) = set.iter().next_back() else {
        return "0".to_string();
    };
    let nibbles = (max / 4 + 1) as usize;
    let mut out = String::with_capacity(nibbles);
    for i in (0..nibbles).rev() {
        let mut n = 0u32;
        for bit in 0..4 {
            if set.contains(&((i * 4 + bit) as u32)) {
                n |= 1 << bit;
            }
        }
        out.push(char::from_digit(n, 16).unwrap_or('0'));
    }
    out
}

/// A mask as compared: commas and leading zeros stripped, lower case.
pub fn normalize_mask(text: &str) -> String {
    let digits: String = text
        .trim()
        .chars()
        .filter(|c| *c != ',')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let stripped = digits.trim_start_matches('0');
    if stripped.is_empty() {
        "0".to_string()
    } else {
        stripped.to_string()
    }
}

/// The CPUs that are online.
pub fn online(host: &Host) -> Result<CpuSet, String> {
    let text = host
        .read_string("/sys/devices/system/cpu/online")
        .map_err(|e| e.to_string())?;
    parse_list(&text)
}

/// The NUMA node a NIC reports (its device, or the parent bus device for virtio), if any.
pub fn nic_node(host: &Host, iface: &str) -> Option<u32> {
    for path in [
        format!("/sys/class/net/{iface}/device/numa_node"),
        format!("/sys/class/net/{iface}/device/../numa_node"),
    ] {
        if let Ok(Some(bytes)) = host.read_optional(&path) {
            let text = String::from_utf8_lossy(&bytes);
            // -1: no node (single-node machine or firmware did not say).
            return text
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(|n| n as u32);
        }
    }
    None
}

/// The online CPUs to spread `iface`'s work over: those of its NUMA node when it reports
/// one with online CPUs, else every online CPU. Also says which it chose.
pub fn local_cpus(host: &Host, iface: &str) -> Result<(CpuSet, String), String> {
    let online = online(host)?;
    if let Some(node) = nic_node(host, iface) {
        let path = format!("/sys/devices/system/node/node{node}/cpulist");
        if let Ok(text) = host.read_string(&path) {
            let local: CpuSet = parse_list(&text)?.intersection(&online).copied().collect();
            if !local.is_empty() {
                return Ok((local, format!("NUMA node {node}")));
            }
        }
    }
    if online.is_empty() {
        return Err("no CPU is online (/sys/devices/system/cpu/online is empty)".into());
    }
    Ok((online, "all online CPUs".into()))
}

/// Splits `cpus` over `n` queues: queue i gets every CPU whose position is i modulo n (each
/// queue at least one CPU, wrapping when there are more queues than CPUs).
pub fn spread(cpus: &CpuSet, n: usize) -> Vec<CpuSet> {
    let list: Vec<u32> = cpus.iter().copied().collect();
    (0..n)
        .map(|i| {
            if list.is_empty() {
                return CpuSet::new();
            }
            if n >= list.len() {
                return [list[i % list.len()]].into_iter().collect();
            }
            list.iter()
                .enumerate()
                .filter(|(k, _)| k % n == i)
                .map(|(_, c)| *c)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_canonically() {
        let set = parse_list("8,0-3, 10-11\n").unwrap();
        assert_eq!(format_list(&set), "0-3,8,10-11");
        assert!(parse_list("3-1").is_err());
        assert!(parse_list("a").is_err());
        assert!(parse_list("").unwrap().is_empty());
    }

    #[test]
    fn masks_parse_with_kernel_grouping() {
        let set = parse_mask("00000001,00000003").unwrap();
        assert_eq!(format_list(&set), "0-1,32");
        assert_eq!(format_mask(&set), "100000003");
        assert_eq!(format_mask(&CpuSet::new()), "0");
        assert!(parse_mask("xyz").is_err());
    }

    #[test]
    fn masks_normalize_without_commas_and_zeros() {
        assert_eq!(normalize_mask("00000000,0000000F\n"), "f");
        assert_eq!(normalize_mask("00000000"), "0");
    }

    #[test]
    fn spread_gives_every_queue_a_cpu() {
        let cpus = parse_list("0-3").unwrap();
        let s = spread(&cpus, 2);
        assert_eq!(format_list(&s[0]), "0,2");
        assert_eq!(format_list(&s[1]), "1,3");
        let s = spread(&parse_list("4-5").unwrap(), 3);
        assert_eq!(
            s.iter().map(format_list).collect::<Vec<_>>(),
            ["4", "5", "4"]
        );
    }
}
