//! TCP connection checks: ephemeral ports, the accept queue, the SYN queue, retransmits.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::{Ctx, Outcome, both, counter, needs, pair, parsed, pct, rate_only, setting};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::host::netlink::inet_diag::{TcpSocket, state};
use crate::parse;

const SOCKSTAT: &str = "/proc/net/sockstat";
const NETSTAT: &str = "/proc/net/netstat";
const SNMP: &str = "/proc/net/snmp";
const PORT_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
const RESERVED: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";
const TW_REUSE: &str = "/proc/sys/net/ipv4/tcp_tw_reuse";
const TW_REUSE_DELAY: &str = "/proc/sys/net/ipv4/tcp_tw_reuse_delay";
const TIMESTAMPS: &str = "/proc/sys/net/ipv4/tcp_timestamps";
const MAX_TW: &str = "/proc/sys/net/ipv4/tcp_max_tw_buckets";
const SOMAXCONN: &str = "/proc/sys/net/core/somaxconn";
const SYNCOOKIES: &str = "/proc/sys/net/ipv4/tcp_syncookies";
const MAX_SYN_BACKLOG: &str = "/proc/sys/net/ipv4/tcp_max_syn_backlog";
const INET_DIAG: &str = "netlink:inet_diag";
/// How long a socket stays in TIME_WAIT (TCP_TIMEWAIT_LEN).
const TIME_WAIT_MS: u32 = 60_000;
/// What tcp_tw_reuse waits before reusing a TIME_WAIT socket's port, where the kernel has no
/// tcp_tw_reuse_delay setting (it was a fixed second).
const DEFAULT_REUSE_DELAY_MS: u64 = 1000;

/// Every state in which a socket holds a local port taken from the ephemeral range.
fn port_holding_states() -> u32 {
    state::mask(&[
        state::ESTABLISHED,
        state::SYN_SENT,
        state::SYN_RECV,
        state::FIN_WAIT1,
        state::FIN_WAIT2,
        state::TIME_WAIT,
        state::CLOSE_WAIT,
        state::LAST_ACK,
        state::CLOSING,
    ])
}

pub static PORT_EXHAUSTION: super::Check = super::Check {
    info: CheckInfo {
        id: "port-exhaustion",
        title: "Ephemeral ports running out",
        symptom: "New outgoing connections fail with \"Cannot assign requested address\" (EADDRNOTAVAIL) or take long to open; code that binds before connecting gets \"Address already in use\"",
        question: "Why do connections from this host to a backend fail or stall?",
        confirm: "ss -tan | awk 'NR>1 {print $5}' | sort | uniq -c | sort -rn | head (sockets per destination, in any state); ss -tan state time-wait | wc -l; sysctl net.ipv4.ip_local_port_range net.ipv4.ip_local_reserved_ports net.ipv4.tcp_tw_reuse",
        log: "the application's log: connect() failing with EADDRNOTAVAIL (\"Cannot assign requested address\"); EADDRINUSE when it binds before connecting",
        remediation: "Reuse connections (HTTP keep-alive, connection pools) so fewer are opened; spread load over more destination addresses or ports; widen net.ipv4.ip_local_port_range. net.ipv4.tcp_tw_reuse=1 lets connect() reuse a TIME_WAIT port after tcp_tw_reuse_delay (1 s) when timestamps are on (the default 2 does so for loopback only); it does nothing for code that binds before connecting. tcp_fin_timeout does not shorten TIME_WAIT (it governs FIN-WAIT-2); tcp_tw_recycle is gone since Linux 4.12.",
    },
    needs: || {
        let mut n = needs(&[
            SOCKSTAT,
            NETSTAT,
            SNMP,
            PORT_RANGE,
            RESERVED,
            TW_REUSE,
            TW_REUSE_DELAY,
            TIMESTAMPS,
            MAX_TW,
        ]);
        n.socket_states = port_holding_states();
        n.lazy_port_states = Some((port_holding_states(), 0.6));
        n
    },
    rate_only: false,
    run: port_exhaustion,
};

/// What the ports of one sample tell.
struct PortUse {
    /// (held ports, destination) for the busiest destinations, most first.
    rows: Vec<(usize, SocketAddr)>,
    /// Distinct local ports of the range bound by any socket.
    bound: usize,
    /// TIME_WAIT sockets whose port connect() may reuse.
    reusable: usize,
    /// Sockets in TIME_WAIT (inet_diag state TIME_WAIT: the timewait sockets of the
    /// FIN-WAIT-2 substate are not among them), in the range or not.
    time_wait: usize,
}

