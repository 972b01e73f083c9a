//! The parts of a sample that are found by walking the tree rather than named in advance:
//! network interfaces, cgroups with a CPU limit, whole disks, and the clock state.
//! Every file read is recorded in the sample under its path, so a capture replays the walk.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sample::{Data, NIC_STATS_FILE, Sample};
use super::source::Reader;

pub const NET_CLASS: &str = "/sys/class/net";
pub const SYS_BLOCK: &str = "/sys/block";
pub const MOUNTINFO: &str = "/proc/self/mountinfo";

/// The receive counters of /sys/class/net/IF/statistics that nic-drops reads.
pub const NIC_COUNTERS: &[&str] = &[
    "rx_packets",
    "rx_dropped",
    "rx_missed_errors",
    "rx_fifo_errors",
    "rx_over_errors",
];

/// A driver counter of packets lost on receive (`rx_queue_3_drops`, `rx_out_of_buffer`,
/// `rx_no_buffer_count`, ...). XDP drops are a program's decision, not a loss.
pub fn is_drop_counter(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    !n.contains("xdp")
        && (n.starts_with("rx") || n.contains("queue") || n.starts_with("port.rx"))
        && [
            "drop",
            "discard",
            "miss",
            "no_buf",
            "nobuf",
            "out_of_buffer",
            "fifo",
        ]
        .iter()
        .any(|k| n.contains(k))
}

fn record(r: &Reader, sample: &mut Sample, path: String) {
    let data = r.read(&path);
    sample.files.insert(path, data);
}

/// Interfaces other than lo: their receive counters, their directory (a `device` entry marks
/// hardware), their receive queues, and driver drop counters of hardware NICs (live only).
pub fn collect_nics(r: &Reader, driver_stats: bool, sample: &mut Sample) {
    let ifaces = r.files.list(NET_CLASS);
    let names: Vec<String> = ifaces.clone().unwrap_or_default();
    sample.dirs.insert(NET_CLASS.to_string(), ifaces);
    let mut stats = BTreeMap::new();
    for iface in names.iter().filter(|i| *i != "lo") {
        let dir = format!("{NET_CLASS}/{iface}");
        let entries = r.files.list(&dir);
        let hardware = entries
            .as_ref()
            .is_ok_and(|e| e.iter().any(|n| n == "device"));
        sample.dirs.insert(dir.clone(), entries);
        let queues = format!("{dir}/queues");
        sample.dirs.insert(queues.clone(), r.files.list(&queues));
        for c in NIC_COUNTERS {
            record(r, sample, format!("{dir}/statistics/{c}"));
        }
        if driver_stats && hardware {
            let got = match r.files.live() {
                Some(host) => crate::host::ethtool_stats::read(host, iface)
                    .map(|all| {
                        all.into_iter()
                            .filter(|(n, _)| is_drop_counter(n))
                            .collect()
                    })
                    .map_err(|e| e.to_string()),
                None => continue,
            };
            stats.insert(iface.clone(), got);
        }
    }
    if driver_stats {
        sample.nic_stats = Some(if r.files.live().is_some() {
            stats
        } else {
            r.bytes(NIC_STATS_FILE)
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default()
        });
    }
}

/// The most cgroups walked, and how deep: a host with more is reported on the first ones.
pub const MAX_CGROUPS: usize = 10_000;
const MAX_DEPTH: usize = 32;

/// The roots of the cpu-controller hierarchies: from /proc/self/mountinfo, else the usual
/// mount points.
fn cgroup_roots(r: &Reader, sample: &mut Sample) -> Vec<(String, u8)> {
    record(r, sample, MOUNTINFO.to_string());
    if let Some(b) = sample.bytes(MOUNTINFO) {
        let mounts = crate::parse::parse_cgroup_mounts(b);
        if !mounts.is_empty() {
            return mounts.into_iter().map(|m| (m.path, m.version)).collect();
        }
    }
    let mut roots = Vec::new();
    for v1 in ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"] {
        if r.files.read(&format!("{v1}/cpu.stat")).is_ok() {
            roots.push((v1.to_string(), 1));
            break;
        }
    }
    for v2 in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if r.files.read(&format!("{v2}/cgroup.controllers")).is_ok() {
            roots.push((v2.to_string(), 2));
        }
    }
    roots
}

/// A cgroup's cpu.stat says it was throttled more than in the previous sample (or at all,
/// with no previous sample).
fn throttled_since(sample_stat: Option<&[u8]>, prev: Option<&Sample>, path: &str) -> bool {
    let now = sample_stat
        .and_then(|b| crate::parse::parse_key_values(b).ok())
        .and_then(|m| m.get("nr_throttled").copied())
        .unwrap_or(0);
    let before = prev
        .and_then(|p| p.bytes(path))
        .and_then(|b| crate::parse::parse_key_values(b).ok())
        .and_then(|m| m.get("nr_throttled").copied());
    match before {
        Some(b) => now > b,
        None => now > 0,
    }
}

