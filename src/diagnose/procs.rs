//! Processes: who runs, how many fds each holds against its limit, and, only when there are
//! CLOSE_WAIT sockets, which processes hold them.
//!
//! Fds are counted without reading a single link: on Linux >= 6.2 the size of /proc/PID/fd is
//! the number of open fds (one stat(2), allowed for any user); elsewhere the directory's
//! entries are counted. Link targets (`socket:[INODE]`) are read only to name the holder of a
//! CLOSE_WAIT socket, and only in processes of the users that own such sockets.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::sample::{Data, Focus, Needs, PROCS_FILE, Sample, SocketDump};
use super::source::Reader;
use crate::host::netlink::inet_diag::state;
use crate::host::rlimit::{Resource, parse_proc_limits};

/// One process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcSample {
    pub pid: u32,
    /// The 15-character command name (/proc/PID/comm).
    #[serde(default)]
    pub comm: Option<String>,
    /// The owner of /proc/PID (the process's effective uid); read only to find the holders of
    /// CLOSE_WAIT sockets.
    #[serde(default)]
    pub uid: Option<u32>,
    /// Open fds; None when not counted, Err when this user may not count them.
    #[serde(default)]
    pub fds: Option<Result<u64, String>>,
    /// The soft RLIMIT_NOFILE (u64::MAX: unlimited).
    #[serde(default)]
    pub nofile_soft: Option<Result<u64, String>>,
    /// VmData and VmRSS in kB (focused processes only).
    #[serde(default)]
    pub vm_data_kb: Option<u64>,
    #[serde(default)]
    pub vm_rss_kb: Option<u64>,
    /// Inodes of the CLOSE_WAIT sockets this process holds; None when not looked at, Err
    /// when its fds could not be read.
    #[serde(default)]
    pub close_wait: Option<Result<Vec<u32>, String>>,
}

impl ProcSample {
    pub fn name(&self) -> &str {
        self.comm.as_deref().unwrap_or("?")
    }
}

/// The processes of one sample.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Procs {
    pub list: Vec<ProcSample>,
    /// Why the process list itself could not be read, if so.
    #[serde(default)]
    pub error: Option<String>,
}

impl Procs {
    pub fn find(&self, pid: u32) -> Option<&ProcSample> {
        self.list
            .binary_search_by_key(&pid, |p| p.pid)
            .ok()
            .map(|i| &self.list[i])
    }
}