fn port_use(
    sockets: &[TcpSocket],
    (lo, hi): (u16, u16),
    reuse_applies: impl Fn(IpAddr, IpAddr) -> bool,
    delay_ms: u64,
) -> PortUse {
    let mut held: Vec<(SocketAddr, IpAddr, u16)> = Vec::new();
    let mut bound: Vec<u16> = Vec::new();
    let mut reusable = 0;
    let time_wait = sockets
        .iter()
        .filter(|s| s.state == state::TIME_WAIT)
        .count();
    for s in sockets {
        let port = s.local.port();
        if port < lo || port > hi {
            continue;
        }
        bound.push(port);
        if s.state == state::LISTEN || s.remote.port() == 0 {
            continue;
        }
        if s.state == state::TIME_WAIT
            && s.expires_ms > 0
            && reuse_applies(s.local.ip(), s.remote.ip())
            && u64::from(TIME_WAIT_MS.saturating_sub(s.expires_ms)) >= delay_ms
        {
            reusable += 1;
            continue;
        }
        held.push((s.remote, s.local.ip(), port));
    }
    held.sort_unstable();
    held.dedup();
    bound.sort_unstable();
    bound.dedup();
    // Ports towards one destination from one local address conflict with each other.
    let mut per: BTreeMap<(SocketAddr, IpAddr), usize> = BTreeMap::new();
    for (dst, local, _) in &held {
        *per.entry((*dst, *local)).or_default() += 1;
    }
    let mut rows: Vec<(usize, SocketAddr)> = per.into_iter().map(|((d, _), n)| (n, d)).collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    PortUse {
        rows,
        bound: bound.len(),
        reusable,
        time_wait,
    }
}