/// Every cgroup's cpu.stat; for those with a CPU limit (nr_periods > 0) also the limit, and for
/// those throttled since the previous sample the processes in them (to name the service).
pub fn collect_cgroups(r: &Reader, prev: Option<&Sample>, sample: &mut Sample) {
    let mut seen = 0usize;
    for (root, version) in cgroup_roots(r, sample) {
        let mut stack = vec![(root.clone(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            if seen >= MAX_CGROUPS {
                return;
            }
            seen += 1;
            let stat = format!("{dir}/cpu.stat");
            let data = r.read(&stat);
            let limited = match &data {
                Data::Bytes(b) => crate::parse::parse_key_values(b)
                    .ok()
                    .and_then(|m| m.get("nr_periods").copied())
                    .is_some_and(|n| n > 0),
                _ => false,
            };
            let throttled = limited && throttled_since(sample_bytes(&data), prev, &stat);
            sample.files.insert(stat, data);
            if limited {
                if version == 2 {
                    record(r, sample, format!("{dir}/cpu.max"));
                } else {
                    record(r, sample, format!("{dir}/cpu.cfs_quota_us"));
                    record(r, sample, format!("{dir}/cpu.cfs_period_us"));
                }
            }
            if throttled {
                let procs = format!("{dir}/cgroup.procs");
                record(r, sample, procs.clone());
                let pids: Vec<String> = sample
                    .bytes(&procs)
                    .map(|b| {
                        String::from_utf8_lossy(b)
                            .split_whitespace()
                            .take(3)
                            .filter(|p| p.bytes().all(|c| c.is_ascii_digit()))
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                for pid in pids {
                    record(r, sample, format!("/proc/{pid}/comm"));
                }
            }
            if depth < MAX_DEPTH
                && let Ok(children) = r.files.subdirs(&dir)
            {
                for c in children.into_iter().rev() {
                    stack.push((format!("{dir}/{c}"), depth + 1));
                }
            }
        }
    }
}

fn sample_bytes(d: &Data) -> Option<&[u8]> {
    match d {
        Data::Bytes(b) => Some(b),
        _ => None,
    }
}

/// The whole disks (/sys/block) and, for each real one in diskstats, whether it spins.
pub fn collect_disks(r: &Reader, sample: &mut Sample) {
    let disks = r.files.list(SYS_BLOCK);
    if let Ok(names) = &disks {
        for name in names {
            if !crate::parse::is_virtual_disk(name) {
                record(r, sample, format!("{SYS_BLOCK}/{name}/queue/rotational"));
            }
        }
    }
    sample.dirs.insert(SYS_BLOCK.to_string(), disks);
}

/// The kernel clock's NTP state from adjtimex(2) (read only: no mode bits set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockState {
    /// TIME_OK (0) .. TIME_ERROR (5, not synchronized).
    pub state: i32,
    /// The status bits (STA_UNSYNC = 0x40).
    pub status: i64,
    /// Maximum and estimated error in microseconds.
    pub maxerror_us: i64,
    pub esterror_us: i64,
}

pub const STA_UNSYNC: i64 = 0x40;
pub const TIME_ERROR: i32 = 5;

pub fn clock_state() -> Result<ClockState, String> {
    // SAFETY: an all-zero timex (modes 0) asks clock_adjtime only to read the state.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `tx` is a valid, writable timex.
    let state = unsafe { libc::clock_adjtime(libc::CLOCK_REALTIME, &mut tx) };
    if state < 0 {
        return Err(format!("adjtimex: {}", std::io::Error::last_os_error()));
    }
    Ok(ClockState {
        state,
        status: i64::from(tx.status),
        maxerror_us: tx.maxerror as i64,
        esterror_us: tx.esterror as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_counters_by_name() {
        for yes in [
            "rx_queue_0_drops",
            "rx_out_of_buffer",
            "rx_no_buffer_count",
            "rx_missed_errors",
            "rx_fifo_errors",
            "port.rx_discards",
            "queue_3_rx_drops",
        ] {
            assert!(is_drop_counter(yes), "{yes}");
        }
        for no in [
            "rx_queue_0_xdp_drops",
            "tx_queue_0_packets",
            "rx_bytes",
            "tx_dropped",
        ] {
            assert!(!is_drop_counter(no), "{no}");
        }
    }

    #[test]
    fn the_clock_state_is_readable_without_privilege() {
        let s = clock_state().unwrap();
        assert!((0..=5).contains(&s.state), "{s:?}");
    }
}
