//! Pure parsers over the bytes of /proc and /sys files: no I/O, so they run the same on a live
//! host, a fixture tree and a capture. They are written for every kernel since 2.6.32, for
//! containers and for gVisor: a field the kernel does not print is `None` (or absent from a
//! map), never zero and never an error. A file that does not look like what any kernel writes
//! (a word where a number belongs, a header whose value line has another length) is a
//! [`ParseError`] naming the line. Arithmetic on parsed values saturates: no input panics.

mod cgroup;
mod cpu;
mod disk;
mod kmsg;
mod mem;
mod net;
mod process;

use std::collections::BTreeMap;

pub use cgroup::{CgroupMount, CpuMax, parse_cgroup_mounts, parse_cpu_max, parse_signed};
pub use cpu::{
    CpuTimes, Interrupts, IrqRow, Pressure, ProcStat, PsiLine, Softirqs, SoftnetRow,
    parse_interrupts, parse_pressure, parse_softirqs, parse_softnet, parse_stat,
};
pub use disk::{Disk, is_partition_name, is_virtual_disk, parse_diskstats};
pub use kmsg::{LogLine, OomKill, parse_kernel_log, parse_oom_kill};
pub use mem::{BuddyZone, Meminfo, parse_buddyinfo, parse_meminfo, parse_vmstat};
pub use net::{
    Sockstat, Table, parse_conntrack_stat, parse_netstat, parse_port_range, parse_reserved_ports,
    parse_snmp6, parse_sockstat, parse_triple,
};
pub use process::{FileNr, ProcStatus, parse_file_nr, parse_status};

/// A file that does not look like what the kernel writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {msg}")]
pub struct ParseError {
    pub line: usize,
    pub msg: String,
}

impl ParseError {
    pub fn new(line: usize, msg: impl Into<String>) -> Self {
        ParseError {
            line,
            msg: msg.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, ParseError>;

/// Key/value lines (`name value`), as in /proc/vmstat.
pub type Counters = BTreeMap<String, u64>;

fn text(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| ParseError::new(0, format!("not UTF-8: {e}")))
}

/// A field shown in an error, cut to a readable length.
fn shown(field: &str) -> String {
    let cut: String = field.chars().take(40).collect();
    if cut.len() < field.len() {
        format!("{cut:?}...")
    } else {
        format!("{cut:?}")
    }
}

fn number(line: usize, field: &str) -> Result<u64> {
    field
        .parse::<u64>()
        .map_err(|_| ParseError::new(line, format!("expected a number, got {}", shown(field))))
}

/// `name value` lines (/proc/vmstat, /proc/net/snmp6, cgroup cpu.stat); lines without a value
/// are passed over, a value that is not a number is an error.
pub fn parse_key_values(bytes: &[u8]) -> Result<Counters> {
    let mut out = Counters::new();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let mut f = line.split_whitespace();
        let (Some(k), Some(v)) = (f.next(), f.next()) else {
            continue;
        };
        out.insert(k.to_string(), number(i + 1, v)?);
    }
    Ok(out)
}

/// A single number, as in most /proc/sys files.
pub fn parse_single(bytes: &[u8]) -> Result<u64> {
    let s = text(bytes)?.trim();
    number(1, s)
}

/// The most CPU ids a list may name (NR_CPUS is at most 8192 today): a list such as
/// `0-4294967295` is an error, not four billion entries.
pub const MAX_CPUS: u32 = 1 << 16;

/// A kernel CPU list such as /sys/devices/system/cpu/online: `0-3,5,7-8` (empty: none).
pub fn parse_cpu_list(bytes: &[u8]) -> Result<Vec<u32>> {
    let s = text(bytes)?.trim();
    let mut out = Vec::new();
    if s.is_empty() {
        return Ok(out);
    }
    for part in s.split(',') {
        let part = part.trim();
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo = number(1, lo.trim())?;
        let hi = number(1, hi.trim())?;
        if lo > hi || hi >= u64::from(MAX_CPUS) {
            return Err(ParseError::new(
                1,
                format!("invalid CPU range {}", shown(part)),
            ));
        }
        // Both ends are below MAX_CPUS, so they fit in u32.
        out.extend(lo as u32..=hi as u32);
        if out.len() > MAX_CPUS as usize {
            return Err(ParseError::new(1, "more CPUs than any kernel supports"));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_numbers() {
        assert_eq!(parse_single(b"4096\n").unwrap(), 4096);
        assert!(parse_single(b"x\n").is_err());
        assert!(parse_single(b"").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list(b"0-3,5\n").unwrap(), vec![0, 1, 2, 3, 5]);
        assert_eq!(parse_cpu_list(b"0\n").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list(b"\n").unwrap(), Vec::<u32>::new());
        assert!(parse_cpu_list(b"3-1\n").is_err());
        assert!(parse_cpu_list(b"0-4294967295\n").is_err());
        assert!(parse_cpu_list(b"a\n").is_err());
    }
}
