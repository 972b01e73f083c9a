//! /proc/diskstats.

use super::{ParseError, Result, number, text};

/// The fields of a /proc/diskstats line that diagnose uses (see Documentation/admin-guide/iostats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub major: u64,
    pub minor: u64,
    pub name: String,
    pub reads: u64,
    pub writes: u64,
    /// Field 10: milliseconds spent doing I/O (busy time, the basis of %util).
    pub io_ticks_ms: u64,
    /// Field 11: weighted milliseconds doing I/O (the basis of the average queue size).
    pub weighted_ms: u64,
}

impl Disk {
    /// Virtual devices whose utilisation says nothing about a disk.
    pub fn is_virtual(&self) -> bool {
        ["loop", "ram", "zram", "dm-", "md", "nbd", "sr"]
            .iter()
            .any(|p| self.name.starts_with(p))
    }
}

pub fn parse_diskstats(bytes: &[u8]) -> Result<Vec<Disk>> {
    let mut out = Vec::new();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() < 14 {
            return Err(ParseError::new(
                n,
                format!("{} fields, expected at least 14", f.len()),
            ));
        }
        out.push(Disk {
            major: number(n, f[0])?,
            minor: number(n, f[1])?,
            name: f[2].to_string(),
            reads: number(n, f[3])?,
            writes: number(n, f[7])?,
            io_ticks_ms: number(n, f[12])?,
            weighted_ms: number(n, f[13])?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diskstats() {
        let d = parse_diskstats(
            b" 254 0 vda 57313 7869 3737410 34405 7155 20267 2178920 5382 0 8696 40214 5130 37 232888 369 663 57\n   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n",
        )
        .unwrap();
        assert_eq!(d[0].name, "vda");
        assert_eq!(d[0].io_ticks_ms, 8696);
        assert_eq!(d[0].weighted_ms, 40214);
        assert!(d[1].is_virtual());
        assert!(parse_diskstats(b"1 2 vda 1 2\n").is_err());
    }
}
