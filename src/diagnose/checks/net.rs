//! TCP checks: port exhaustion, accept-queue overflow, SYN-queue pressure, retransmits.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use procfs_core::net::Snmp;

use super::{Ctx, Outcome, Problem, both, counter, needs, parsed, pct, procfs, rate_only, setting};
use crate::diagnose::model::{CheckInfo, Evidence, Observed, Status, Unit};
use crate::host::netlink::inet_diag::state;
use crate::parse;

const SOCKSTAT: &str = "/proc/net/sockstat";
const NETSTAT: &str = "/proc/net/netstat";
const SNMP: &str = "/proc/net/snmp";
const PORT_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
const RESERVED: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";
const TW_REUSE: &str = "/proc/sys/net/ipv4/tcp_tw_reuse";
const MAX_TW: &str = "/proc/sys/net/ipv4/tcp_max_tw_buckets";
const SOMAXCONN: &str = "/proc/sys/net/core/somaxconn";
const SYNCOOKIES: &str = "/proc/sys/net/ipv4/tcp_syncookies";
const MAX_SYN_BACKLOG: &str = "/proc/sys/net/ipv4/tcp_max_syn_backlog";
const INET_DIAG: &str = "netlink:inet_diag";

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
        fault_line: "Dependency fault line 1: Port Exhaustion",
        confirm: "ss -tan state time-wait | wc -l; ss -tan state time-wait | awk '{print $4}' | sort | uniq -c | sort -rn | head",
        log: "application logs: connect() failing with EADDRNOTAVAIL (\"Cannot assign requested address\"); EADDRINUSE only when the code binds before connecting",
        remediation: "Reuse connections (HTTP keep-alive, connection pools) so fewer are opened; spread load over more destination addresses/ports; widen net.ipv4.ip_local_port_range. tcp_fin_timeout does not shorten TIME_WAIT (it governs FIN-WAIT-2); tcp_tw_reuse=1 only helps outgoing connections (default 2 = loopback only); tcp_tw_recycle is gone since Linux 4.12.",
    },
    needs: || {
        let mut n = needs(&[
            SOCKSTAT, NETSTAT, SNMP, PORT_RANGE, RESERVED, TW_REUSE, MAX_TW,
        ]);
        n.socket_states = port_holding_states();
        n.lazy_port_states = Some((port_holding_states(), 0.6));
        n
    },
    run: port_exhaustion,
};

/// Parses ip_local_reserved_ports: `1000,2000-2010`.
fn reserved_ports(b: &[u8]) -> Vec<(u16, u16)> {
    String::from_utf8_lossy(b)
        .trim()
        .split(',')
        .filter_map(|part| {
            let part = part.trim();
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            Some((lo.trim().parse().ok()?, hi.trim().parse().ok()?))
        })
        .collect()
}

