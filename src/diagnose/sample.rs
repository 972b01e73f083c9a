//! A sample: the raw bytes of every file diagnose reads, the TCP socket list, the processes,
//! the kernel log lines of the window, the clock state and NIC driver counters, with a
//! monotonic timestamp. Checks are pure functions of one or two samples, so a live host, a
//! `--root` tree and a capture all give findings through the same code.
//!
//! What is not a file (the inet_diag socket dump, /dev/kmsg, adjtimex, the ethtool ioctl) is
//! asked for on a live host only; any other tree holds it in `/.hostperf/*.json`, which is
//! what `snapshot` writes beside the captured files.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::capture::Writer;
use super::kernel_log::KernelLog;
use super::procs::{self, Procs};
use super::source::{Files, Reader};
use super::system::{self, ClockState};
use crate::host::netlink::inet_diag::{self, TcpSocket};

/// Where the capture-only data lives inside a sample tree.
pub const SOCKETS_FILE: &str = "/.hostperf/sockets.json";
pub const PROCS_FILE: &str = "/.hostperf/procs.json";
pub const KERNEL_LOG_FILE: &str = "/.hostperf/kernel-log.json";
pub const CLOCK_FILE: &str = "/.hostperf/clock.json";
pub const NIC_STATS_FILE: &str = "/.hostperf/nic-driver-stats.json";
pub const ERRORS_FILE: &str = "/.hostperf/errors.json";
/// Directory listings (path -> names), which a tree of files alone cannot keep (empty
/// directories, entries that were listed but not read).
pub const DIRS_FILE: &str = "/.hostperf/dirs.json";
pub const SAMPLE_FILE: &str = "/.hostperf/sample.json";

/// What one read gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Bytes(Vec<u8>),
    /// The file does not exist (older kernel, container, no /proc/pressure ...).
    Missing,
    /// It exists but could not be read (permission, I/O).
    Error(String),
}

/// What the selected checks need; the sampler reads only that.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    pub files: BTreeSet<&'static str>,
    pub dirs: BTreeSet<&'static str>,
    /// inet_diag state mask; 0 = no dump.
    pub socket_states: u32,
    /// States that must be dumped even when `lazy_port_states` allows skipping.
    pub socket_states_always: u32,
    /// Skip dumping these states when /proc/net/sockstat proves that fewer TCP sockets exist
    /// than this share of the ephemeral port range: then no destination can reach it, and the
    /// per-destination breakdown (the costly part of a dump with many TIME_WAIT sockets)
    /// cannot change a finding. Live hosts only; a snapshot always dumps everything.
    pub lazy_port_states: Option<(u32, f64)>,
    /// The process list (pid, name, owner).
    pub procs: bool,
    /// Open fd counts and the nofile soft limit of each (focused) process.
    pub proc_fds: bool,
    /// VmData and VmRSS of focused processes.
    pub proc_memory: bool,
    /// Which processes hold the CLOSE_WAIT sockets (resolved only when there are some).
    pub socket_owners: bool,
    pub kernel_log: bool,
    /// /sys/class/net statistics and receive queues.
    pub nics: bool,
    /// Per-queue driver counters (`ethtool -S`) of hardware NICs.
    pub nic_driver_stats: bool,
    /// cgroup cpu.stat of every cgroup with a CPU limit.
    pub cgroups: bool,
    /// Whole disks (/sys/block) and whether they are rotational.
    pub disks: bool,
    /// The kernel clock's synchronisation state (adjtimex).
    pub clock: bool,
}

impl Needs {
    pub fn merge(&mut self, other: &Needs) {
        self.files.extend(other.files.iter().copied());
        self.dirs.extend(other.dirs.iter().copied());
        self.socket_states |= other.socket_states;
        self.socket_states_always |= other.socket_states_always;
        if other.lazy_port_states.is_some() {
            self.lazy_port_states = other.lazy_port_states;
        }
        self.procs |= other.procs;
        self.proc_fds |= other.proc_fds;
        self.proc_memory |= other.proc_memory;
        self.socket_owners |= other.socket_owners;
        self.kernel_log |= other.kernel_log;
        self.nics |= other.nics;
        self.nic_driver_stats |= other.nic_driver_stats;
        self.cgroups |= other.cgroups;
        self.disks |= other.disks;
        self.clock |= other.clock;
    }