fn port_exhaustion(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.port_exhaustion;
    let info = &PORT_EXHAUSTION.info;
    let (lo, hi) = parsed(ctx.last, PORT_RANGE, parse::parse_port_range)?;
    let reserved = ctx
        .last
        .bytes(RESERVED)
        .map(parse::parse_reserved_ports)
        .unwrap_or_default();
    let reserved_in_range: u32 = reserved
        .iter()
        .map(|&(a, b)| {
            let (a, b) = (a.max(lo), b.min(hi));
            if a <= b { u32::from(b - a) + 1 } else { 0 }
        })
        .sum();
    let size = (u32::from(hi - lo) + 1)
        .saturating_sub(reserved_in_range)
        .max(1);
    let sockstat = parsed(ctx.last, SOCKSTAT, parse::parse_sockstat)?;
    let tw = sockstat.get("TCP", "tw");
    let reuse = setting(ctx.last, TW_REUSE).map_or(0, |(v, _)| v);
    let delay_ms = setting(ctx.last, TW_REUSE_DELAY).map_or(DEFAULT_REUSE_DELAY_MS, |(v, _)| v);
    let timestamps = setting(ctx.last, TIMESTAMPS).is_none_or(|(v, _)| v != 0);
    let reuse_applies = |local: IpAddr, remote: IpAddr| {
        timestamps && (reuse == 1 || (reuse == 2 && (local.is_loopback() || remote.is_loopback())))
    };

    let mut f = info.finding(Status::Pass, "");
    f.evidence.push(Evidence::value(
        PORT_RANGE,
        &format!("{lo} {hi} (usable ports)"),
        f64::from(size),
    ));
    if reserved_in_range > 0 {
        f.notes.push(format!(
            "{reserved_in_range} ports of the range are reserved (ip_local_reserved_ports)"
        ));
    }
    f.observed.push(Observed::new(
        "ephemeral_ports",
        f64::from(size),
        Unit::Count,
    ));
    if let Some(tw) = tw {
        f.observed
            .push(Observed::new("time_wait_sockets", tw as f64, Unit::Count));
        f.evidence
            .push(Evidence::value(SOCKSTAT, "TCP:tw", tw as f64));
    }
    for path in [TW_REUSE, TW_REUSE_DELAY, TIMESTAMPS, MAX_TW] {
        if let Some((_, e)) = setting(ctx.last, path) {
            f.evidence.push(e);
        }
    }
    let src = "suggested (no published standard): warn 60 %, crit 80 % of the range";
    let mut busiest: Option<(usize, SocketAddr)> = None;
    let mut bound_share = None;
    let mut dumped_time_wait = None;
    match &ctx.last.sockets {
        Some(Ok(dump)) if dump.states_mask & port_holding_states() != port_holding_states() => {
            f.notes.push(format!(
                "per-destination use not read: sockstat counts fewer TCP sockets than {}% of the range, so no destination can reach it",
                cfg.warn_pct
            ));
        }
        Some(Ok(dump)) => {
            let u = port_use(&dump.sockets, (lo, hi), reuse_applies, delay_ms);
            f.evidence.push(Evidence::value(
                INET_DIAG,
                "local ports of the range in use",
                u.bound as f64,
            ));
            f.evidence.push(Evidence::value(
                INET_DIAG,
                "TIME-WAIT sockets",
                u.time_wait as f64,
            ));
            dumped_time_wait = Some(u.time_wait);
            for (n, dst) in u.rows.iter().take(5) {
                f.observed.push(
                    Observed::new(
                        "ephemeral_port_use_ratio",
                        *n as f64 / f64::from(size),
                        Unit::Ratio,
                    )
                    .label("destination", dst.to_string())
                    .thresholds(
                        cfg.warn_pct / 100.0,
                        cfg.crit_pct / 100.0,
                        src,
                    ),
                );
            }
            let share = u.bound as f64 / f64::from(size);
            f.observed.push(
                Observed::new("ephemeral_ports_bound_ratio", share, Unit::Ratio).warn_only(
                    cfg.warn_pct / 100.0,
                    "suggested: code that binds before connecting needs a port no socket holds",
                ),
            );
            if u.reusable > 0 {
                f.notes.push(format!(
                    "{} TIME_WAIT sockets older than {delay_ms} ms do not hold their port for connect(): tcp_tw_reuse={reuse} applies to them",
                    u.reusable
                ));
            }
            if dump
                .sockets
                .iter()
                .any(|s| s.state == state::TIME_WAIT && s.expires_ms == 0)
                && reuse != 0
            {
                f.notes.push(
                    "the capture has no TIME_WAIT ages: every TIME_WAIT socket is counted as holding its port".into(),
                );
            }
            busiest = u.rows.first().copied();
            bound_share = Some((u.bound, share));
        }
        Some(Err(e)) => {
            f.partial = Some(format!(
                "the socket table could not be read ({e}); per-destination use not measured"
            ));
        }
        None => {}
    }

    // Rates: TIME_WAIT bucket overflow and the connection-open rate against range/60.
    match (both(ctx, NETSTAT, parse::parse_netstat), ctx.first) {
        (Ok((Some(first), last)), _) => {
            if let Some(e) = counter(
                ctx,
                NETSTAT,
                Some(&first),
                &last,
                "TcpExt",
                "TCPTimeWaitOverflow",
            ) {
                if e.delta.unwrap_or(0.0) > 0.0 {
                    f.raise(Status::Warn);
                    f.notes.push(format!(
                        "TCPTimeWaitOverflow rose by {}: tcp_max_tw_buckets was reached and TIME_WAIT sockets were destroyed early",
                        e.delta.unwrap_or(0.0)
                    ));
                }
                f.evidence.push(e);
            }
        }
        (Err(p), _) => f.notes.push(format!("TcpExt counters: {}", p.message())),
        (Ok(_), None) => f
            .notes
            .push("--interval 0: connection-open rate and TIME_WAIT overflows not measured".into()),
        _ => {}
    }
    if ctx.first.is_some() {
        match pair(ctx, SNMP, parse::parse_netstat) {
            Ok((a, b)) => {
                if let Some(e) = counter(ctx, SNMP, Some(&a), &b, "Tcp", "ActiveOpens") {
                    let capacity = f64::from(size) / 60.0;
                    if let Some(rate) = e.rate_per_sec {
                        let mut o = Observed::new(
                            "connect_rate_share_of_capacity_ratio",
                            rate / capacity,
                            Unit::Ratio,
                        );
                        if reuse == 1 && timestamps {
                            f.notes.push(
                                "tcp_tw_reuse=1: TIME_WAIT does not limit the connection-open rate"
                                    .into(),
                            );
                        } else {
                            o = o.warn_only(
                                cfg.open_rate_warn_pct / 100.0,
                                "TIME_WAIT lasts 60 s, so one destination sustains range/60 new connections per second; an upper bound (all destinations together)",
                            );
                        }
                        f.observed.push(o);
                    }
                    f.evidence.push(e);
                }
            }
            Err(p) => f.notes.push(format!("ActiveOpens: {}", p.message())),
        }
    }
    f.judge_observed();
    let tw_text = time_wait_words(dumped_time_wait, tw);
    f.summary = match (busiest, bound_share) {
        (Some((n, dst)), Some((bound, share))) => format!(
            "busiest destination {dst} holds {n} of {size} ports for new connections ({}); {bound} ports of the range bound ({}); {tw_text}",
            pct(n as f64 / f64::from(size)),
            pct(share)
        ),
        (None, Some((bound, share))) => format!(
            "no destination holds ports for new connections; {bound} of {size} ports bound ({}); {tw_text}",
            pct(share)
        ),
        _ => format!("{size} ephemeral ports; {tw_text}"),
    };
    Ok(f)
}