fn port_exhaustion(ctx: &Ctx) -> Outcome<crate::diagnose::model::Finding> {
    let cfg = &ctx.cfg.port_exhaustion;
    let info = &PORT_EXHAUSTION.info;
    let (lo, hi) = parsed(ctx.last, PORT_RANGE, parse::parse_port_range)?;
    let reserved = match ctx.last.file(RESERVED) {
        crate::diagnose::sample::Data::Bytes(b) => reserved_ports(b),
        _ => Vec::new(),
    };
    let reserved_in_range: u32 = reserved
        .iter()
        .map(|&(a, b)| {
            let a = a.max(lo);
            let b = b.min(hi);
            if a <= b { (b - a) as u32 + 1 } else { 0 }
        })
        .sum();
    let size = ((hi - lo) as u32 + 1)
        .saturating_sub(reserved_in_range)
        .max(1);
    let sockstat = parsed(ctx.last, SOCKSTAT, parse::parse_sockstat)?;
    let tw = sockstat.get("TCP", "tw");

    let mut f = info.finding(Status::Pass, "");
    f.evidence
        .push(Evidence::value(PORT_RANGE, "low high", f64::from(lo)));
    f.evidence.last_mut().unwrap().field = format!("{lo} {hi}");
    f.evidence.last_mut().unwrap().value = f64::from(size);
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
    } else {
        f.notes
            .push("this kernel's /proc/net/sockstat has no tw field".to_string());
    }
    for path in [TW_REUSE, MAX_TW] {
        if let Some((_, e)) = setting(ctx.last, path) {
            f.evidence.push(e);
        }
    }

    // Ephemeral ports in use per (local address, destination), from the socket dump.
    let mut busiest: Option<(String, usize)> = None;
    match &ctx.last.sockets {
        Some(Ok(dump)) if dump.states_mask & port_holding_states() != port_holding_states() => {
            f.notes.push(format!(
                "per-destination use not dumped: sockstat counts fewer TCP sockets than {}% of the range, so no destination can reach it",
                cfg.warn_pct
            ));
        }
        Some(Ok(dump)) => {
            let mut per_dst: BTreeMap<(std::net::IpAddr, SocketAddr), BTreeSet<u16>> =
                BTreeMap::new();
            for s in &dump.sockets {
                let port = s.local.port();
                if s.state == state::LISTEN || port < lo || port > hi || s.remote.port() == 0 {
                    continue;
                }
                per_dst
                    .entry((s.local.ip(), s.remote))
                    .or_default()
                    .insert(port);
            }
            let mut rows: Vec<(usize, String)> = per_dst
                .iter()
                .map(|((_, dst), ports)| (ports.len(), dst.to_string()))
                .collect();
            rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            f.evidence.push(Evidence::value(
                INET_DIAG,
                "sockets with an ephemeral local port",
                per_dst.values().map(|p| p.len()).sum::<usize>() as f64,
            ));
            for (n, dst) in rows.iter().take(5) {
                f.observed.push(
                    Observed::new(
                        "ephemeral_port_use_ratio",
                        *n as f64 / f64::from(size),
                        Unit::Ratio,
                    )
                    .label("dst", dst.clone())
                    .label("ports", n.to_string())
                    .thresholds(
                        cfg.warn_pct / 100.0,
                        cfg.crit_pct / 100.0,
                        "suggested (no published standard): warn 60 %, crit 80 % of the range",
                    ),
                );
            }
            busiest = rows.first().map(|(n, d)| (d.clone(), *n));
        }
        Some(Err(e)) => f
            .notes
            .push(format!("per-destination port use not measured: {e}")),
        None => {}
    }

    // Rates: TIME_WAIT bucket overflow and the connection-open rate against range/60.
    let netstat = both(ctx, NETSTAT, parse::parse_netstat);
    match (&netstat, ctx.first) {
        (Ok((Some(first), last)), _) => {
            if let Some(e) = counter(
                ctx,
                NETSTAT,
                Some(first),
                last,
                "TcpExt",
                "TCPTimeWaitOverflow",
            ) {
                if e.delta.unwrap_or(0.0) > 0.0 {
                    f.raise(Status::Warn);
                    f.notes.push(format!(
                        "TCPTimeWaitOverflow rose by {} (tcp_max_tw_buckets reached: TIME_WAIT sockets are being destroyed early)",
                        e.delta.unwrap_or(0.0)
                    ));
                }
                f.evidence.push(e);
            }
            if let Some(e) = counter(ctx, NETSTAT, Some(first), last, "TcpExt", "TW") {
                f.evidence.push(e);
            }
        }
        (Err(p), _) => f.notes.push(format!("TcpExt counters: {}", p.message())),
        _ => {}
    }
    if ctx.first.is_some() {
        match snmp_pair(ctx) {
            Ok((Some(a), b)) => {
                let e = Evidence::counter(
                    SNMP,
                    "Tcp:ActiveOpens",
                    Some(a.tcp_active_opens as f64),
                    b.tcp_active_opens as f64,
                    ctx.secs,
                );
                let capacity = f64::from(size) / 60.0;
                if let Some(rate) = e.rate_per_sec {
                    f.observed.push(
                        Observed::new("connect_rate_share_of_capacity_ratio", rate / capacity, Unit::Ratio)
                            .label("capacity_per_second", format!("{capacity:.0}"))
                            .warn_only(
                                cfg.open_rate_warn_pct / 100.0,
                                "TIME_WAIT lasts 60 s, so one destination sustains range/60 new connections per second; an upper bound (all destinations together)",
                            ),
                    );
                }
                f.evidence.push(e);
            }
            Ok(_) => {}
            Err(p) => f.notes.push(format!("ActiveOpens: {}", p.message())),
        }
    } else {
        f.notes
            .push("--interval 0: connection-open rate and TCPTimeWaitOverflow not measured".into());
    }
    f.judge_observed();
    f.summary = match (&busiest, tw) {
        (Some((dst, n)), tw) => format!(
            "{} TIME_WAIT; busiest destination {dst} holds {n} of {size} ephemeral ports ({})",
            tw.map_or("?".to_string(), |t| t.to_string()),
            pct(*n as f64 / f64::from(size))
        ),
        (None, Some(tw)) => format!("{tw} TIME_WAIT sockets; {size} ephemeral ports"),
        (None, None) => format!("{size} ephemeral ports"),
    };
    Ok(f)
}

