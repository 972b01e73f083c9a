//! The kernel log of the diagnosed window: /dev/kmsg read without blocking (records carry the
//! microseconds since boot, CLOCK_MONOTONIC's clock), or `journalctl -k` where /dev/kmsg may
//! not be read (`kernel.dmesg_restrict`, an unprivileged user in the journal's group). Only
//! messages that name a cause diagnose knows are kept, each handed to the check it belongs to.

use std::io::Read;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::parse::{LogLine, parse_kernel_log};

/// The most messages kept from one window (the newest).
pub const MAX_LINES: usize = 1000;
/// How long `journalctl` may take before it is stopped.
const JOURNAL_TIMEOUT: Duration = Duration::from_secs(3);
/// The most output read from `journalctl`.
const JOURNAL_MAX_BYTES: u64 = 16 << 20;

/// Kernel log messages of a window that name a known cause, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelLog {
    /// `/dev/kmsg` or `journalctl -k`.
    pub source: String,
    /// The window, in CLOCK_MONOTONIC microseconds.
    pub from_usec: u64,
    pub to_usec: u64,
    pub lines: Vec<LogLine>,
    /// More than [`MAX_LINES`] matched: the oldest were left out.
    #[serde(default)]
    pub truncated: bool,
}

/// The check a kernel message belongs to, by the words the kernel prints.
const PATTERNS: &[(&str, &str)] = &[
    // net/ipv4/tcp_input.c tcp_syn_flood_action
    ("Possible SYN flooding on port", "syn-flood"),
    // net/ipv4/tcp.c tcp_check_oom
    ("TCP: out of memory", "tcp-memory"),
    ("too many orphaned sockets", "tcp-memory"),
    ("Out of socket memory", "tcp-memory"),
    // net/netfilter/nf_conntrack_core.c
    ("nf_conntrack: table full", "conntrack"),
    ("ip_conntrack: table full", "conntrack"),
    // net/sched/sch_generic.c dev_watchdog
    ("NETDEV WATCHDOG", "nic-drops"),
    // mm/page_alloc.c warn_alloc
    ("page allocation failure", "memory-fragmentation"),
    // mm/oom_kill.c
    ("Killed process", "oom-kills"),
    ("Kill process", "oom-kills"),
    // kernel/hung_task.c
    ("blocked for more than", "io-wait"),
    // kernel/time/clocksource.c, arch/x86/kernel/tsc.c
    ("Marking clocksource", "clock"),
    ("TSC unstable", "clock"),
    ("clocksource watchdog", "clock"),
    // fs/file_table.c
    ("VFS: file-max limit", "fd-exhaustion"),
];

/// The check id a kernel message is evidence for, if any.
pub fn check_of(text: &str) -> Option<&'static str> {
    PATTERNS
        .iter()
        .find(|(p, _)| text.contains(p))
        .map(|(_, id)| *id)
}

impl KernelLog {
    /// The part of a captured log inside `[from, to]`; the window never reaches before what
    /// the capture holds.
    pub fn window(mut self, from: u64, to: u64) -> KernelLog {
        self.lines
            .retain(|l| l.usec.is_some_and(|u| u >= from && u <= to));
        self.from_usec = self.from_usec.max(from);
        self.to_usec = self.to_usec.min(to);
        self
    }

    /// Messages for one check, oldest first.
    pub fn for_check<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a LogLine> + 'a {
        self.lines
            .iter()
            .filter(move |l| check_of(&l.text) == Some(id))
    }
}

fn keep(lines: impl IntoIterator<Item = LogLine>, from: u64, to: u64) -> (Vec<LogLine>, bool) {
    let mut kept: Vec<LogLine> = lines
        .into_iter()
        .filter(|l| l.usec.is_some_and(|u| u >= from && u <= to) && check_of(&l.text).is_some())
        .collect();
    let truncated = kept.len() > MAX_LINES;
    if truncated {
        kept.drain(..kept.len() - MAX_LINES);
    }
    (kept, truncated)
}