/// How many sockets are in TIME_WAIT, in words that say what was counted: the TIME-WAIT
/// sockets of the socket dump when one was taken, else /proc/net/sockstat `tw`. The kernel's
/// `tw` counts every timewait socket of the namespace's death row, and an orphaned connection
/// that closes in FIN-WAIT-2 waits out tcp_fin_timeout as one of them (`tcp_time_wait(sk,
/// TCP_FIN_WAIT2, ..)` in net/ipv4/tcp.c), so `tw` is TIME-WAIT plus those.
fn time_wait_words(dumped: Option<usize>, sockstat_tw: Option<u64>) -> String {
    match (dumped, sockstat_tw) {
        (Some(n), _) => format!("{n} sockets in TIME-WAIT"),
        (None, Some(tw)) => {
            format!("{tw} sockets in TIME-WAIT or FIN-WAIT-2 timewait (sockstat tw)")
        }
        (None, None) => "TIME-WAIT sockets not counted".into(),
    }
}

pub static LISTEN_OVERFLOW: super::Check = super::Check {
    info: CheckInfo {
        id: "listen-overflow",
        title: "Accept queue overflowing",
        symptom: "Clients time out or wait seconds to connect while the server looks idle; connections are refused or reset under bursts",
        question: "Why are new connections to this server dropped when it is busy (\"SYNs to LISTEN sockets dropped\")?",
        confirm: "nstat -az TcpExtListenOverflows TcpExtListenDrops; ss -lnt (Recv-Q = accept queue, Send-Q = backlog)",
        log: "no kernel message: look at the application's accept loop and worker saturation",
        remediation: "The accept queue overflowed: the application accepts too slowly or its listen() backlog is too small. Make the accept loop faster (more workers, no blocking work before accept), raise the backlog in the application (e.g. nginx `listen ... backlog=N`) and net.core.somaxconn, which caps it.",
    },
    needs: || {
        let mut n = needs(&[NETSTAT, SOMAXCONN]);
        n.socket_states = state::mask(&[state::LISTEN]);
        n.socket_states_always = n.socket_states;
        n
    },
    rate_only: false,
    run: listen_overflow,
};

/// Every listener with the fill of its accept queue, fullest first: the queue's length
/// (`ss -lnt` Recv-Q, the kernel's `sk_ack_backlog`) over its backlog (Send-Q,
/// `sk_max_ack_backlog`, what listen() asked for capped by net.core.somaxconn).
///
/// The kernel drops a new connection when the queue is longer than the backlog
/// (`sk_acceptq_is_full` in include/net/sock.h: `sk_ack_backlog > sk_max_ack_backlog`), so a
/// listener with backlog 0 (`listen(fd, 0)`) still holds one connection: its fill is counted
/// over 1, and one queued connection fills it. Listeners of any backlog are counted.
fn listener_fill(sockets: &[TcpSocket]) -> Vec<(f64, &TcpSocket)> {
    let mut rows: Vec<_> = sockets
        .iter()
        .filter(|s| s.state == state::LISTEN)
        .map(|s| (f64::from(s.recv_q) / f64::from(s.send_q.max(1)), s))
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    rows
}