fn snmp_pair(ctx: &Ctx) -> Outcome<(Option<Snmp>, Snmp)> {
    let last: Snmp = procfs(ctx.last, SNMP)?;
    let first = match ctx.first {
        Some(s) => Some(procfs::<Snmp>(s, SNMP)?),
        None => None,
    };
    Ok((first, last))
}

pub static LISTEN_OVERFLOW: super::Check = super::Check {
    info: CheckInfo {
        id: "listen-overflow",
        fault_line: "Troubleshooting matrix: SYN Flooding (the accept queue: `netstat -s | grep \"SYNs to LISTEN\"` prints ListenDrops)",
        confirm: "nstat -az TcpExtListenOverflows TcpExtListenDrops; ss -lnt (Recv-Q = accept queue, Send-Q = backlog)",
        log: "journalctl -k (no kernel message for accept-queue overflow; check the application's accept loop)",
        remediation: "The accept queue overflowed: the application accepts too slowly or its listen() backlog is too small. This is not a SYN flood. Make the accept loop faster (more workers, no blocking work before accept), raise the backlog in the application (e.g. nginx `listen ... backlog=N`) and net.core.somaxconn, which caps it.",
    },
    needs: || {
        let mut n = needs(&[NETSTAT, SOMAXCONN]);
        n.socket_states = state::mask(&[state::LISTEN]);
        n.socket_states_always = n.socket_states;
        n
    },
    run: listen_overflow,
};

