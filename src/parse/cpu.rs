//! /proc/softirqs, /proc/interrupts, /proc/net/softnet_stat.

use std::collections::BTreeMap;

use super::{ParseError, Result, number, text};

/// /proc/softirqs: a `CPU0 CPU1 ...` header, then `NAME: n n ...` per softirq.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Softirqs {
    pub cpus: Vec<String>,
    pub rows: BTreeMap<String, Vec<u64>>,
}

pub fn parse_softirqs(bytes: &[u8]) -> Result<Softirqs> {
    let mut lines = text(bytes)?.lines();
    let header = lines
        .next()
        .ok_or_else(|| ParseError::new(0, "empty file"))?;
    let cpus: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    if cpus.is_empty() || !cpus.iter().all(|c| c.starts_with("CPU")) {
        return Err(ParseError::new(1, "expected a `CPU0 CPU1 ...` header"));
    }
    let mut rows = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        if line.trim().is_empty() {
            continue;
        }
        let (name, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "expected `NAME: counts`"))?;
        let counts = rest
            .split_whitespace()
            .map(|f| number(n, f))
            .collect::<Result<Vec<u64>>>()?;
        if counts.len() != cpus.len() {
            return Err(ParseError::new(
                n,
                format!("{} counts for {} CPUs", counts.len(), cpus.len()),
            ));
        }
        rows.insert(name.trim().to_string(), counts);
    }
    Ok(Softirqs { cpus, rows })
}

/// One /proc/interrupts row: `ID: per-CPU counts, then chip, hwirq and action names`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrqRow {
    pub id: String,
    pub counts: Vec<u64>,
    pub desc: String,
}

impl IrqRow {
    /// True for a numbered IRQ (not NMI, LOC, ...).
    pub fn is_device(&self) -> bool {
        self.id.bytes().all(|b| b.is_ascii_digit())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interrupts {
    pub cpus: usize,
    pub rows: Vec<IrqRow>,
}

pub fn parse_interrupts(bytes: &[u8]) -> Result<Interrupts> {
    let mut lines = text(bytes)?.lines();
    let header = lines
        .next()
        .ok_or_else(|| ParseError::new(0, "empty file"))?;
    let cpus = header.split_whitespace().count();
    if cpus == 0 || !header.trim_start().starts_with("CPU") {
        return Err(ParseError::new(1, "expected a `CPU0 CPU1 ...` header"));
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        if line.trim().is_empty() {
            continue;
        }
        let (id, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "expected `ID: counts`"))?;
        let mut counts = Vec::with_capacity(cpus);
        let mut fields = rest.split_whitespace().peekable();
        while counts.len() < cpus {
            match fields.peek().and_then(|f| f.parse::<u64>().ok()) {
                Some(v) => {
                    counts.push(v);
                    fields.next();
                }
                None => break,
            }
        }
        let desc = fields.collect::<Vec<_>>().join(" ");
        rows.push(IrqRow {
            id: id.trim().to_string(),
            counts,
            desc,
        });
    }
    Ok(Interrupts { cpus, rows })
}

/// One row of /proc/net/softnet_stat (one per online CPU; hex fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftnetRow {
    /// The CPU this row belongs to: the 13th field on kernels >= 5.14, else the row index.
    pub cpu: u32,
    pub processed: u64,
    /// Packets dropped because the backlog was longer than netdev_max_backlog.
    pub dropped: u64,
    /// Times net_rx_action stopped with work left (netdev_budget or its time ran out).
    pub time_squeeze: u64,
    pub received_rps: Option<u64>,
    pub flow_limit: Option<u64>,
    pub backlog_len: Option<u64>,
}

pub fn parse_softnet(bytes: &[u8]) -> Result<Vec<SoftnetRow>> {
    let mut out = Vec::new();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f = line
            .split_whitespace()
            .map(|h| {
                u64::from_str_radix(h, 16)
                    .map_err(|_| ParseError::new(n, format!("expected hex, got {h:?}")))
            })
            .collect::<Result<Vec<u64>>>()?;
        if f.len() < 3 {
            return Err(ParseError::new(
                n,
                format!("{} fields, expected at least 3", f.len()),
            ));
        }
        out.push(SoftnetRow {
            cpu: f.get(12).map(|&c| c as u32).unwrap_or(out.len() as u32),
            processed: f[0],
            dropped: f[1],
            time_squeeze: f[2],
            received_rps: f.get(9).copied(),
            flow_limit: f.get(10).copied(),
            backlog_len: f.get(11).copied(),
        });
    }
    if out.is_empty() {
        return Err(ParseError::new(0, "empty file"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softirqs() {
        let s = parse_softirqs(b"          CPU0  CPU1\n  NET_RX: 10 20\n  TIMER: 1 2\n").unwrap();
        assert_eq!(s.cpus.len(), 2);
        assert_eq!(s.rows["NET_RX"], vec![10, 20]);
        assert!(parse_softirqs(b"CPU0 CPU1\nNET_RX: 1\n").is_err());
        assert!(parse_softirqs(b"garbage\n").is_err());
        assert!(parse_softirqs(b"").is_err());
    }

    #[test]
    fn interrupts() {
        let i = parse_interrupts(
            b"   CPU0 CPU1\n 38: 0 2495 PCI-MSIX-0000:00:03.0 1-edge virtio2-input.0\nERR: 0\nLOC: 1 2 Local timer interrupts\n",
        )
        .unwrap();
        assert_eq!(i.rows[0].counts, vec![0, 2495]);
        assert!(i.rows[0].desc.ends_with("virtio2-input.0"));
        assert!(i.rows[0].is_device());
        assert_eq!(i.rows[1].counts, vec![0]);
        assert!(!i.rows[2].is_device());
    }

    #[test]
    fn softnet() {
        let rows = parse_softnet(
            b"00000011 00000002 00000003 0 0 0 0 0 0 00000000 00000000 00000000 00000001\n",
        )
        .unwrap();
        assert_eq!(rows[0].dropped, 2);
        assert_eq!(rows[0].time_squeeze, 3);
        assert_eq!(rows[0].cpu, 1);
        let old = parse_softnet(b"1 2 3 0 0 0 0 0 0 0\n1 2 3 0 0 0 0 0 0 0\n").unwrap();
        assert_eq!(old[1].cpu, 1);
        assert_eq!(old[1].flow_limit, None);
        assert!(parse_softnet(b"zz 1 2\n").is_err());
        assert!(parse_softnet(b"").is_err());
    }
}
