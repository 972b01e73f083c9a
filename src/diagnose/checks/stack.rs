//! Kernel network-stack resources: TCP memory and orphans, UDP buffer errors, the
//! connection-tracking table.

use super::{
    Ctx, Outcome, Problem, both, counter, kernel_log, map_counter, needs, pair, parsed, pct,
    rate_only, setting,
};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::parse;

const SOCKSTAT: &str = "/proc/net/sockstat";
const NETSTAT: &str = "/proc/net/netstat";
const SNMP: &str = "/proc/net/snmp";
const SNMP6: &str = "/proc/net/snmp6";
const TCP_MEM: &str = "/proc/sys/net/ipv4/tcp_mem";
const MAX_ORPHANS: &str = "/proc/sys/net/ipv4/tcp_max_orphans";
const CT_COUNT: &str = "/proc/sys/net/netfilter/nf_conntrack_count";
const CT_MAX: &str = "/proc/sys/net/netfilter/nf_conntrack_max";
const CT_STAT: &str = "/proc/net/stat/nf_conntrack";

pub static TCP_MEMORY: super::Check = super::Check {
    info: CheckInfo {
        id: "tcp-memory",
        title: "TCP out of memory",
        symptom: "Connections stall or are reset at random under load; the kernel log says \"TCP: out of memory -- consider tuning tcp_mem\" or \"too many orphaned sockets\"",
        question: "Is the kernel throwing away TCP data or connections for lack of socket memory?",
        confirm: "cat /proc/net/sockstat; sysctl net.ipv4.tcp_mem net.ipv4.tcp_max_orphans; nstat -az TcpExtTCPMemoryPressures TcpExtPruneCalled TcpExtRcvPruned TcpExtTCPRcvCollapsed TcpExtTCPRcvQDrop TcpExtTCPAbortOnMemory",
        log: "journalctl -k: \"TCP: out of memory -- consider tuning tcp_mem\", \"TCP: too many orphaned sockets\"",
        remediation: "TCP memory (sockstat `mem`, in pages) is counted against net.ipv4.tcp_mem (pages: min, pressure, max): above pressure the kernel shrinks buffers, at max it drops data and resets connections. Raise tcp_mem in proportion to RAM, or cap per-socket buffers (tcp_rmem/tcp_wmem max) when many connections each buffer a lot; find sockets with large queues with `ss -tm`. Orphans (closed by the application, not yet by the peer) count double or quadruple: raise tcp_max_orphans or shorten tcp_fin_timeout. Pruned or collapsed receive queues mean applications read too slowly for their buffers.",
    },
    needs: || {
        let mut n = needs(&[SOCKSTAT, NETSTAT, TCP_MEM, MAX_ORPHANS]);
        n.kernel_log = true;
        n
    },
    rate_only: false,
    run: tcp_memory,
};