    /// Everything: what `snapshot` captures (the full socket dump included).
    pub fn everything(mut self) -> Self {
        self.lazy_port_states = None;
        self
    }
}

/// Processes that `--pid` / `--process` name; empty means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Focus {
    pub pids: Vec<u32>,
    pub names: Vec<String>,
}

impl Focus {
    pub fn is_empty(&self) -> bool {
        self.pids.is_empty() && self.names.is_empty()
    }

    pub fn matches(&self, pid: u32, name: Option<&str>) -> bool {
        self.is_empty()
            || self.pids.contains(&pid)
            || name.is_some_and(|n| self.names.iter().any(|m| m == n))
    }
}

/// The socket dump as stored in a capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketDump {
    pub states_mask: u32,
    pub sockets: Vec<TcpSocket>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SampleMeta {
    secs: f64,
    #[serde(default)]
    clock_usec: Option<u64>,
}

/// Driver counters by interface: (name, value) pairs, or why they could not be read.
pub type NicStats = BTreeMap<String, Result<Vec<(String, u64)>, String>>;

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Seconds since the first sample (monotonic clock).
    pub secs: f64,
    /// CLOCK_MONOTONIC in microseconds when the sample was taken (the kernel log's clock).
    pub clock_usec: Option<u64>,
    /// Every file read, by absolute path on the sampled host.
    pub files: BTreeMap<String, Data>,
    pub dirs: BTreeMap<String, Result<Vec<String>, String>>,
    pub procs: Option<Procs>,
    /// None when not requested; Err with the reason when unavailable.
    pub sockets: Option<Result<SocketDump, String>>,
    pub kernel_log: Option<Result<KernelLog, String>>,
    pub nic_stats: Option<NicStats>,
    pub clock: Option<Result<ClockState, String>>,
}

/// What a sample is taken for.
#[derive(Debug, Clone, Copy)]
pub struct Moment<'a> {
    /// The monotonic origin for `secs`.
    pub start: Instant,
    /// The sample before this one, if any: owner resolution and cgroup naming look only at
    /// what changed since.
    pub prev: Option<&'a Sample>,
    /// Read the kernel log of this window (the last sample only).
    pub log: Option<LogFrom>,
}

/// Where the kernel log window starts (it ends at the sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFrom {
    /// At this CLOCK_MONOTONIC microsecond.
    At(u64),
    /// This many microseconds before the sample.
    Back(u64),
}

/// CLOCK_MONOTONIC in microseconds: the clock /dev/kmsg stamps records with.
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0) / 1000)
}

fn json<T: for<'de> Deserialize<'de>>(r: &Reader, path: &str) -> Option<Result<T, String>> {
    let b = r.bytes(path)?;
    Some(serde_json::from_slice(&b).map_err(|e| format!("{path}: {e}")))
}

