//! The kernel's counters that explain a run: read inside a namespace before and after, the
//! difference reported.
//!
//! Per namespace (read on a thread inside it, through /proc/thread-self/net): TcpExt
//! ListenOverflows and ListenDrops (accept queue full), TCPReqQFullDrop (SYN queue full
//! without syncookies), SyncookiesSent, TCPSynRetrans; Tcp RetransSegs, AttemptFails,
//! EstabResets; sockstat's TIME_WAIT count (a level at the end, not a difference). Host-wide:
//! softnet drops and time squeezes (/proc/net/softnet_stat is per CPU, not per namespace, so
//! other work on the machine shows there too; the report says so).

use serde::Serialize;

use super::netns::Netns;
use crate::host::Host;
use crate::parse::{parse_netstat, parse_sockstat, parse_softnet};

/// One namespace's TCP counters at an instant (or, after `delta`, over a run).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TcpCounters {
    /// TcpExt ListenOverflows: SYNs or ACKs dropped because the accept queue was full.
    pub listen_overflows: u64,
    /// TcpExt ListenDrops: every drop at a listener (overflows included).
    pub listen_drops: u64,
    /// TcpExt TCPReqQFullDrop: SYNs dropped because the SYN queue was full (no syncookies).
    pub syn_queue_drops: u64,
    /// TcpExt SyncookiesSent: SYN queue full, answered with a syncookie instead.
    pub syncookies_sent: u64,
    /// Tcp RetransSegs: segments retransmitted.
    pub retransmits: u64,
    /// TcpExt TCPSynRetrans: SYNs retransmitted (a connect that stalled 1 s, 3 s, ...).
    pub syn_retransmits: u64,
    /// Tcp AttemptFails: connects that failed.
    pub attempt_fails: u64,
    /// Tcp EstabResets: established connections reset.
    pub estab_resets: u64,
    /// TcpExt BusyPollRxPackets: packets received by busy polling instead of interrupts.
    pub busy_poll_rx: u64,
    /// sockstat TCP tw: sockets in TIME_WAIT (a level).
    pub time_wait: u64,
}

impl TcpCounters {
    /// `after - before` for counters, `after` for the TIME_WAIT level.
    pub fn delta(before: &TcpCounters, after: &TcpCounters) -> TcpCounters {
        TcpCounters {
            listen_overflows: after
                .listen_overflows
                .saturating_sub(before.listen_overflows),
            listen_drops: after.listen_drops.saturating_sub(before.listen_drops),
            syn_queue_drops: after.syn_queue_drops.saturating_sub(before.syn_queue_drops),
            syncookies_sent: after.syncookies_sent.saturating_sub(before.syncookies_sent),
            retransmits: after.retransmits.saturating_sub(before.retransmits),
            syn_retransmits: after.syn_retransmits.saturating_sub(before.syn_retransmits),
            attempt_fails: after.attempt_fails.saturating_sub(before.attempt_fails),
            estab_resets: after.estab_resets.saturating_sub(before.estab_resets),
            busy_poll_rx: after.busy_poll_rx.saturating_sub(before.busy_poll_rx),
            time_wait: after.time_wait,
        }
    }
}

/// Softnet counters summed over CPUs (host-wide).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Softnet {
    /// Packets dropped because a CPU's backlog exceeded netdev_max_backlog.
    pub dropped: u64,
    /// Times a softirq poll stopped with work left (netdev_budget or its time ran out).
    pub time_squeeze: u64,
}

impl Softnet {
    pub fn delta(before: &Softnet, after: &Softnet) -> Softnet {
        Softnet {
            dropped: after.dropped.saturating_sub(before.dropped),
            time_squeeze: after.time_squeeze.saturating_sub(before.time_squeeze),
        }
    }
}

/// Reads the TCP counters of `ns`. A file or field the kernel lacks reads as 0.
pub fn tcp(ns: &Netns) -> anyhow::Result<TcpCounters> {
    ns.run(|| tcp_here(&Host::live()))
}

/// The TCP counters of the calling thread's namespace.
pub fn tcp_here(host: &Host) -> TcpCounters {
    let mut c = TcpCounters::default();
    let field =
        |table: &std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>,
         prefix: &str,
         name: &str| {
            table
                .get(prefix)
                .and_then(|t| t.get(name))
                .map(|v| (*v).max(0) as u64)
                .unwrap_or(0)
        };
    if let Some(t) = host
        .read("/proc/thread-self/net/netstat")
        .ok()
        .and_then(|b| parse_netstat(&b).ok())
    {
        c.listen_overflows = field(&t, "TcpExt", "ListenOverflows");
        c.listen_drops = field(&t, "TcpExt", "ListenDrops");
        c.syn_queue_drops = field(&t, "TcpExt", "TCPReqQFullDrop");
        c.syncookies_sent = field(&t, "TcpExt", "SyncookiesSent");
        c.syn_retransmits = field(&t, "TcpExt", "TCPSynRetrans");
        c.busy_poll_rx = field(&t, "TcpExt", "BusyPollRxPackets");
    }
    if let Some(t) = host
        .read("/proc/thread-self/net/snmp")
        .ok()
        .and_then(|b| parse_netstat(&b).ok())
    {
        c.retransmits = field(&t, "Tcp", "RetransSegs");
        c.attempt_fails = field(&t, "Tcp", "AttemptFails");
        c.estab_resets = field(&t, "Tcp", "EstabResets");
    }
    if let Some(s) = host
        .read("/proc/thread-self/net/sockstat")
        .ok()
        .and_then(|b| parse_sockstat(&b).ok())
    {
        c.time_wait = s.get("TCP", "tw").unwrap_or(0);
    }
    c
}

/// Host-wide softnet counters (any thread: the file is not per namespace).
pub fn softnet(host: &Host) -> Softnet {
    let mut s = Softnet::default();
    if let Some(rows) = host
        .read("/proc/net/softnet_stat")
        .ok()
        .and_then(|b| parse_softnet(&b).ok())
    {
        for row in rows {
            s.dropped = s.dropped.saturating_add(row.dropped);
            s.time_squeeze = s.time_squeeze.saturating_add(row.time_squeeze);
        }
    }
    s
}