/// Reads /dev/kmsg from its oldest record to the newest without blocking (it is a stream of
/// one record per read; EAGAIN ends it, EPIPE means a record was overwritten meanwhile).
fn read_kmsg(from: u64, to: u64) -> Result<KernelLog, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .map_err(|e| format!("/dev/kmsg: {e}"))?;
    let mut buf = vec![0u8; 16384];
    let mut lines = Vec::new();
    for _ in 0..1_000_000 {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => lines.extend(parse_kernel_log(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(e) => return Err(format!("/dev/kmsg: {e}")),
        }
    }
    let (lines, truncated) = keep(lines, from, to);
    Ok(KernelLog {
        source: "/dev/kmsg".into(),
        from_usec: from,
        to_usec: to,
        lines,
        truncated,
    })
}

/// `journalctl -k` since the window's start, in short-monotonic format, bounded in time and
/// size.
fn read_journal(from: u64, to: u64) -> Result<KernelLog, String> {
    use std::process::{Command, Stdio};
    let now_mono = super::sample::monotonic_usec();
    let now_wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let since = now_wall.saturating_sub(now_mono.saturating_sub(from) / 1_000_000 + 1);
    let mut child = Command::new("journalctl")
        .args(["-k", "-q", "--no-pager", "-o", "short-monotonic"])
        .arg(format!("--since=@{since}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("journalctl: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("journalctl: no output")?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = (&mut stdout).take(JOURNAL_MAX_BYTES).read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + JOURNAL_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "journalctl -k took longer than {} s",
                    JOURNAL_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("journalctl: {e}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = (&mut e).take(4096).read_to_string(&mut err);
    }
    if !status.success() || err.contains("No journal files") {
        let why = err.lines().next().unwrap_or("failed").trim().to_string();
        return Err(format!("journalctl -k: {why}"));
    }
    let (lines, truncated) = keep(parse_kernel_log(&out), from, to);
    Ok(KernelLog {
        source: "journalctl -k".into(),
        from_usec: from,
        to_usec: to,
        lines,
        truncated,
    })
}

/// The kernel log messages of `[from, to]` (CLOCK_MONOTONIC microseconds) that name a known
/// cause: /dev/kmsg, else the journal.
pub fn read_live(from: u64, to: u64) -> Result<KernelLog, String> {
    match read_kmsg(from, to) {
        Ok(log) => Ok(log),
        Err(kmsg) => read_journal(from, to).map_err(|journal| format!("{kmsg}; {journal}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_go_to_their_check() {
        assert_eq!(
            check_of(
                "TCP: request_sock_TCP: Possible SYN flooding on port 8080. Dropping request.  Check SNMP counters."
            ),
            Some("syn-flood")
        );
        assert_eq!(
            check_of("nf_conntrack: nf_conntrack: table full, dropping packet"),
            Some("conntrack")
        );
        assert_eq!(
            check_of("NETDEV WATCHDOG: eth0 (virtio_net): transmit queue 0 timed out"),
            Some("nic-drops")
        );
        assert_eq!(
            check_of("INFO: task nginx:812 blocked for more than 120 seconds."),
            Some("io-wait")
        );
        assert_eq!(check_of("hello"), None);
    }

    #[test]
    fn the_window_and_the_cap() {
        let lines = (0..1500u64).map(|i| LogLine {
            usec: Some(i),
            text: "TCP: out of memory -- consider tuning tcp_mem".into(),
        });
        let (kept, truncated) = keep(lines, 100, 1400);
        assert!(truncated);
        assert_eq!(kept.len(), MAX_LINES);
        assert_eq!(kept.last().unwrap().usec, Some(1400));
        let (none, _) = keep(
            vec![LogLine {
                usec: None,
                text: "Killed process 1 (x)".into(),
            }],
            0,
            u64::MAX,
        );
        assert!(none.is_empty());
    }
}