fn listen_overflow(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.listen_overflow;
    let mut f = LISTEN_OVERFLOW.info.finding(Status::Pass, "");
    let (first, last) = both(ctx, NETSTAT, parse::parse_netstat)?;
    let somaxconn = setting(ctx.last, SOMAXCONN);
    if let Some((_, e)) = &somaxconn {
        f.evidence.push(e.clone());
    }
    let mut overflow_rate = None;
    if let Some(e) = counter(
        ctx,
        NETSTAT,
        first.as_ref(),
        &last,
        "TcpExt",
        "ListenOverflows",
    ) {
        if let Some(rate) = e.rate_per_sec {
            overflow_rate = Some(rate);
            f.observed.push(
                Observed::new("listen_overflows_per_second", rate, Unit::PerSecond).thresholds(
                    cfg.warn_per_sec,
                    cfg.crit_per_sec,
                    "netdata 1m_tcp_accept_queue_overflows: warn > 1/s, crit > 5/s",
                ),
            );
        }
        f.evidence.push(e);
    } else {
        f.notes
            .push("this kernel prints no TcpExt:ListenOverflows".into());
    }
    if let Some(e) = counter(ctx, NETSTAT, first.as_ref(), &last, "TcpExt", "ListenDrops") {
        f.evidence.push(e);
        f.notes.push(
            "ListenDrops (what `netstat -s` prints as \"SYNs to LISTEN sockets dropped\") also counts SYN-queue drops: see syn-flood".into(),
        );
    }
    if first.is_none() {
        f.notes
            .push("--interval 0: overflow rate not measured, only queue fill".into());
    }
    let mut full: Vec<String> = Vec::new();
    let mut listeners = 0;
    match &ctx.last.sockets {
        Some(Ok(dump)) => {
            let rows = listener_fill(&dump.sockets);
            listeners = rows.len();
            f.evidence
                .push(Evidence::value(INET_DIAG, "listeners", rows.len() as f64));
            for (fill, s) in rows.iter().take(5) {
                let id = |o: Observed| {
                    o.label("address", s.local.ip().to_string())
                        .label("port", s.local.port().to_string())
                };
                let o = id(Observed::new("accept_queue_fill_ratio", *fill, Unit::Ratio))
                    .thresholds(
                        cfg.queue_warn_pct / 100.0,
                        cfg.queue_crit_pct / 100.0,
                        "suggested: a full accept queue drops new connections",
                    );
                if o.judge() != Status::Pass {
                    full.push(format!(
                        "port {}: {} queued, backlog {}",
                        s.local.port(),
                        s.recv_q,
                        s.send_q
                    ));
                    if s.send_q == 0 {
                        f.notes.push(format!(
                            "{} listens with a backlog of 0 (listen(fd, 0)): its accept queue holds one connection and drops the next",
                            s.local
                        ));
                    }
                    if let Some((max, _)) = somaxconn
                        && u64::from(s.send_q) >= max
                    {
                        f.notes.push(format!(
                            "the backlog of {} is capped by net.core.somaxconn={max}",
                            s.local
                        ));
                    }
                }
                f.observed.push(o);
                f.observed.push(id(Observed::new(
                    "accept_queue_length",
                    f64::from(s.recv_q),
                    Unit::Count,
                )));
                f.observed.push(id(Observed::new(
                    "accept_queue_backlog",
                    f64::from(s.send_q),
                    Unit::Count,
                )));
            }
        }
        Some(Err(e)) => {
            f.partial = Some(format!(
                "the listening sockets could not be read ({e}); queue fill not measured"
            ));
        }
        None => {
            if overflow_rate.is_none() {
                return Err(super::Problem::Skip(
                    "nothing measured: one sample and no TCP socket table here".into(),
                ));
            }
        }
    }
    f.judge_observed();
    let mut parts = Vec::new();
    if let Some(r) = overflow_rate {
        parts.push(format!("{r:.1} accept-queue overflows/s"));
    }
    match (&ctx.last.sockets, full.is_empty()) {
        (Some(Ok(_)), true) => {
            parts.push(format!("no full accept queue among {listeners} listeners"))
        }
        (Some(Ok(_)), false) => parts.push(format!("full accept queue: {}", full.join(", "))),
        _ => {}
    }
    f.summary = parts.join("; ");
    Ok(f)
}

pub static SYN_FLOOD: super::Check = super::Check {
    info: CheckInfo {
        id: "syn-flood",
        title: "SYN queue overflowing",
        symptom: "Connection attempts time out (the client retries its SYN after 1, 3, 7 s) while established connections work; the kernel log says \"Possible SYN flooding on port N\"",
        question: "Is this server under a SYN flood, or is its SYN queue too small for legitimate load?",
        confirm: "nstat -az TcpExtTCPReqQFullDrop TcpExtTCPReqQFullDoCookies TcpExtListenDrops TcpExtListenOverflows; ss -tan state syn-recv | wc -l; journalctl -k | grep 'SYN flooding'",
        log: "journalctl -k: \"Possible SYN flooding on port N. Sending cookies\" (or \"Dropping request\" when syncookies are off)",
        remediation: "A listener's SYN queue is as long as its accept backlog: raise the application's listen() backlog and net.core.somaxconn, which caps it. Keep net.ipv4.tcp_syncookies=1 (the default) so a full SYN queue answers with cookies instead of dropping; net.ipv4.tcp_max_syn_backlog matters only when cookies are off. Filter abusive sources upstream (rate limits, nftables). Cookies sent under legitimate load mean the queues are too small.",
    },
    needs: || {
        let mut n = needs(&[NETSTAT, SYNCOOKIES, MAX_SYN_BACKLOG, SOMAXCONN]);
        n.kernel_log = true;
        n.socket_states = state::mask(&[state::LISTEN]);
        n.socket_states_always = n.socket_states;
        n
    },
    rate_only: true,
    run: syn_flood,
};

