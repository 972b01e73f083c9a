//! A sample: the raw bytes of every file diagnose reads, the TCP socket list, the processes'
//! fd tables, and a monotonic timestamp. Checks are pure functions of one or two samples, so a
//! live host, a `--root` tree and a snapshot archive all give findings through the same code.
//!
//! On a live host the socket list comes from inet_diag (netlink) and OOM lines from /dev/kmsg;
//! below any other root they come from `/.hostperf/sockets.json` and `/.hostperf/kmsg` in the
//! tree (what `snapshot` writes), because netlink and the kernel log are not files.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::host::Host;
use crate::host::netlink::inet_diag::{self, TcpSocket};

/// Where the capture-only data lives inside a sample tree.
pub const META_DIR: &str = "/.hostperf";
pub const SOCKETS_FILE: &str = "/.hostperf/sockets.json";
pub const KMSG_FILE: &str = "/.hostperf/kmsg";
pub const ERRORS_FILE: &str = "/.hostperf/errors.json";
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
    /// /proc/PID/status of every process.
    pub proc_status: bool,
    /// States that must be dumped even when `lazy_port_states` allows skipping.
    pub socket_states_always: u32,
    /// /proc/PID/fd and /proc/PID/limits (of focused processes when a focus is given).
    pub proc_fds: bool,
    pub kmsg: bool,
    /// Skip dumping these states when /proc/net/sockstat proves that fewer TCP sockets exist
    /// than this share of the ephemeral port range: then no destination can reach it, and the
    /// per-destination breakdown (the costly part of a dump with many TIME_WAIT sockets)
    /// cannot change a finding. Live hosts only; a snapshot always dumps everything.
    pub lazy_port_states: Option<(u32, f64)>,
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
        self.proc_status |= other.proc_status;
        self.proc_fds |= other.proc_fds;
        self.kmsg |= other.kmsg;
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

/// One process: raw status and limits, and its fd table (fd number -> link target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcSample {
    pub pid: u32,
    pub status: Data,
    pub limits: Option<Data>,
    /// None when fds were not collected for this process; Err when unreadable.
    pub fds: Option<Result<Vec<(String, String)>, String>>,
}

impl ProcSample {
    pub fn name(&self) -> Option<String> {
        match &self.status {
            Data::Bytes(b) => crate::parse::parse_status(b).ok().map(|s| s.name),
            _ => None,
        }
    }
}

/// Processes of one sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Procs {
    pub list: Vec<ProcSample>,
    /// Processes whose status or fd table this user could not read.
    pub unreadable: usize,
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Seconds since the first sample (monotonic clock).
    pub secs: f64,
    pub files: BTreeMap<String, Data>,
    pub dirs: BTreeMap<String, Result<Vec<String>, String>>,
    pub procs: Option<Procs>,
    /// None when not requested; Err with the reason when unavailable.
    pub sockets: Option<Result<SocketDump, String>>,
    /// Kernel log records mentioning "Killed process"; None when not requested.
    pub kmsg: Option<Result<Vec<u8>, String>>,
}

fn read(host: &Host, path: &str, errors: &BTreeMap<String, String>) -> Data {
    match host.read(path) {
        Ok(b) => Data::Bytes(b),
        Err(e) if e.is_not_found() => match errors.get(path) {
            Some(err) => Data::Error(err.clone()),
            None => Data::Missing,
        },
        Err(e) => Data::Error(e.to_string()),
    }
}