fn tcp_memory(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.tcp_memory;
    let mut f = TCP_MEMORY.info.finding(Status::Pass, "");
    let sockstat = parsed(ctx.last, SOCKSTAT, parse::parse_sockstat)?;
    let mut parts = Vec::new();
    let mem = sockstat.get("TCP", "mem");
    match (mem, ctx.last.bytes(TCP_MEM).map(parse::parse_triple)) {
        (Some(mem), Some(Ok((_, pressure, max)))) if max > 0 => {
            f.evidence
                .push(Evidence::value(SOCKSTAT, "TCP:mem (pages)", mem as f64));
            f.evidence.push(Evidence::value(
                TCP_MEM,
                "pressure (pages)",
                pressure as f64,
            ));
            f.evidence
                .push(Evidence::value(TCP_MEM, "max (pages)", max as f64));
            let share = mem as f64 / max as f64;
            f.observed.push(
                Observed::new("tcp_memory_ratio", share, Unit::Ratio).thresholds(
                    pressure as f64 / max as f64,
                    cfg.max_crit_pct / 100.0,
                    "netdata tcp_memory: warn above tcp_mem pressure, crit at 90 % of tcp_mem max",
                ),
            );
            parts.push(format!("TCP memory {} of tcp_mem max", pct(share)));
        }
        (Some(mem), tcp_mem) => {
            f.evidence
                .push(Evidence::value(SOCKSTAT, "TCP:mem (pages)", mem as f64));
            f.notes.push(match tcp_mem {
                Some(Err(e)) => format!("{TCP_MEM}: {e}"),
                _ => "net.ipv4.tcp_mem is not visible here (it is host-wide: absent inside a network namespace)".into(),
            });
        }
        (None, _) => f
            .notes
            .push("this kernel's sockstat has no TCP mem field".into()),
    }
    match (
        sockstat.get("TCP", "orphan"),
        setting(ctx.last, MAX_ORPHANS),
    ) {
        (Some(orphans), Some((max, e))) if max > 0 => {
            f.evidence.push(e);
            let share = orphans as f64 / max as f64;
            f.observed.push(
                Observed::new("tcp_orphans_ratio", share, Unit::Ratio).thresholds(
                    cfg.orphans_warn_pct / 100.0,
                    cfg.orphans_crit_pct / 100.0,
                    "netdata tcp_orphans: warn 25 %, crit 50 % (the kernel counts orphans up to 4x)",
                ),
            );
            parts.push(format!(
                "{orphans} orphans ({} of tcp_max_orphans)",
                pct(share)
            ));
        }
        (Some(orphans), _) => {
            f.evidence
                .push(Evidence::value(SOCKSTAT, "TCP:orphan", orphans as f64));
        }
        _ => {}
    }
    match both(ctx, NETSTAT, parse::parse_netstat) {
        Ok((Some(first), last)) => {
            for name in [
                "TCPMemoryPressures",
                "TCPAbortOnMemory",
                "PruneCalled",
                "TCPRcvCollapsed",
            ] {
                if let Some(e) = counter(ctx, NETSTAT, Some(&first), &last, "TcpExt", name) {
                    if e.delta.unwrap_or(0.0) > 0.0
                        && name != "TCPRcvCollapsed"
                        && name != "PruneCalled"
                    {
                        f.raise(Status::Warn);
                        parts.push(format!("{name} +{}", e.delta.unwrap_or(0.0)));
                    }
                    f.evidence.push(e);
                }
            }
            for (name, metric) in [
                ("RcvPruned", "tcp_receive_pruned_per_second"),
                ("TCPRcvQDrop", "tcp_receive_queue_drops_per_second"),
            ] {
                if let Some(e) = counter(ctx, NETSTAT, Some(&first), &last, "TcpExt", name) {
                    if let Some(r) = e.rate_per_sec {
                        f.observed
                            .push(Observed::new(metric, r, Unit::PerSecond).warn_only(
                                cfg.drops_warn_per_sec,
                                "suggested: received data thrown away for lack of memory",
                            ));
                    }
                    f.evidence.push(e);
                }
            }
        }
        Ok(_) => f
            .notes
            .push("--interval 0: memory-pressure events and pruning not measured".into()),
        Err(p) => f.notes.push(format!("TcpExt counters: {}", p.message())),
    }
    f.judge_observed();
    let logged = kernel_log(ctx, &mut f);
    if logged > 0 {
        f.raise(Status::Crit);
        parts.push(format!(
            "{logged} kernel messages about TCP memory or orphans"
        ));
    }
    if f.observed.is_empty() && f.status == Status::Pass && ctx.first.is_none() && mem.is_none() {
        return Err(Problem::Skip(
            "nothing to measure: no TCP memory counters".into(),
        ));
    }
    f.summary = if parts.is_empty() {
        "TCP memory and orphans within limits".into()
    } else {
        parts.join("; ")
    };
    Ok(f)
}

pub static UDP_ERRORS: super::Check = super::Check {
    info: CheckInfo {
        id: "udp-errors",
        title: "UDP datagrams dropped",
        symptom: "DNS lookups, metrics (statsd), syslog or QUIC traffic lose datagrams: retries, gaps, timeouts",
        question: "Are UDP datagrams dropped because receive or send buffers are full?",
        confirm: "nstat -az UdpRcvbufErrors UdpSndbufErrors UdpInErrors Udp6RcvbufErrors; ss -uanm (receive queue and skmem of each socket)",
        log: "no kernel message: the counters are the only record",
        remediation: "RcvbufErrors: a socket's receive buffer was full when a datagram arrived. Let the application read faster (more reader threads, SO_REUSEPORT sockets) and give it a larger buffer (SO_RCVBUF, capped by net.core.rmem_max; net.core.rmem_default for sockets that do not set one). SndbufErrors: raise SO_SNDBUF / net.core.wmem_max. InErrors without buffer errors point at bad checksums or a filter.",
    },
    needs: || needs(&[SNMP, SNMP6]),
    rate_only: true,
    run: udp_errors,
};