fn syn_flood(ctx: &Ctx) -> Outcome<Finding> {
    rate_only(ctx)?;
    let cfg = &ctx.cfg.syn_flood;
    let mut f = SYN_FLOOD.info.finding(Status::Pass, "");
    let (first, last) = pair(ctx, NETSTAT, parse::parse_netstat)?;
    let src = "netdata 1m_tcp_syn_queue_drops / 1m_tcp_syn_queue_cookies: warn > 1/s, crit > 5/s";
    let rate = |name: &str| counter(ctx, NETSTAT, Some(&first), &last, "TcpExt", name);
    let mut parts = Vec::new();
    // SYN-queue drops: TCPReqQFullDrop (queue full, cookies off). Every other listen drop
    // that is not an accept-queue overflow happened before the accept queue too: the
    // tcp_max_syn_backlog early drop with cookies off (counted nowhere else), no route for
    // the SYN-ACK, memory. Kernels without TCPReqQFullDrop have only that difference.
    let full_drop = rate("TCPReqQFullDrop");
    let drops = rate("ListenDrops");
    let overflows = rate("ListenOverflows");
    let other_drops = match (&drops, &overflows) {
        (Some(d), Some(o)) => {
            Some((d.delta.unwrap_or(0.0) - o.delta.unwrap_or(0.0)).max(0.0) / ctx.secs)
        }
        _ => None,
    };
    let full_rate = full_drop.as_ref().and_then(|e| e.rate_per_sec);
    if let Some(r) = full_rate.or(other_drops) {
        f.observed.push(
            Observed::new("syn_queue_drops_per_second", r, Unit::PerSecond).thresholds(
                cfg.warn_per_sec,
                cfg.crit_per_sec,
                src,
            ),
        );
        if r > 0.0 {
            parts.push(format!(
                "{r:.1} connection attempts dropped/s for a full SYN queue"
            ));
        }
    }
    if let (Some(full), Some(other)) = (full_rate, other_drops) {
        let other = (other - full).max(0.0);
        f.observed.push(
            Observed::new("syn_drops_other_per_second", other, Unit::PerSecond).warn_only(
                cfg.warn_per_sec,
                "suggested: SYNs dropped before the accept queue for another reason",
            ),
        );
        if other > 0.0 {
            parts.push(format!(
                "{other:.1} SYNs/s dropped before the accept queue for another reason (the tcp_max_syn_backlog early drop with cookies off, no route for the SYN-ACK, memory)"
            ));
        }
    }
    if let Some(e) = rate("TCPReqQFullDoCookies") {
        if let Some(r) = e.rate_per_sec {
            f.observed.push(
                Observed::new("syn_queue_full_cookies_per_second", r, Unit::PerSecond).thresholds(
                    cfg.warn_per_sec,
                    cfg.crit_per_sec,
                    src,
                ),
            );
            if r > 0.0 {
                parts.push(format!("{r:.1} SYN cookies/s for a full queue"));
            }
        }
        f.evidence.push(e);
    }
    for e in [full_drop, drops, overflows].into_iter().flatten() {
        f.evidence.push(e);
    }
    for name in ["SyncookiesSent", "SyncookiesFailed"] {
        if let Some(e) = rate(name) {
            f.evidence.push(e);
        }
    }
    let cookies = setting(ctx.last, SYNCOOKIES);
    if let Some((v, e)) = &cookies {
        if *v == 0 {
            f.notes.push(
                "net.ipv4.tcp_syncookies=0: a full SYN queue drops connection attempts instead of answering with cookies".into(),
            );
            if let Some((_, e)) = setting(ctx.last, MAX_SYN_BACKLOG) {
                f.evidence.push(e);
            }
        }
        f.evidence.push(e.clone());
    }
    if let Some((_, e)) = setting(ctx.last, SOMAXCONN) {
        f.evidence.push(e);
    }
    f.judge_observed();
    // The kernel log is the whole host's: keep the messages about this namespace's listeners.
    let ports: Option<std::collections::BTreeSet<u16>> = match &ctx.last.sockets {
        Some(Ok(d)) => Some(
            d.sockets
                .iter()
                .filter(|s| s.state == state::LISTEN)
                .map(|s| s.local.port())
                .collect(),
        ),
        _ => None,
    };
    let logged = super::kernel_log_where(ctx, &mut f, |text| match (&ports, flood_port(text)) {
        (Some(ports), Some(port)) => ports.contains(&port),
        _ => true,
    });
    if logged > 0 {
        f.raise(Status::Warn);
        parts.push(format!(
            "{logged} \"Possible SYN flooding\" kernel messages"
        ));
    }
    f.summary = if parts.is_empty() {
        "no SYN-queue drops or cookies in the interval".into()
    } else {
        parts.join("; ")
    };
    Ok(f)
}

/// The port of "Possible SYN flooding on port 8080." or "... on port 10.0.0.1:8080.".
fn flood_port(text: &str) -> Option<u16> {
    let rest = &text[text.find("on port ")? + "on port ".len()..];
    let token = rest.split_whitespace().next()?.trim_end_matches('.');
    token.rsplit(':').next()?.parse().ok()
}