/// Reads one sample from `host`. `start` is the monotonic origin for `secs`.
pub fn collect(host: &Host, needs: &Needs, focus: &Focus, start: Instant) -> Sample {
    let live = host.is_live();
    // A capture records read errors and its own timestamp beside the files.
    let (errors, stored_secs) = if live {
        (BTreeMap::new(), None)
    } else {
        let errors = host
            .read_optional(ERRORS_FILE)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let secs = host
            .read_optional(SAMPLE_FILE)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<SampleMeta>(&b).ok())
            .map(|m| m.secs);
        (errors, secs)
    };
    let secs = stored_secs.unwrap_or_else(|| start.elapsed().as_secs_f64());
    let files = needs
        .files
        .iter()
        .map(|p| (p.to_string(), read(host, p, &errors)))
        .collect();
    let dirs = needs
        .dirs
        .iter()
        .map(|d| (d.to_string(), host.list_dir(d).map_err(|e| e.to_string())))
        .collect();
    let procs =
        (needs.proc_status || needs.proc_fds).then(|| collect_procs(host, needs, focus, &errors));
    let sockets = (needs.socket_states != 0).then(|| {
        let mut mask = needs.socket_states;
        if let Some((lazy, ratio)) = needs.lazy_port_states
            && live
            && tcp_sockets_below(host, ratio)
        {
            // Keep the states another check asked for on its own (LISTEN, CLOSE_WAIT).
            mask &= !lazy | needs.socket_states_always;
        }
        sockets(host, mask)
    });
    let kmsg = needs.kmsg.then(|| {
        if live {
            read_kmsg()
        } else {
            match host.read_optional(KMSG_FILE) {
                Ok(Some(b)) => Ok(b),
                Ok(None) => Err("not a live host and no kernel log in the capture".to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    });
    Sample {
        secs,
        files,
        dirs,
        procs,
        sockets,
        kmsg,
    }
}

/// True when sockstat's TCP sockets (IPv4 and IPv6 in use, plus TIME_WAIT) are fewer than
/// `ratio` of the ephemeral port range.
fn tcp_sockets_below(host: &Host, ratio: f64) -> bool {
    let stat = |p: &str| {
        host.read(p)
            .ok()
            .and_then(|b| crate::parse::parse_sockstat(&b).ok())
    };
    let Some(v4) = stat("/proc/net/sockstat") else {
        return false;
    };
    let v6 = stat("/proc/net/sockstat6");
    let Some(range) = host
        .read("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|b| crate::parse::parse_port_range(&b).ok())
    else {
        return false;
    };
    let (Some(inuse), Some(tw)) = (v4.get("TCP", "inuse"), v4.get("TCP", "tw")) else {
        return false;
    };
    let inuse6 = v6.and_then(|s| s.get("TCP6", "inuse")).unwrap_or(0);
    let size = f64::from(range.1 - range.0) + 1.0;
    ((inuse + inuse6 + tw) as f64) < ratio * size
}

fn sockets(host: &Host, states_mask: u32) -> Result<SocketDump, String> {
    if states_mask == 0 {
        return Ok(SocketDump {
            states_mask,
            sockets: Vec::new(),
        });
    }
    if host.is_live() {
        return inet_diag::dump_tcp(host, states_mask)
            .map(|sockets| SocketDump {
                states_mask,
                sockets,
            })
            .map_err(|e| format!("netlink inet_diag: {e}"));
    }
    match host.read_optional(SOCKETS_FILE) {
        Ok(Some(bytes)) => {
            let mut dump: SocketDump =
                serde_json::from_slice(&bytes).map_err(|e| format!("{SOCKETS_FILE}: {e}"))?;
            if dump.states_mask & states_mask != states_mask {
                return Err(format!(
                    "{SOCKETS_FILE} holds states {:#x}, not all of {states_mask:#x}",
                    dump.states_mask
                ));
            }
            dump.sockets.retain(|s| states_mask & (1 << s.state) != 0);
            dump.states_mask = states_mask;
            Ok(dump)
        }
        Ok(None) => Err("not a live host and no socket dump in the tree".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn collect_procs(
    host: &Host,
    needs: &Needs,
    focus: &Focus,
    errors: &BTreeMap<String, String>,
) -> Procs {
    let mut procs = Procs::default();
    let Ok(pids) = host.pids() else {
        return procs;
    };
    for pid in pids {
        let status = read(host, &format!("/proc/{pid}/status"), errors);
        let name = match &status {
            Data::Bytes(b) => crate::parse::parse_status(b).ok().map(|s| s.name),
            Data::Missing => continue, // exited meanwhile
            Data::Error(_) => {
                procs.unreadable += 1;
                None
            }
        };
        let mut p = ProcSample {
            pid,
            status,
            limits: None,
            fds: None,
        };
        if needs.proc_fds && focus.matches(pid, name.as_deref()) {
            p.limits = Some(read(host, &format!("/proc/{pid}/limits"), errors));
            let fds = match errors.get(&format!("/proc/{pid}/fd")) {
                Some(e) => Err(e.clone()),
                None => read_fds(host, pid),
            };
            if fds.is_err() {
                procs.unreadable += 1;
            }
            p.fds = Some(fds);
        }
        procs.list.push(p);
    }
    procs
}

fn read_fds(host: &Host, pid: u32) -> Result<Vec<(String, String)>, String> {
    let dir = format!("/proc/{pid}/fd");
    let entries = host.list_dir(&dir).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(entries.len());
    for fd in entries {
        // A link that vanished between listing and reading is still counted.
        let target = host
            .read_link(format!("{dir}/{fd}"))
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "?".to_string());
        out.push((fd, target));
    }
    Ok(out)
}

/// Reads /dev/kmsg without blocking (it is a stream: read records until EAGAIN) and keeps the
/// OOM-kill records. Live host only; /dev/kmsg is not a file the Host seam can read.
fn read_kmsg() -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .map_err(|e| format!("/dev/kmsg: {e}"))?;
    let mut buf = vec![0u8; 16384];
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let rec = &buf[..n];
                if rec.windows(15).any(|w| w == b"Killed process ") {
                    out.extend_from_slice(rec);
                    if !rec.ends_with(b"\n") {
                        out.push(b'\n');
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            // EPIPE: records were overwritten while reading; go on with the next one.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) => return Err(format!("/dev/kmsg: {e}")),
        }
    }
    Ok(out)
}

impl Sample {
    pub fn file(&self, path: &str) -> &Data {
        static MISSING: Data = Data::Missing;
        self.files.get(path).unwrap_or(&MISSING)
    }

    /// Writes the sample below `prefix` in a tar archive, as a tree `collect` can read back.
    pub fn append_to<W: std::io::Write>(
        &self,
        tar: &mut tar::Builder<W>,
        prefix: &str,
    ) -> std::io::Result<()> {
        let mut errors: BTreeMap<String, String> = BTreeMap::new();
        let meta = serde_json::to_vec(&SampleMeta { secs: self.secs })?;
        add_file(tar, &format!("{prefix}{SAMPLE_FILE}"), &meta)?;
        for (path, data) in &self.files {
            match data {
                Data::Bytes(b) => add_file(tar, &format!("{prefix}{path}"), b)?,
                Data::Missing => {}
                Data::Error(e) => {
                    errors.insert(path.clone(), e.clone());
                }
            }
        }
        for (dir, names) in &self.dirs {
            if let Ok(names) = names {
                for n in names {
                    add_dir(tar, &format!("{prefix}{dir}/{n}"))?;
                }
            }
        }
        if let Some(procs) = &self.procs {
            for p in &procs.list {
                let base = format!("{prefix}/proc/{}", p.pid);
                match &p.status {
                    Data::Bytes(b) => add_file(tar, &format!("{base}/status"), b)?,
                    Data::Error(e) => {
                        errors.insert(format!("/proc/{}/status", p.pid), e.clone());
                    }
                    Data::Missing => {}
                }
                match &p.limits {
                    Some(Data::Bytes(b)) => add_file(tar, &format!("{base}/limits"), b)?,
                    Some(Data::Error(e)) => {
                        errors.insert(format!("/proc/{}/limits", p.pid), e.clone());
                    }
                    _ => {}
                }
                match &p.fds {
                    Some(Ok(fds)) => {
                        add_dir(tar, &format!("{base}/fd"))?;
                        for (fd, target) in fds {
                            add_link(tar, &format!("{base}/fd/{fd}"), target)?;
                        }
                    }
                    Some(Err(e)) => {
                        errors.insert(format!("/proc/{}/fd", p.pid), e.clone());
                    }
                    None => {}
                }
            }
        }
        if let Some(Ok(dump)) = &self.sockets {
            add_file(
                tar,
                &format!("{prefix}{SOCKETS_FILE}"),
                &serde_json::to_vec(dump)?,
            )?;
        }
        if let Some(Ok(k)) = &self.kmsg {
            add_file(tar, &format!("{prefix}{KMSG_FILE}"), k)?;
        }
        add_file(
            tar,
            &format!("{prefix}{ERRORS_FILE}"),
            &serde_json::to_vec_pretty(&errors)?,
        )?;
        Ok(())
    }
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h
}

pub fn add_file<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    bytes: &[u8],
) -> std::io::Result<()> {
    let mut h = header(tar::EntryType::Regular, bytes.len() as u64, 0o644);
    tar.append_data(&mut h, path.trim_start_matches('/'), bytes)
}

fn add_dir<W: std::io::Write>(tar: &mut tar::Builder<W>, path: &str) -> std::io::Result<()> {
    let mut h = header(tar::EntryType::Directory, 0, 0o755);
    tar.append_data(&mut h, path.trim_start_matches('/'), std::io::empty())
}

fn add_link<W: std::io::Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    target: &str,
) -> std::io::Result<()> {
    let mut h = header(tar::EntryType::Symlink, 0, 0o777);
    // An unreadable link target (EACCES) is stored as "?": the fd still counts.
    let target = if target.is_empty() { "?" } else { target };
    tar.append_link(&mut h, path.trim_start_matches('/'), target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FaultPlan;
    use crate::host::netlink::inet_diag::state;

    #[test]
    fn a_failed_socket_dump_is_reported_in_the_sample() {
        let host =
            Host::live().with_faults(FaultPlan::new().fail("netlink", "/netlink/4", libc::ENOBUFS));
        let needs = Needs {
            socket_states: state::mask(&[state::LISTEN]),
            ..Needs::default()
        };
        let sample = collect(&host, &needs, &Focus::default(), Instant::now());
        let err = sample.sockets.expect("sockets were asked for").unwrap_err();
        assert!(err.starts_with("netlink inet_diag: "), "{err}");
        assert!(err.contains("No buffer space"), "{err}");
    }
}