fn udp_errors(ctx: &Ctx) -> Outcome<Finding> {
    rate_only(ctx)?;
    let cfg = &ctx.cfg.udp_errors;
    let mut f = UDP_ERRORS.info.finding(Status::Pass, "");
    let (a, b) = pair(ctx, SNMP, parse::parse_netstat)?;
    let mut parts = Vec::new();
    let v6 = pair(ctx, SNMP6, parse::parse_snmp6).ok();
    let buffer_src = "netdata 1m_ipv4_udp_receive_buffer_errors / send_buffer_errors: warn > 10/s";
    for (name, v6name, metric) in [
        (
            "RcvbufErrors",
            "Udp6RcvbufErrors",
            "udp_receive_buffer_errors_per_second",
        ),
        (
            "SndbufErrors",
            "Udp6SndbufErrors",
            "udp_send_buffer_errors_per_second",
        ),
        ("InErrors", "Udp6InErrors", "udp_in_errors_per_second"),
    ] {
        let v4 = counter(ctx, SNMP, Some(&a), &b, "Udp", name);
        let six = v6
            .as_ref()
            .and_then(|(x, y)| map_counter(ctx, SNMP6, Some(x), y, v6name));
        let rate: Option<f64> = [&v4, &six]
            .iter()
            .filter_map(|e| e.as_ref().and_then(|e| e.rate_per_sec))
            .reduce(|x, y| x + y);
        if let Some(r) = rate {
            let o = Observed::new(metric, r, Unit::PerSecond);
            f.observed.push(if name == "InErrors" {
                o.warn_only(cfg.in_errors_warn_per_sec, "suggested")
            } else {
                o.thresholds(
                    cfg.buffer_errors_warn_per_sec,
                    cfg.buffer_errors_crit_per_sec,
                    buffer_src,
                )
            });
            if r > 0.0 {
                parts.push(format!("{name} {r:.1}/s"));
            }
        }
        f.evidence.extend(v4);
        f.evidence.extend(six);
    }
    if f.observed.is_empty() {
        return Err(Problem::Skip(format!(
            "{SNMP} has no Udp error counters here"
        )));
    }
    if v6.is_none() {
        f.notes
            .push("no /proc/net/snmp6 (IPv6 off): IPv4 counters only".into());
    }
    f.judge_observed();
    f.summary = if parts.is_empty() {
        "no UDP receive, send or input errors in the interval".into()
    } else {
        format!("UDP errors: {}", parts.join(", "))
    };
    Ok(f)
}

pub static CONNTRACK: super::Check = super::Check {
    info: CheckInfo {
        id: "conntrack",
        title: "Connection-tracking table full",
        symptom: "New connections through this host fail or time out at random while existing ones work; the kernel log says \"nf_conntrack: table full, dropping packet\"",
        question: "Is the firewall's connection-tracking table dropping new connections?",
        confirm: "sysctl net.netfilter.nf_conntrack_count net.netfilter.nf_conntrack_max; conntrack -S (insert_failed, drop, early_drop per CPU)",
        log: "journalctl -k: \"nf_conntrack: table full, dropping packet\"",
        remediation: "Raise net.netfilter.nf_conntrack_max (and the hash size, /sys/module/nf_conntrack/parameters/hashsize, to about max/4) in proportion to memory; shorten timeouts of idle entries (nf_conntrack_tcp_timeout_established, _time_wait); exempt high-volume traffic that needs no state (an nftables `notrack` rule for the service port). insert_failed without a full table points at hash collisions under heavy churn.",
    },
    needs: || {
        let mut n = needs(&[CT_COUNT, CT_MAX, CT_STAT]);
        n.kernel_log = true;
        n
    },
    rate_only: false,
    run: conntrack,
};

fn conntrack(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.conntrack;
    let mut f = CONNTRACK.info.finding(Status::Pass, "");
    let (Some((count, ce)), Some((max, me))) =
        (setting(ctx.last, CT_COUNT), setting(ctx.last, CT_MAX))
    else {
        return Err(Problem::Skip(
            "no connection tracking here (nf_conntrack is not loaded)".into(),
        ));
    };
    f.evidence.push(ce);
    f.evidence.push(me);
    let share = if max > 0 {
        count as f64 / max as f64
    } else {
        0.0
    };
    f.observed.push(
        Observed::new("conntrack_table_use_ratio", share, Unit::Ratio).thresholds(
            cfg.warn_pct / 100.0,
            cfg.crit_pct / 100.0,
            "netdata netfilter_conntrack_full: warn 90 %, crit 95 %",
        ),
    );
    let mut parts = vec![format!("{count} of {max} entries ({})", pct(share))];
    match both(ctx, CT_STAT, parse::parse_conntrack_stat) {
        Ok((Some(a), b)) => {
            for name in ["insert_failed", "drop", "early_drop"] {
                if let Some(e) = map_counter(ctx, CT_STAT, Some(&a), &b, name) {
                    let d = e.delta.unwrap_or(0.0);
                    if d > 0.0 {
                        f.raise(if name == "drop" {
                            Status::Crit
                        } else {
                            Status::Warn
                        });
                        parts.push(format!("{name} +{d}"));
                    }
                    f.evidence.push(e);
                }
            }
        }
        Ok(_) => f
            .notes
            .push("--interval 0: insert failures and drops not measured".into()),
        Err(p) => f
            .notes
            .push(format!("conntrack statistics: {}", p.message())),
    }
    f.judge_observed();
    let logged = kernel_log(ctx, &mut f);
    if logged > 0 {
        f.raise(Status::Crit);
        parts.push(format!("{logged} \"table full\" kernel messages"));
    }
    f.summary = parts.join("; ");
    Ok(f)
}