pub static TCP_RETRANSMITS: super::Check = super::Check {
    info: CheckInfo {
        id: "tcp-retransmits",
        title: "Packet loss and TCP timeouts",
        symptom: "Requests to a backend time out or take seconds longer than usual (\"upstream timed out\"); throughput drops",
        question: "Upstream timeouts: is the network losing packets, or is the backend slow?",
        confirm: "nstat -az TcpRetransSegs TcpOutSegs TcpExtTCPTimeouts TcpExtTCPSynRetrans; curl -w '%{time_connect} %{time_starttransfer} %{time_total}\\n' -o /dev/null -s URL",
        log: "the proxy's error log (nginx: \"upstream timed out ... while connecting to upstream\" is the network or the backend's listen queue; \"... while reading response header from upstream\" is a slow backend)",
        remediation: "Retransmits and timeouts point at loss or an overloaded peer: look at NIC and softnet drops on both ends and the path between; SYN retransmits mean the backend's listen queue or the network drops connection attempts. When time_connect is short and time_starttransfer long, the backend is slow, not the network; raise proxy_read_timeout only when it is healthy but slow by design.",
    },
    needs: || needs(&[SNMP, NETSTAT]),
    rate_only: true,
    run: tcp_retransmits,
};

/// The share of the TCP segments sent in an interval that were retransmissions:
/// RetransSegs / (OutSegs + RetransSegs), `None` when nothing was sent.
///
/// OutSegs excludes "those containing only retransmitted octets" and RetransSegs counts
/// "segments transmitted containing one or more previously transmitted octets" (RFC 4022,
/// TCP-MIB tcpOutSegs / tcpRetransSegs; Linux counts OutSegs in `__tcp_transmit_skb` only
/// for a segment that carries new sequence space or none). Every segment sent is in one of
/// them, so their sum is what was sent and the share never exceeds 100 %, where
/// RetransSegs / OutSegs (a ratio some dashboards plot) passes 100 % under heavy loss
/// and has no value when only retransmissions (SYN retries to a dead peer) were sent.
fn retransmit_share(out_segs: f64, retrans_segs: f64) -> Option<f64> {
    let sent = out_segs.max(0.0) + retrans_segs.max(0.0);
    (sent > 0.0).then(|| retrans_segs.max(0.0) / sent)
}