fn listen_overflow(ctx: &Ctx) -> Outcome<crate::diagnose::model::Finding> {
    let cfg = &ctx.cfg.listen_overflow;
    let mut f = LISTEN_OVERFLOW.info.finding(Status::Pass, "");
    let (first, last) = both(ctx, NETSTAT, parse::parse_netstat)?;
    let somaxconn = setting(ctx.last, SOMAXCONN);
    if let Some((_, e)) = &somaxconn {
        f.evidence.push(e.clone());
    }
    let mut worst_rate: Option<f64> = None;
    for name in ["ListenOverflows", "ListenDrops"] {
        if let Some(e) = counter(ctx, NETSTAT, first.as_ref(), &last, "TcpExt", name) {
            if let Some(rate) = e.rate_per_sec {
                worst_rate = Some(worst_rate.map_or(rate, |w: f64| w.max(rate)));
                let metric = if name == "ListenOverflows" {
                    "listen_overflows_per_second"
                } else {
                    "listen_drops_per_second"
                };
                f.observed
                    .push(Observed::new(metric, rate, Unit::PerSecond).thresholds(
                        cfg.warn_per_sec,
                        cfg.crit_per_sec,
                        "netdata: warn > 1/s, crit > 5/s (1-minute average); PCP fires on any",
                    ));
            }
            f.evidence.push(e);
        }
    }
    if first.is_none() {
        f.notes
            .push("--interval 0: overflow rates not measured, only queue fill".into());
    }
    let mut full: Vec<String> = Vec::new();
    match &ctx.last.sockets {
        Some(Ok(dump)) => {
            let mut listeners: Vec<_> = dump
                .sockets
                .iter()
                .filter(|s| s.state == state::LISTEN && s.send_q > 0)
                .map(|s| (f64::from(s.recv_q) / f64::from(s.send_q), s))
                .collect();
            listeners.sort_by(|a, b| b.0.total_cmp(&a.0));
            f.evidence.push(Evidence::value(
                INET_DIAG,
                "listeners",
                listeners.len() as f64,
            ));
            for (fill, s) in listeners.iter().take(5) {
                let o = Observed::new("accept_queue_fill_ratio", *fill, Unit::Ratio)
                    .label("listener", s.local.to_string())
                    .label("queue", s.recv_q.to_string())
                    .label("backlog", s.send_q.to_string())
                    .thresholds(
                        cfg.queue_warn_pct / 100.0,
                        cfg.queue_crit_pct / 100.0,
                        "suggested: a full accept queue drops new connections",
                    );
                if o.judge() != Status::Pass {
                    full.push(format!(
                        "port {} ({}/{})",
                        s.local.port(),
                        s.recv_q,
                        s.send_q
                    ));
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
            }
        }
        Some(Err(e)) => f
            .notes
            .push(format!("per-listener queues not measured: {e}")),
        None => {}
    }
    f.judge_observed();
    f.summary = match (worst_rate, full.is_empty()) {
        (Some(r), true) => format!("{r:.1} listen drops/s; no listener's accept queue is full"),
        (Some(r), false) => format!(
            "{r:.1} listen drops/s; full accept queue: {}",
            full.join(", ")
        ),
        (None, true) => "no listener's accept queue is full".to_string(),
        (None, false) => format!("full accept queue: {}", full.join(", ")),
    };
    Ok(f)
}

pub static SYN_FLOOD: super::Check = super::Check {
    info: CheckInfo {
        id: "syn-flood",
        fault_line: "Troubleshooting matrix: SYN Flooding (the SYN queue)",
        confirm: "nstat -az TcpExtTCPReqQFullDrop TcpExtTCPReqQFullDoCookies TcpExtSyncookiesSent TcpExtSyncookiesFailed; ss -tan state syn-recv | wc -l",
        log: "journalctl -k | grep \"Possible SYN flooding on port\"",
        remediation: "Keep net.ipv4.tcp_syncookies=1 (the default) so a full SYN queue sends cookies instead of dropping; raise net.ipv4.tcp_max_syn_backlog and the listen backlog; filter abusive sources upstream (rate limits, nftables). Cookies being sent under legitimate load mean the queues are too small.",
    },
    needs: || needs(&[NETSTAT, SYNCOOKIES, MAX_SYN_BACKLOG]),
    run: syn_flood,
};

fn syn_flood(ctx: &Ctx) -> Outcome<crate::diagnose::model::Finding> {
    rate_only(ctx)?;
    let cfg = &ctx.cfg.syn_flood;
    let mut f = SYN_FLOOD.info.finding(Status::Pass, "");
    let (first, last) = both(ctx, NETSTAT, parse::parse_netstat)?;
    let src = "netdata: warn > 1/s, crit > 5/s (1-minute average); PCP fires on any";
    let mut parts = Vec::new();
    for (name, metric, crit) in [
        ("TCPReqQFullDrop", "syn_queue_drops_per_second", true),
        (
            "TCPReqQFullDoCookies",
            "syn_queue_full_cookies_per_second",
            false,
        ),
        ("SyncookiesSent", "syncookies_sent_per_second", false),
        ("SyncookiesFailed", "syncookies_failed_per_second", false),
    ] {
        let Some(e) = counter(ctx, NETSTAT, first.as_ref(), &last, "TcpExt", name) else {
            f.notes.push(format!("this kernel has no TcpExt:{name}"));
            continue;
        };
        if let Some(rate) = e.rate_per_sec {
            let o = Observed::new(metric, rate, Unit::PerSecond);
            let o = if crit {
                o.thresholds(cfg.warn_per_sec, cfg.crit_per_sec, src)
            } else {
                o.warn_only(cfg.warn_per_sec, src)
            };
            if rate > 0.0 {
                parts.push(format!("{name} {rate:.1}/s"));
            }
            f.observed.push(o);
        }
        f.evidence.push(e);
    }
    if let Some((v, e)) = setting(ctx.last, SYNCOOKIES) {
        if v == 0 {
            f.notes.push(
                "net.ipv4.tcp_syncookies=0: a full SYN queue drops connections instead of sending cookies"
                    .into(),
            );
        }
        f.evidence.push(e);
    }
    if let Some((_, e)) = setting(ctx.last, MAX_SYN_BACKLOG) {
        f.evidence.push(e);
    }
    f.judge_observed();
    f.summary = if parts.is_empty() {
        "no SYN-queue drops or cookies in the interval".into()
    } else {
        format!("SYN queue under pressure: {}", parts.join(", "))
    };
    Ok(f)
}

pub static TCP_RETRANSMITS: super::Check = super::Check {
    info: CheckInfo {
        id: "tcp-retransmits",
        fault_line: "Troubleshooting matrix: Upstream Timeout",
        confirm: "nstat -az TcpRetransSegs TcpOutSegs TcpExtTCPTimeouts TcpExtTCPSynRetrans; curl -w '%{time_connect} %{time_starttransfer} %{time_total}\\n' -o /dev/null -s URL",
        log: "/var/log/nginx/error.log: \"while connecting to upstream\" (connect phase) vs \"while reading response header from upstream\" (backend slow; proxy_read_timeout defaults to 60 s)",
        remediation: "Retransmits and timeouts point at loss or an overloaded peer: check the backend's health and the path (NIC drops, softnet drops, congestion); SYN retransmits mean the backend's listen queue or network drops connection attempts. Raise proxy_read_timeout only when the backend is healthy but slow by design.",
    },
    needs: || needs(&[SNMP, NETSTAT]),
    run: tcp_retransmits,
};

fn tcp_retransmits(ctx: &Ctx) -> Outcome<crate::diagnose::model::Finding> {
    rate_only(ctx)?;
    let cfg = &ctx.cfg.tcp_retransmits;
    let mut f = TCP_RETRANSMITS.info.finding(Status::Pass, "");
    let (Some(a), b) = snmp_pair(ctx)? else {
        return Err(Problem::Skip("one sample".into()));
    };
    let out = Evidence::counter(
        SNMP,
        "Tcp:OutSegs",
        Some(a.tcp_out_segs as f64),
        b.tcp_out_segs as f64,
        ctx.secs,
    );
    let re = Evidence::counter(
        SNMP,
        "Tcp:RetransSegs",
        Some(a.tcp_retrans_segs as f64),
        b.tcp_retrans_segs as f64,
        ctx.secs,
    );
    let d_out = out.delta.unwrap_or(0.0);
    let d_re = re.delta.unwrap_or(0.0);
    let ratio = if d_out > 0.0 { d_re / d_out } else { 0.0 };
    let mut o = Observed::new("tcp_retransmit_ratio", ratio, Unit::Ratio);
    if d_out >= cfg.min_out_segs {
        o = o.thresholds(
            cfg.warn_pct / 100.0,
            cfg.crit_pct / 100.0,
            "suggested: warn 2 %, crit 10 % of segments sent",
        );
    } else {
        f.notes.push(format!(
            "only {d_out} segments sent in the interval (< {}): ratio not judged",
            cfg.min_out_segs
        ));
    }
    f.observed.push(o);
    f.evidence.push(out);
    f.evidence.push(re);
    if let Ok((first, last)) = both(ctx, NETSTAT, parse::parse_netstat) {
        for (name, metric, warn) in [
            (
                "TCPTimeouts",
                "tcp_timeouts_per_second",
                cfg.timeouts_warn_per_sec,
            ),
            (
                "TCPSynRetrans",
                "tcp_syn_retransmits_per_second",
                cfg.syn_retrans_warn_per_sec,
            ),
        ] {
            if let Some(e) = counter(ctx, NETSTAT, first.as_ref(), &last, "TcpExt", name) {
                if let Some(r) = e.rate_per_sec {
                    f.observed.push(
                        Observed::new(metric, r, Unit::PerSecond).warn_only(warn, "suggested"),
                    );
                }
                f.evidence.push(e);
            }
        }
    }
    f.judge_observed();
    f.summary = format!(
        "{} of segments retransmitted ({d_re} of {d_out} in {:.1} s)",
        pct(ratio),
        ctx.secs
    );
    Ok(f)
}
