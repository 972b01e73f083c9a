//! /proc/meminfo, /proc/buddyinfo, /proc/vmstat.

use std::collections::BTreeMap;

use super::{Counters, ParseError, Result, number, shown, text};

/// /proc/meminfo as bytes by field name (`kB` values times 1024, saturating); fields printed
/// without a unit (`HugePages_Total`) keep their count. Which fields exist depends on the
/// kernel: MemAvailable since 3.14, none of Slab/SReclaimable on gVisor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meminfo(pub BTreeMap<String, u64>);

impl Meminfo {
    pub fn get(&self, field: &str) -> Option<u64> {
        self.0.get(field).copied()
    }
}

pub fn parse_meminfo(bytes: &[u8]) -> Result<Meminfo> {
    let mut out = BTreeMap::new();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "expected `Name: value`"))?;
        let mut f = value.split_whitespace();
        let v = number(n, f.next().unwrap_or(""))?;
        let v = match f.next() {
            Some("kB") => v.saturating_mul(1024),
            Some(unit) => {
                return Err(ParseError::new(n, format!("unknown unit {}", shown(unit))));
            }
            None => v,
        };
        out.insert(key.trim().to_string(), v);
    }
    if out.is_empty() {
        return Err(ParseError::new(0, "empty file"));
    }
    Ok(Meminfo(out))
}

/// One /proc/buddyinfo line: free blocks per order (0 = one page, 1 = two pages, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuddyZone {
    pub node: u32,
    pub zone: String,
    pub free: Vec<u64>,
}

impl BuddyZone {
    /// Free pages in blocks of at least `order` (saturating: no input overflows).
    pub fn free_pages_at_or_above(&self, order: usize) -> u64 {
        self.free
            .iter()
            .enumerate()
            .skip(order)
            .map(|(o, &n)| {
                let pages = u32::try_from(o)
                    .ok()
                    .and_then(|o| 1u64.checked_shl(o))
                    .unwrap_or(u64::MAX);
                n.saturating_mul(pages)
            })
            .fold(0u64, u64::saturating_add)
    }

    pub fn free_pages(&self) -> u64 {
        self.free_pages_at_or_above(0)
    }
}

pub fn parse_buddyinfo(bytes: &[u8]) -> Result<Vec<BuddyZone>> {
    let mut out = Vec::new();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        // "Node 0, zone   Normal   8800 4951 ..."
        let (node_part, rest) = line
            .split_once(',')
            .ok_or_else(|| ParseError::new(n, "expected `Node N, zone NAME counts`"))?;
        let node = node_part
            .trim()
            .strip_prefix("Node")
            .ok_or_else(|| ParseError::new(n, "expected `Node N`"))?;
        let node = u32::try_from(number(n, node.trim())?)
            .map_err(|_| ParseError::new(n, "node number out of range"))?;
        let mut f = rest.split_whitespace();
        if f.next() != Some("zone") {
            return Err(ParseError::new(n, "expected `zone NAME`"));
        }
        let zone = f
            .next()
            .ok_or_else(|| ParseError::new(n, "no zone name"))?
            .to_string();
        let free = f.map(|v| number(n, v)).collect::<Result<Vec<u64>>>()?;
        if free.is_empty() {
            return Err(ParseError::new(n, "no free-block counts"));
        }
        out.push(BuddyZone { node, zone, free });
    }
    if out.is_empty() {
        return Err(ParseError::new(0, "empty file"));
    }
    Ok(out)
}

/// /proc/vmstat: `name value` lines.
pub fn parse_vmstat(bytes: &[u8]) -> Result<Counters> {
    let out = super::parse_key_values(bytes)?;
    if out.is_empty() {
        return Err(ParseError::new(0, "empty file"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_of_every_kernel() {
        let m =
            parse_meminfo(b"MemTotal:  1000 kB\nMemFree:  10 kB\nHugePages_Total:   4\n").unwrap();
        assert_eq!(m.get("MemTotal"), Some(1024 * 1000));
        assert_eq!(m.get("HugePages_Total"), Some(4));
        assert_eq!(m.get("MemAvailable"), None);
        // gVisor prints no Slab and a SwapCache line; nothing is demanded.
        let g =
            parse_meminfo(b"MemTotal: 8 kB\nMemFree: 4 kB\nMemAvailable: 4 kB\nSwapCache: 0 kB\n")
                .unwrap();
        assert_eq!(g.get("Slab"), None);
        let big = format!("MemTotal: {} kB\n", u64::MAX);
        assert_eq!(
            parse_meminfo(big.as_bytes()).unwrap().get("MemTotal"),
            Some(u64::MAX)
        );
        assert!(parse_meminfo(b"MemTotal: x kB\n").is_err());
        assert!(parse_meminfo(b"MemTotal: 1 MB\n").is_err());
        assert!(parse_meminfo(b"").is_err());
    }

    #[test]
    fn buddyinfo() {
        let z = parse_buddyinfo(
            b"Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 \nNode 0, zone   Normal   8800   4951    527   1503    896    336     60     31     14      3     26 \n",
        )
        .unwrap();
        assert_eq!(z[1].zone, "Normal");
        assert_eq!(z[1].free[0], 8800);
        assert_eq!(z[0].free_pages_at_or_above(10), 3 << 10);
        assert!(parse_buddyinfo(b"Node 0 zone DMA 1\n").is_err());
        assert!(parse_buddyinfo(b"").is_err());
    }

    #[test]
    fn buddyinfo_with_seventy_orders_saturates() {
        let counts = vec!["1"; 70].join(" ");
        let z = parse_buddyinfo(format!("Node 0, zone Normal {counts}\n").as_bytes()).unwrap();
        assert_eq!(z[0].free_pages(), u64::MAX);
        let max = format!("Node 0, zone Normal {} {}\n", u64::MAX, u64::MAX);
        assert_eq!(
            parse_buddyinfo(max.as_bytes()).unwrap()[0].free_pages(),
            u64::MAX
        );
    }

    #[test]
    fn vmstat() {
        let v = parse_vmstat(b"oom_kill 3\npswpout 0\n").unwrap();
        assert_eq!(v["oom_kill"], 3);
        assert!(parse_vmstat(b"oom_kill x\n").is_err());
    }
}