fn tcp_retransmits(ctx: &Ctx) -> Outcome<Finding> {
    rate_only(ctx)?;
    let cfg = &ctx.cfg.tcp_retransmits;
    let mut f = TCP_RETRANSMITS.info.finding(Status::Pass, "");
    let (a, b) = pair(ctx, SNMP, parse::parse_netstat)?;
    let (Some(out), Some(re)) = (
        counter(ctx, SNMP, Some(&a), &b, "Tcp", "OutSegs"),
        counter(ctx, SNMP, Some(&a), &b, "Tcp", "RetransSegs"),
    ) else {
        return Err(super::Problem::Skip(format!(
            "{SNMP} has no Tcp OutSegs/RetransSegs counters here"
        )));
    };
    let d_out = out.delta.unwrap_or(0.0).max(0.0);
    let d_re = re.delta.unwrap_or(0.0).max(0.0);
    let sent = d_out + d_re;
    let secs = ctx.secs;
    // (status, phrase) for every number measured; the summary leads with the judged ones.
    let mut phrases: Vec<(Status, String)> = Vec::new();
    match retransmit_share(d_out, d_re) {
        Some(share) => {
            let mut o = Observed::new("tcp_retransmit_ratio", share, Unit::Ratio);
            let judged = sent >= cfg.min_out_segs;
            if judged {
                o = o.thresholds(
                    cfg.warn_pct / 100.0,
                    cfg.crit_pct / 100.0,
                    "suggested: warn 2 %, crit 10 % of segments sent",
                );
            } else {
                f.notes.push(format!(
                    "only {sent} segments sent in the interval (< {}): the retransmitted share is not judged",
                    cfg.min_out_segs
                ));
            }
            phrases.push((
                o.judge(),
                format!(
                    "{} of segments sent were retransmissions ({d_re} of {sent} in {secs:.1} s{})",
                    pct(share),
                    if judged { "" } else { ", too few to judge" }
                ),
            ));
            f.observed.push(o);
        }
        None => phrases.push((Status::Pass, format!("no TCP segments sent in {secs:.1} s"))),
    }
    f.evidence.push(out);
    f.evidence.push(re);
    match both(ctx, NETSTAT, parse::parse_netstat) {
        Ok((first, last)) => {
            for (name, metric, warn, what) in [
                (
                    "TCPTimeouts",
                    "tcp_timeouts_per_second",
                    cfg.timeouts_warn_per_sec,
                    "retransmission timeouts/s (no ACK in time)",
                ),
                (
                    "TCPSynRetrans",
                    "tcp_syn_retransmits_per_second",
                    cfg.syn_retrans_warn_per_sec,
                    "SYN retransmits/s (connection attempts not answered)",
                ),
            ] {
                if let Some(e) = counter(ctx, NETSTAT, first.as_ref(), &last, "TcpExt", name) {
                    if let Some(r) = e.rate_per_sec {
                        let o =
                            Observed::new(metric, r, Unit::PerSecond).warn_only(warn, "suggested");
                        if r > 0.0 {
                            phrases.push((o.judge(), format!("{r:.1} {what}")));
                        }
                        f.observed.push(o);
                    }
                    f.evidence.push(e);
                }
            }
        }
        Err(p) => f.notes.push(format!("TcpExt counters: {}", p.message())),
    }
    f.judge_observed();
    // Worst first; the sort is stable, so equals keep their order (the share first).
    phrases.sort_by_key(|(s, _)| std::cmp::Reverse(s.rank()));
    f.summary = phrases
        .into_iter()
        .map(|(_, p)| p)
        .collect::<Vec<_>>()
        .join("; ");
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tw(port: u16, expires_ms: u32) -> TcpSocket {
        TcpSocket {
            state: state::TIME_WAIT,
            local: SocketAddr::new("127.0.0.1".parse().unwrap(), port),
            remote: "127.0.0.1:8080".parse().unwrap(),
            recv_q: 0,
            send_q: 0,
            inode: 0,
            uid: 0,
            timer: 3,
            expires_ms,
        }
    }

    fn listener(port: u16, queued: u32, backlog: u32) -> TcpSocket {
        TcpSocket {
            state: state::LISTEN,
            local: SocketAddr::new("0.0.0.0".parse().unwrap(), port),
            remote: "0.0.0.0:0".parse().unwrap(),
            recv_q: queued,
            send_q: backlog,
            ..tw(0, 0)
        }
    }

    #[test]
    fn listeners_with_backlog_zero_are_counted_and_fill_with_one_connection() {
        let socks = [
            listener(8081, 64, 128),
            listener(8080, 1, 0),
            listener(8082, 0, 0),
            tw(40000, 1000),
        ];
        let rows = listener_fill(&socks);
        let got: Vec<(u16, f64)> = rows.iter().map(|(f, s)| (s.local.port(), *f)).collect();
        assert_eq!(got, vec![(8080, 1.0), (8081, 0.5), (8082, 0.0)]);
    }

    #[test]
    fn retransmitted_share_of_segments_sent() {
        // Only retransmitted SYNs: every segment sent was a retransmission, not "38 of 0".
        assert_eq!(retransmit_share(0.0, 38.0), Some(1.0));
        // Heavy loss: RetransSegs above OutSegs is still at most 100 %.
        let heavy = retransmit_share(520.0, 522.0).unwrap();
        assert!(heavy > 0.5 && heavy < 0.51, "{heavy}");
        assert_eq!(retransmit_share(9_800.0, 200.0), Some(0.02));
        assert_eq!(retransmit_share(0.0, 0.0), None);
        assert_eq!(retransmit_share(-5.0, 0.0), None);
    }

    #[test]
    fn time_wait_words_say_what_was_counted() {
        assert_eq!(time_wait_words(Some(3), Some(9)), "3 sockets in TIME-WAIT");
        assert!(time_wait_words(None, Some(9)).contains("9 sockets in TIME-WAIT or FIN-WAIT-2"));
        let socks = [tw(40000, 1000), tw(50000, 1000), listener(8080, 0, 0)];
        assert_eq!(
            port_use(&socks, (40000, 40999), |_, _| false, 1000).time_wait,
            2
        );
    }

    #[test]
    fn flood_ports() {
        assert_eq!(
            flood_port(
                "TCP: request_sock_TCP: Possible SYN flooding on port 10.200.1.2:8080. Sending cookies."
            ),
            Some(8080)
        );
        assert_eq!(
            flood_port(
                "TCP: Possible SYN flooding on port 80. Dropping request.  Check SNMP counters."
            ),
            Some(80)
        );
        assert_eq!(
            flood_port("Possible SYN flooding on port [::1]:443. Sending cookies."),
            Some(443)
        );
        assert_eq!(flood_port("nothing"), None);
    }

    #[test]
    fn reuse_frees_old_time_wait_ports_for_connect_only() {
        let socks: Vec<TcpSocket> = (0..900).map(|i| tw(40000 + i, 50_000)).collect();
        let none = port_use(&socks, (40000, 40999), |_, _| false, 1000);
        assert_eq!(none.rows[0].0, 900);
        assert_eq!(none.bound, 900);
        let reuse = port_use(&socks, (40000, 40999), |_, _| true, 1000);
        assert!(reuse.rows.is_empty());
        assert_eq!(reuse.reusable, 900);
        assert_eq!(
            reuse.bound, 900,
            "bind-before-connect still finds them taken"
        );
        // Younger than the reuse delay: still held.
        let young: Vec<TcpSocket> = (0..10).map(|i| tw(40000 + i, 59_500)).collect();
        assert_eq!(
            port_use(&young, (40000, 40999), |_, _| true, 1000).rows[0].0,
            10
        );
    }
}
