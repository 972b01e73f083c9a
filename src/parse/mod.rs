//! Pure parsers over the bytes of /proc files: no I/O, so they run the same on a live host, a
//! fixture tree and a capture. procfs-core covers meminfo, pressure, snmp and stat (see
//! `diagnose::sample`); these cover what it does not. A field the kernel does not print is
//! `None`, never zero.

mod cpu;
mod disk;
mod mem;
mod net;
mod process;

use std::collections::BTreeMap;

pub use cpu::{
    Interrupts, IrqRow, Softirqs, SoftnetRow, parse_interrupts, parse_softirqs, parse_softnet,
};
pub use disk::{Disk, parse_diskstats};
pub use mem::{BuddyZone, OomKill, parse_buddyinfo, parse_kmsg_oom, parse_vmstat};
pub use net::{Sockstat, parse_netstat, parse_port_range, parse_sockstat};
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

fn number(line: usize, field: &str) -> Result<u64> {
    field
        .parse::<u64>()
        .map_err(|_| ParseError::new(line, format!("expected a number, got {field:?}")))
}

/// A single number, as in most /proc/sys files.
pub fn parse_single(bytes: &[u8]) -> Result<u64> {
    let s = text(bytes)?.trim();
    number(1, s)
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
}