/// Reads one sample from `files`.
pub fn collect(files: &dyn Files, needs: &Needs, focus: &Focus, at: Moment) -> Sample {
    let live = files.live();
    let (errors, meta) = if live.is_some() {
        (BTreeMap::new(), None)
    } else {
        let probe = Reader {
            files,
            errors: BTreeMap::new(),
        };
        let errors = json::<BTreeMap<String, String>>(&probe, ERRORS_FILE)
            .and_then(Result::ok)
            .unwrap_or_default();
        let meta = json::<SampleMeta>(&probe, SAMPLE_FILE).and_then(Result::ok);
        (errors, meta)
    };
    let r = Reader { files, errors };
    let secs = meta
        .as_ref()
        .map_or_else(|| at.start.elapsed().as_secs_f64(), |m| m.secs);
    let clock_usec = match &meta {
        Some(m) => m.clock_usec,
        None if live.is_some() => Some(monotonic_usec()),
        None => None,
    };
    let mut sample = Sample {
        secs,
        clock_usec,
        files: BTreeMap::new(),
        dirs: BTreeMap::new(),
        procs: None,
        sockets: None,
        kernel_log: None,
        nic_stats: None,
        clock: None,
    };
    for p in &needs.files {
        sample.files.insert(p.to_string(), r.read(p));
    }
    for d in &needs.dirs {
        sample.dirs.insert(d.to_string(), files.list(d));
    }
    if needs.nics {
        system::collect_nics(&r, needs.nic_driver_stats, &mut sample);
    }
    if needs.cgroups {
        system::collect_cgroups(&r, at.prev, &mut sample);
    }
    if needs.disks {
        system::collect_disks(&r, &mut sample);
    }
    // What is not a file is None below a tree that did not capture it: not measured here.
    if needs.clock {
        sample.clock = match live {
            Some(_) => Some(system::clock_state()),
            None => json(&r, CLOCK_FILE),
        };
    }
    if needs.socket_states != 0 {
        sample.sockets = sockets(&r, needs);
    }
    if needs.procs || needs.proc_fds || needs.proc_memory || needs.socket_owners {
        let mut p = procs::collect(&r, needs, focus);
        // A capture's process list already names the holders.
        let captured = live.is_none() && files.read(PROCS_FILE).is_ok();
        if needs.socket_owners
            && !captured
            && let Some(Ok(dump)) = &sample.sockets
        {
            procs::resolve_close_wait(&r, &mut p, dump, at.prev, focus);
        }
        sample.procs = Some(p);
    }
    if needs.kernel_log
        && let Some(log) = at.log
    {
        let to = clock_usec.unwrap_or(u64::MAX);
        let from = match log {
            LogFrom::At(at) => at,
            LogFrom::Back(back) => to.saturating_sub(back),
        };
        sample.kernel_log = match live {
            Some(_) => Some(super::kernel_log::read_live(from, to)),
            None => {
                json::<KernelLog>(&r, KERNEL_LOG_FILE).map(|l| l.map(|log| log.window(from, to)))
            }
        };
    }
    sample
}

/// True when sockstat's TCP sockets (IPv4 and IPv6 in use, plus TIME_WAIT) are fewer than
/// `ratio` of the ephemeral port range.
fn tcp_sockets_below(r: &Reader, ratio: f64) -> bool {
    let stat = |p: &str| {
        r.bytes(p)
            .and_then(|b| crate::parse::parse_sockstat(&b).ok())
    };
    let Some(v4) = stat("/proc/net/sockstat") else {
        return false;
    };
    let v6 = stat("/proc/net/sockstat6");
    let Some(range) = r
        .bytes("/proc/sys/net/ipv4/ip_local_port_range")
        .and_then(|b| crate::parse::parse_port_range(&b).ok())
    else {
        return false;
    };
    let (Some(inuse), Some(tw)) = (v4.get("TCP", "inuse"), v4.get("TCP", "tw")) else {
        return false;
    };
    let inuse6 = v6.and_then(|s| s.get("TCP6", "inuse")).unwrap_or(0);
    let size = f64::from(range.1 - range.0) + 1.0;
    (inuse.saturating_add(inuse6).saturating_add(tw) as f64) < ratio * size
}

