//! /proc/buddyinfo, /proc/vmstat, and the kernel log's OOM-kill lines.

use super::{Counters, ParseError, Result, number, text};

/// One /proc/buddyinfo line: free blocks per order (0 = one page, 1 = two pages, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuddyZone {
    pub node: u32,
    pub zone: String,
    pub free: Vec<u64>,
}

impl BuddyZone {
    /// Free pages in blocks of at least `order`.
    pub fn free_pages_at_or_above(&self, order: usize) -> u64 {
        self.free
            .iter()
            .enumerate()
            .skip(order)
            .map(|(o, &n)| n << o)
            .sum()
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
        let node = number(n, node.trim())? as u32;
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
    let mut out = Counters::new();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let (k, v) = line
            .split_once(' ')
            .ok_or_else(|| ParseError::new(n, "expected `name value`"))?;
        out.insert(k.to_string(), number(n, v.trim())?);
    }
    if out.is_empty() {
        return Err(ParseError::new(0, "empty file"));
    }
    Ok(out)
}

/// A "Killed process PID (COMM)" line from the kernel log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OomKill {
    pub pid: u32,
    pub comm: String,
    /// Microseconds since boot, from /dev/kmsg's record prefix, when present.
    pub usec: Option<u64>,
    pub line: String,
}

/// Finds OOM kills in kernel log text: /dev/kmsg records (`6,1234,5678901,-;Out of memory: ...`)
/// or dmesg-style lines. Lines without "Killed process" are ignored.
pub fn parse_kmsg_oom(bytes: &[u8]) -> Vec<OomKill> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(at) = line.find("Killed process ") else {
            continue;
        };
        let (prefix, message) = match line.split_once(';') {
            Some((p, m)) if p.split(',').count() >= 3 => (Some(p), m),
            _ => (None, line),
        };
        let usec = prefix.and_then(|p| p.split(',').nth(2)?.parse().ok());
        let rest = &line[at + "Killed process ".len()..];
        let Some((pid, rest)) = rest.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let comm = rest
            .strip_prefix('(')
            .and_then(|r| r.split_once(')'))
            .map(|(c, _)| c.to_string())
            .unwrap_or_default();
        out.push(OomKill {
            pid,
            comm,
            usec,
            line: message.trim().to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn vmstat() {
        let v = parse_vmstat(b"oom_kill 3\npswpout 0\n").unwrap();
        assert_eq!(v["oom_kill"], 3);
        assert!(parse_vmstat(b"oom_kill x\n").is_err());
    }

    #[test]
    fn kmsg() {
        let k = parse_kmsg_oom(
            b"6,1,2,-;hello\n3,1234,5678901,-;Out of memory: Killed process 5678 (nginx) total-vm:1000kB, anon-rss:10kB\n[  12.3] Killed process 42 (my app) total-vm:1kB\nKilled process x\n",
        );
        assert_eq!(k.len(), 2);
        assert_eq!(k[0].pid, 5678);
        assert_eq!(k[0].comm, "nginx");
        assert_eq!(k[0].usec, Some(5678901));
        assert_eq!(k[1].comm, "my app");
        assert_eq!(k[1].usec, None);
    }
}
