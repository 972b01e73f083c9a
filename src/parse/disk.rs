//! /proc/diskstats.

use super::{Result, number, text};

/// The fields of a /proc/diskstats line that diagnose uses (Documentation/admin-guide/
/// iostats.rst). Kernels print 14 fields (2.6), 18 (4.18, discards) or 20 (5.5, flushes);
/// partition lines of 2.6.25 and older have 7 and are skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub major: u64,
    pub minor: u64,
    pub name: String,
    /// Reads completed, and milliseconds spent on them.
    pub reads: u64,
    pub read_ms: u64,
    /// Writes completed, and milliseconds spent on them.
    pub writes: u64,
    pub write_ms: u64,
    /// Field 10: milliseconds spent doing I/O (busy time, the basis of %util).
    pub io_ticks_ms: u64,
    /// Field 11: weighted milliseconds doing I/O (the basis of the average queue size).
    pub weighted_ms: u64,
}

impl Disk {
    /// See [`is_virtual_disk`].
    pub fn is_virtual(&self) -> bool {
        is_virtual_disk(&self.name)
    }
}

/// Devices whose counters say nothing about a disk of their own: loop, RAM disks, network
/// block devices, optical and floppy drives, and stacked devices (device-mapper, md RAID),
/// whose I/O is also counted on the disks below them.
pub fn is_virtual_disk(name: &str) -> bool {
    ["loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd"]
        .iter()
        .any(|p| name.starts_with(p))
}

pub fn parse_diskstats(bytes: &[u8]) -> Result<Vec<Disk>> {
    let mut out = Vec::new();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 14 {
            continue;
        }
        out.push(Disk {
            major: number(n, f[0])?,
            minor: number(n, f[1])?,
            name: f[2].to_string(),
            reads: number(n, f[3])?,
            read_ms: number(n, f[6])?,
            writes: number(n, f[7])?,
            write_ms: number(n, f[10])?,
            io_ticks_ms: number(n, f[12])?,
            weighted_ms: number(n, f[13])?,
        });
    }
    Ok(out)
}

/// True when `name` is a partition of another device in `names` (`sda1` of `sda`, `nvme0n1p2`
/// of `nvme0n1`, `mmcblk0p1` of `mmcblk0`). Used when /sys/block is not in the tree.
pub fn is_partition_name(name: &str, names: &[&str]) -> bool {
    names.iter().any(|disk| {
        *disk != name
            && name.strip_prefix(disk).is_some_and(|rest| {
                let digits = rest
                    .strip_prefix('p')
                    .filter(|_| disk.ends_with(|c: char| c.is_ascii_digit()));
                let digits = digits.unwrap_or(rest);
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diskstats() {
        let d = parse_diskstats(
            b" 254 0 vda 57313 7869 3737410 34405 7155 20267 2178920 5382 0 8696 40214 5130 37 232888 369 663 57\n   7 0 loop0 0 0 0 0 0 0 0 0 0 0 0\n   8 1 sda1 10 20 30 40\n",
        )
        .unwrap();
        let names: Vec<&str> = d.iter().map(|x| x.name.as_str()).collect();
        // The 7-field partition line of old kernels is skipped.
        assert_eq!(names, ["vda", "loop0"]);
        assert_eq!(d[0].name, "vda");
        assert_eq!(d[0].read_ms, 34405);
        assert_eq!(d[0].write_ms, 5382);
        assert_eq!(d[0].io_ticks_ms, 8696);
        assert_eq!(d[0].weighted_ms, 40214);
        assert!(parse_diskstats(b"1 2 vda 1 2 3 4 5 6 7 8 9 10 x\n").is_err());
    }

    #[test]
    fn partitions() {
        let names = [
            "sda",
            "sda1",
            "nvme0n1",
            "nvme0n1p2",
            "mmcblk0",
            "mmcblk0p1",
            "vdb",
        ];
        assert!(is_partition_name("sda1", &names));
        assert!(is_partition_name("nvme0n1p2", &names));
        assert!(is_partition_name("mmcblk0p1", &names));
        assert!(!is_partition_name("sda", &names));
        assert!(!is_partition_name("nvme0n1", &names));
        assert!(!is_partition_name("vdb", &names));
    }
}