fn sockets(r: &Reader, needs: &Needs) -> Option<Result<SocketDump, String>> {
    let mut mask = needs.socket_states;
    if let Some(host) = r.files.live() {
        if let Some((lazy, ratio)) = needs.lazy_port_states
            && tcp_sockets_below(r, ratio)
        {
            // Keep the states another check asked for on its own (LISTEN, CLOSE_WAIT).
            mask &= !lazy | needs.socket_states_always;
        }
        if mask == 0 {
            return Some(Ok(SocketDump {
                states_mask: 0,
                sockets: Vec::new(),
            }));
        }
        return Some(
            inet_diag::dump_tcp(host, mask)
                .map(|sockets| SocketDump {
                    states_mask: mask,
                    sockets,
                })
                .map_err(|e| format!("netlink inet_diag: {e}")),
        );
    }
    Some(match json::<SocketDump>(r, SOCKETS_FILE)? {
        Ok(mut dump) => {
            if dump.states_mask & mask != mask {
                return Some(Err(format!(
                    "{SOCKETS_FILE} holds states {:#x}, not all of {mask:#x}",
                    dump.states_mask
                )));
            }
            dump.sockets
                .retain(|s| s.state < 32 && mask & (1u32 << s.state) != 0);
            dump.states_mask = mask;
            Ok(dump)
        }
        Err(e) => Err(e),
    })
}

impl Sample {
    pub fn file(&self, path: &str) -> &Data {
        static MISSING: Data = Data::Missing;
        self.files.get(path).unwrap_or(&MISSING)
    }

    /// The bytes of a file, when read.
    pub fn bytes(&self, path: &str) -> Option<&[u8]> {
        match self.file(path) {
            Data::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// Entries of a listed directory (empty when not listed or unreadable).
    pub fn dir(&self, path: &str) -> &[String] {
        match self.dirs.get(path) {
            Some(Ok(names)) => names,
            _ => &[],
        }
    }

    /// Writes the sample below `prefix` in a capture, as a tree `collect` reads back the same.
    pub fn append_to(&self, w: &mut Writer, prefix: &str) -> std::io::Result<()> {
        let mut errors: BTreeMap<String, String> = BTreeMap::new();
        let meta = serde_json::to_vec(&SampleMeta {
            secs: self.secs,
            clock_usec: self.clock_usec,
        })?;
        w.file(&format!("{prefix}{SAMPLE_FILE}"), &meta)?;
        for (path, data) in &self.files {
            match data {
                Data::Bytes(b) => w.file(&format!("{prefix}{path}"), b)?,
                Data::Missing => {}
                Data::Error(e) => {
                    errors.insert(path.clone(), e.clone());
                }
            }
        }
        let mut put = |path: &str, bytes: Vec<u8>| w.file(&format!("{prefix}{path}"), &bytes);
        if let Some(procs) = &self.procs {
            put(PROCS_FILE, serde_json::to_vec(procs)?)?;
        }
        if let Some(Ok(dump)) = &self.sockets {
            put(SOCKETS_FILE, serde_json::to_vec(dump)?)?;
        }
        if let Some(Ok(log)) = &self.kernel_log {
            put(KERNEL_LOG_FILE, serde_json::to_vec(log)?)?;
        }
        if let Some(Ok(clock)) = &self.clock {
            put(CLOCK_FILE, serde_json::to_vec(clock)?)?;
        }
        if let Some(stats) = &self.nic_stats {
            put(NIC_STATS_FILE, serde_json::to_vec(stats)?)?;
        }
        let dirs: BTreeMap<&String, &Vec<String>> = self
            .dirs
            .iter()
            .filter_map(|(d, names)| Some((d, names.as_ref().ok()?)))
            .collect();
        put(DIRS_FILE, serde_json::to_vec(&dirs)?)?;
        put(ERRORS_FILE, serde_json::to_vec_pretty(&errors)?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::netlink::inet_diag::state;
    use crate::host::{FaultPlan, Host};

    #[test]
    fn a_failed_socket_dump_is_reported_in_the_sample() {
        let host =
            Host::live().with_faults(FaultPlan::new().fail("netlink", "/netlink/4", libc::ENOBUFS));
        let needs = Needs {
            socket_states: state::mask(&[state::LISTEN]),
            ..Needs::default()
        };
        let at = Moment {
            start: Instant::now(),
            prev: None,
            log: None,
        };
        let sample = collect(&host, &needs, &Focus::default(), at);
        let err = sample.sockets.expect("sockets were asked for").unwrap_err();
        assert!(err.starts_with("netlink inet_diag: "), "{err}");
        assert!(err.contains("No buffer space"), "{err}");
    }
}