/// (major, minor) of a kernel release such as `6.18.44-fc-v657`.
fn kernel_version(release: &[u8]) -> Option<(u32, u32)> {
    let s = std::str::from_utf8(release).ok()?.trim();
    let mut parts = s.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn soft_nofile(data: Data) -> Option<Result<u64, String>> {
    match data {
        Data::Bytes(b) => {
            let text = String::from_utf8_lossy(&b);
            Some(
                parse_proc_limits(&text, Resource::Nofile)
                    .map(|l| l.soft.unwrap_or(u64::MAX))
                    .ok_or_else(|| "no `Max open files` row".to_string()),
            )
        }
        Data::Missing => None,
        Data::Error(e) => Some(Err(e)),
    }
}

/// Reads the processes. On a live host hostperf itself is left out: it is not the host's
/// workload, and as an unprivileged user it would otherwise be the one process reported.
pub fn collect(r: &Reader, needs: &Needs, focus: &Focus) -> Procs {
    let live = r.files.live();
    if live.is_none()
        && let Some(b) = r.bytes(PROCS_FILE)
    {
        return serde_json::from_slice::<Procs>(&b).unwrap_or_else(|e| Procs {
            list: Vec::new(),
            error: Some(format!("{PROCS_FILE}: {e}")),
        });
    }
    let names = match r.files.list("/proc") {
        Ok(n) => n,
        Err(e) => {
            return Procs {
                list: Vec::new(),
                error: Some(e),
            };
        }
    };
    let mut pids: Vec<u32> = names.iter().filter_map(|n| n.parse().ok()).collect();
    pids.sort_unstable();
    let own = live.map(|_| std::process::id());
    let fd_size_is_count = live.is_some()
        && r.bytes("/proc/sys/kernel/osrelease")
            .and_then(|b| kernel_version(&b))
            .is_some_and(|v| v >= (6, 2));
    let mut list = Vec::with_capacity(pids.len());
    for pid in pids {
        if Some(pid) == own {
            continue;
        }
        let base = format!("/proc/{pid}");
        let comm = match r.read(&format!("{base}/comm")) {
            Data::Bytes(b) => Some(String::from_utf8_lossy(&b).trim_end().to_string()),
            // Exited since the listing, or a tree without comm files: try status.
            Data::Missing => match r.read(&format!("{base}/status")) {
                Data::Bytes(b) => crate::parse::parse_status(&b).ok().map(|s| s.name),
                Data::Missing => continue,
                Data::Error(_) => None,
            },
            Data::Error(_) => None,
        };
        let mut p = ProcSample {
            pid,
            comm,
            ..ProcSample::default()
        };
        let focused = focus.matches(pid, p.comm.as_deref());
        if needs.proc_fds && focused {
            let fd_dir = format!("{base}/fd");
            p.fds = if fd_size_is_count {
                Some(r.files.stat(&fd_dir).map(|(size, _)| size))
            } else {
                match r.files.count(&fd_dir) {
                    Ok(n) => Some(Ok(n)),
                    // A tree without fd directories did not capture them.
                    Err(e) if e.contains("No such file") => None,
                    Err(e) => Some(Err(e)),
                }
            };
            p.nofile_soft = soft_nofile(r.read(&format!("{base}/limits")));
        }
        if needs.proc_memory
            && !focus.is_empty()
            && focused
            && let Data::Bytes(b) = r.read(&format!("{base}/status"))
            && let Ok(s) = crate::parse::parse_status(&b)
        {
            p.vm_data_kb = s.vm_data_kb;
            p.vm_rss_kb = s.vm_rss_kb;
        }
        list.push(p);
    }
    Procs { list, error: None }
}

/// The inode of a `socket:[INODE]` link target.
pub fn socket_inode(target: &str) -> Option<u32> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Names the processes holding CLOSE_WAIT sockets: only sockets that were already in
/// CLOSE_WAIT in `prev` (a leak is what persists), and only in processes owned by the users
/// that own those sockets. Reads link targets of those processes' fds and nothing else.
pub fn resolve_close_wait(
    r: &Reader,
    procs: &mut Procs,
    dump: &SocketDump,
    prev: Option<&Sample>,
    focus: &Focus,
) {
    let before: Option<BTreeSet<u32>> = prev
        .and_then(|s| s.sockets.as_ref())
        .and_then(|d| d.as_ref().ok())
        .map(|d| {
            d.sockets
                .iter()
                .filter(|s| s.state == state::CLOSE_WAIT)
                .map(|s| s.inode)
                .collect()
        });
    let wanted: BTreeMap<u32, u32> = dump
        .sockets
        .iter()
        .filter(|s| s.state == state::CLOSE_WAIT && s.inode != 0)
        .filter(|s| before.as_ref().is_none_or(|b| b.contains(&s.inode)))
        .map(|s| (s.inode, s.uid))
        .collect();
    if wanted.is_empty() {
        return;
    }
    let uids: BTreeSet<u32> = wanted.values().copied().collect();
    for p in &mut procs.list {
        if p.uid.is_some_and(|u| !uids.contains(&u)) || !focus.matches(p.pid, p.comm.as_deref()) {
            continue;
        }
        let fd_dir = format!("/proc/{}/fd", p.pid);
        let fds = match r.files.list(&fd_dir) {
            Ok(f) => f,
            Err(e) => {
                p.close_wait = Some(Err(e));
                continue;
            }
        };
        let mut held = Vec::new();
        for fd in fds {
            if let Ok(target) = r.files.read_link(&format!("{fd_dir}/{fd}"))
                && let Some(inode) = socket_inode(&target)
                && wanted.contains_key(&inode)
            {
                held.push(inode);
            }
        }
        p.close_wait = Some(Ok(held));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_inodes() {
        assert_eq!(kernel_version(b"6.18.44-fc-v657\n"), Some((6, 18)));
        assert_eq!(kernel_version(b"2.6.32-754.el6.x86_64"), Some((2, 6)));
        assert_eq!(kernel_version(b"garbage"), None);
        assert!(kernel_version(b"6.2.0").unwrap() >= (6, 2));
        assert_eq!(socket_inode("socket:[123]"), Some(123));
        assert_eq!(socket_inode("socket:[x]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
    }
}
