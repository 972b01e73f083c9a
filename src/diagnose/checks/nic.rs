//! Receive path: NIC drops, how received packets are spread over CPUs, softnet backlog
//! drops and budget squeezes.

use std::collections::BTreeMap;

use super::{
    Ctx, Outcome, Problem, kernel_log, needs, online_cpus, pair, parsed, pct, rate_only, setting,
};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::diagnose::system::{NET_CLASS, NIC_COUNTERS};
use crate::parse;

const STAT: &str = "/proc/stat";
const INTERRUPTS: &str = "/proc/interrupts";
const SOFTNET: &str = "/proc/net/softnet_stat";
const MAX_BACKLOG: &str = "/proc/sys/net/core/netdev_max_backlog";
const BUDGET: &str = "/proc/sys/net/core/netdev_budget";
const BUDGET_USECS: &str = "/proc/sys/net/core/netdev_budget_usecs";

/// The interfaces of a sample other than lo, with whether each is hardware.
fn interfaces(s: &crate::diagnose::sample::Sample) -> Vec<(String, bool)> {
    s.dir(NET_CLASS)
        .iter()
        .filter(|i| *i != "lo")
        .map(|i| {
            let hw = s
                .dir(&format!("{NET_CLASS}/{i}"))
                .iter()
                .any(|n| n == "device");
            (i.clone(), hw)
        })
        .collect()
}

fn rx_queues(s: &crate::diagnose::sample::Sample, iface: &str) -> usize {
    s.dir(&format!("{NET_CLASS}/{iface}/queues"))
        .iter()
        .filter(|q| q.starts_with("rx-"))
        .count()
}

fn nic_counter(s: &crate::diagnose::sample::Sample, iface: &str, name: &str) -> Option<u64> {
    parse::parse_single(s.bytes(&format!("{NET_CLASS}/{iface}/statistics/{name}"))?).ok()
}

pub static NIC_DROPS: super::Check = super::Check {
    info: CheckInfo {
        id: "nic-drops",
        title: "Network interface dropping packets",
        symptom: "Requests and responses are lost or retransmitted at random under load; throughput falls short of the link while CPUs are not busy",
        question: "Is the network card or its driver dropping received packets?",
        confirm: "ip -s -s link show IFACE; ethtool -S IFACE | grep -Ei 'drop|miss|fifo|no_buf|discard'; ethtool -g IFACE (ring sizes)",
        log: "journalctl -k: \"NETDEV WATCHDOG: IFACE ... transmit queue N timed out\" (the driver or the NIC stopped sending)",
        remediation: "rx_missed/rx_fifo/per-queue drops: the NIC's receive ring filled before the host emptied it. Enlarge the rings (ethtool -G IFACE rx N, up to the maximum ethtool -g shows), spread the queues over more CPUs (ethtool -L, IRQ affinity, RPS) and coalesce interrupts moderately. rx_dropped alone also counts packets of unknown protocols or VLANs, which is harmless. A NETDEV WATCHDOG timeout is a driver or firmware fault: update them.",
    },
    needs: || {
        let mut n = needs(&[]);
        n.nics = true;
        n.nic_driver_stats = true;
        n.kernel_log = true;
        n
    },
    rate_only: true,
    run: nic_drops,
};

fn nic_drops(ctx: &Ctx) -> Outcome<Finding> {
    rate_only(ctx)?;
    let first = ctx.first.expect("two samples");
    let cfg = &ctx.cfg.nic_drops;
    let mut f = NIC_DROPS.info.finding(Status::Pass, "");
    let ifaces = interfaces(ctx.last);
    if ifaces.is_empty() {
        return Err(Problem::Skip("no network interface but lo here".into()));
    }
    let mut parts = Vec::new();
    let mut measured = 0;
    for (iface, _) in &ifaces {
        let delta = |name: &str| -> Option<u64> {
            Some(
                nic_counter(ctx.last, iface, name)?
                    .saturating_sub(nic_counter(first, iface, name)?),
            )
        };
        let Some(packets) = delta("rx_packets") else {
            continue;
        };
        measured += 1;
        let mut lost = 0u64;
        for name in &NIC_COUNTERS[1..] {
            if let Some(d) = delta(name) {
                lost = lost.saturating_add(d);
                if d > 0 {
                    f.evidence.push(Evidence::counter(
                        &format!("{NET_CLASS}/{iface}/statistics"),
                        name,
                        nic_counter(first, iface, name).map(|v| v as f64),
                        nic_counter(ctx.last, iface, name).unwrap_or(0) as f64,
                        ctx.secs,
                    ));
                }
                if d > 0 && (*name == "rx_fifo_errors" || *name == "rx_missed_errors") {
                    f.raise(Status::Warn);
                    parts.push(format!("{iface} {name} +{d}"));
                }
            }
        }
        let total = packets.saturating_add(lost);
        let ratio = if total > 0 {
            lost as f64 / total as f64
        } else {
            0.0
        };
        let mut o =
            Observed::new("nic_rx_drop_ratio", ratio, Unit::Ratio).label("device", iface.clone());
        if (total as f64) >= cfg.min_rx_packets {
            o = o.thresholds(
                cfg.drop_warn_pct / 100.0,
                cfg.drop_crit_pct / 100.0,
                "netdata inbound_packets_dropped_ratio: warn >= 2 % (crit suggested)",
            );
        }
        if lost > 0 {
            parts.push(format!(
                "{iface} dropped {lost} of {total} received ({})",
                pct(ratio)
            ));
        }
        f.observed.push(o);
    }
    // Per-queue driver counters (ethtool -S) of hardware NICs.
    if let (Some(a), Some(b)) = (&first.nic_stats, &ctx.last.nic_stats) {
        for (iface, stats) in b {
            match (stats, a.get(iface)) {
                (Ok(now), Some(Ok(before))) => {
                    let before: BTreeMap<&str, u64> =
                        before.iter().map(|(n, v)| (n.as_str(), *v)).collect();
                    for (name, v) in now {
                        let Some(b) = before.get(name.as_str()) else {
                            continue;
                        };
                        let d = v.saturating_sub(*b);
                        if d > 0 {
                            f.raise(Status::Warn);
                            parts.push(format!("{iface} {name} +{d}"));
                            f.observed.push(
                                Observed::new(
                                    "nic_driver_drops_per_second",
                                    d as f64 / ctx.secs,
                                    Unit::PerSecond,
                                )
                                .label("device", iface.clone())
                                .label("counter", name.clone()),
                            );
                        }
                    }
                }
                (Err(e), _) if !e.contains("Operation not supported") => {
                    f.notes
                        .push(format!("{iface}: driver counters not read: {e}"));
                }
                _ => {}
            }
        }
    }
    if measured == 0 {
        return Err(Problem::Skip(
            "no interface statistics in /sys/class/net here".into(),
        ));
    }
    f.judge_observed();
    let logged = kernel_log(ctx, &mut f);
    if logged > 0 {
        f.raise(Status::Crit);
        parts.push(format!("{logged} NETDEV WATCHDOG kernel messages"));
    }
    f.summary = if parts.is_empty() {
        format!("no receive drops on {measured} interfaces")
    } else {
        parts.join("; ")
    };
    Ok(f)
}

pub static SOFTIRQ_IMBALANCE: super::Check = super::Check {
    info: CheckInfo {
        id: "softirq-imbalance",
        title: "Network interrupts piling on one CPU",
        symptom: "Latency and throughput suffer under load while `top` shows one CPU busy in softirq (%si) and the others idle",
        question: "Is receive work concentrated on too few CPUs (an interrupt storm on one core)?",
        confirm: "mpstat -P ALL 1 5 (%soft per CPU); watch -d -n1 cat /proc/net/softnet_stat (first column per CPU); grep -E 'CPU|eth|ens|virtio|mlx|TxRx' /proc/interrupts; ethtool -l IFACE",
        log: "irqbalance's log, if it runs",
        remediation: "Spread receive work: use as many NIC queues as CPUs allow (ethtool -L IFACE combined N), pin each queue's IRQ to its own CPU (/proc/irq/N/smp_affinity_list, or run irqbalance), enable RPS/RFS where the NIC has fewer queues than CPUs (/sys/class/net/IFACE/queues/rx-*/rps_cpus), and coalesce interrupts (ethtool -C IFACE adaptive-rx on) so each one handles more packets. When packets are already spread evenly, the CPUs are simply busy: add CPUs or reduce per-packet work.",
    },
    needs: || {
        let mut n = needs(&[STAT, SOFTNET, INTERRUPTS, super::ONLINE]);
        n.nics = true;
        n.procs = true;
        n
    },
    rate_only: true,
    run: softirq_imbalance,
};

fn softirq_imbalance(ctx: &Ctx) -> Outcome<Finding> {
    rate_only(ctx)?;
    let cfg = &ctx.cfg.softirq_imbalance;
    let mut f = SOFTIRQ_IMBALANCE.info.finding(Status::Pass, "");
    let online = online_cpus(ctx.last);
    let online_n = online.as_ref().map_or(1, |o| o.len().max(1));
    // Busiest CPU by softirq share of its time, by the CPU's label.
    let (a, b) = pair(ctx, STAT, parse::parse_stat)?;
    let before: BTreeMap<u32, parse::CpuTimes> = a.cpus.iter().copied().collect();
    let mut busiest: Option<(u32, f64)> = None;
    for (cpu, now) in &b.cpus {
        let Some(prev) = before.get(cpu) else {
            continue;
        };
        let dt = now.total().saturating_sub(prev.total());
        if dt == 0 {
            continue;
        }
        let ds = now
            .softirq
            .unwrap_or(0)
            .saturating_sub(prev.softirq.unwrap_or(0));
        let share = (ds as f64 / dt as f64).min(1.0);
        if busiest.is_none_or(|(_, s)| share > s) {
            busiest = Some((*cpu, share));
        }
    }
    let (busy_cpu, busy_share) =
        busiest.ok_or_else(|| Problem::Skip("no CPU time passed between the samples".into()))?;
    let busy = Observed::new("softirq_busiest_cpu_ratio", busy_share, Unit::Ratio)
        .label("cpu", busy_cpu.to_string())
        .thresholds(
            cfg.busy_cpu_warn_pct / 100.0,
            cfg.busy_cpu_crit_pct / 100.0,
            "suggested: a CPU spending 30 % of its time in softirq delays everything else on it",
        );
    let busy_status = busy.judge();
    f.observed.push(busy);

    // Packets processed per CPU (softnet_stat), against the receive queues the NICs have.
    let (sa, sb) = pair(ctx, SOFTNET, parse::parse_softnet)?;
    let ol = online.as_deref();
    let prev: BTreeMap<u32, u64> = sa.iter().map(|r| (r.cpu(ol), r.processed)).collect();
    let mut per_cpu: BTreeMap<u32, u64> = BTreeMap::new();
    for r in &sb {
        if let Some(p) = prev.get(&r.cpu(ol)) {
            // softnet counters are 32-bit on many kernels: a wrap counts as the distance.
            let d = if r.processed >= *p {
                r.processed - p
            } else {
                r.processed.saturating_add(1u64 << 32).saturating_sub(*p)
            };
            per_cpu.insert(r.cpu(ol), d);
        }
    }
    let total: u64 = per_cpu.values().fold(0, |a, &b| a.saturating_add(b));
    let rate = total as f64 / ctx.secs;
    let queues = interfaces(ctx.last)
        .iter()
        .filter(|(_, hw)| *hw)
        .map(|(i, _)| rx_queues(ctx.last, i))
        .max()
        .unwrap_or(1)
        .max(1);
    let width = queues.min(online_n).max(1);
    let (top_cpu, top) = per_cpu
        .iter()
        .max_by_key(|(_, v)| **v)
        .map(|(c, v)| (*c, *v))
        .unwrap_or((busy_cpu, 0));
    let share = if total > 0 {
        top as f64 / total as f64
    } else {
        0.0
    };
    let concentration = share * width as f64;
    f.observed.push(
        Observed::new("rx_packets_busiest_cpu_share_ratio", share, Unit::Ratio)
            .label("cpu", top_cpu.to_string()),
    );
    f.observed.push(Observed::new(
        "rx_packets_per_second",
        rate,
        Unit::PerSecond,
    ));
    f.evidence.push(Evidence::value(
        SOFTNET,
        &format!("packets processed in the interval (CPU{top_cpu}: {top})"),
        total as f64,
    ));
    f.evidence.push(Evidence::value(
        &format!("{NET_CLASS}/*/queues"),
        "most receive queues of one hardware NIC",
        queues as f64,
    ));
    // NIC queue interrupts: on how many CPUs did they land?
    if let (Ok(ia), Ok(ib)) = (
        parsed(
            ctx.first.expect("two samples"),
            INTERRUPTS,
            parse::parse_interrupts,
        ),
        parsed(ctx.last, INTERRUPTS, parse::parse_interrupts),
    ) {
        let names: Vec<String> = interfaces(ctx.last).into_iter().map(|(i, _)| i).collect();
        let mut per_col = vec![0u64; ib.cpus];
        let mut nic_irqs = 0;
        for row in ib
            .rows
            .iter()
            .filter(|r| r.is_device() && names.iter().any(|n| r.desc.contains(n.as_str())))
        {
            let Some(prev) = ia.rows.iter().find(|r| r.id == row.id) else {
                continue;
            };
            nic_irqs += 1;
            for (i, (x, y)) in prev.counts.iter().zip(&row.counts).enumerate() {
                if let Some(c) = per_col.get_mut(i) {
                    *c = c.saturating_add(y.saturating_sub(*x));
                }
            }
        }
        let used = per_col.iter().filter(|&&c| c > 0).count();
        if nic_irqs > 0 {
            f.evidence.push(Evidence::value(
                INTERRUPTS,
                &format!("CPUs that took the {nic_irqs} NIC interrupts"),
                used as f64,
            ));
        }
    }
    if let Some(procs) = &ctx.last.procs {
        let running = procs
            .list
            .iter()
            .any(|p| p.comm.as_deref() == Some("irqbalance"));
        if !running {
            f.notes.push("irqbalance is not running".into());
        }
    }
    if rate < cfg.min_packets_per_sec {
        f.notes.push(format!(
            "{rate:.0} packets/s is below {}: the spread is not judged",
            cfg.min_packets_per_sec
        ));
    } else if busy_status != Status::Pass {
        if concentration >= cfg.concentration_warn {
            f.raise(busy_status);
            f.notes.push(format!(
                "CPU{top_cpu} processed {} of received packets though the NICs have {queues} receive queues for {online_n} CPUs",
                pct(share)
            ));
        } else if width < online_n {
            f.raise(Status::Warn);
            f.notes.push(format!(
                "the NICs have {queues} receive queue(s) for {online_n} CPUs: more queues or RPS would spread the work"
            ));
        } else {
            f.raise(Status::Warn);
            f.notes.push(format!(
                "CPU{busy_cpu} spends {} in softirq with packets spread evenly: the CPUs are busy, not unbalanced",
                pct(busy_share)
            ));
        }
    }
    f.summary = if total == 0 {
        format!(
            "busiest CPU{busy_cpu} {} in softirq; no packets received ({queues} rx queue(s), {online_n} CPUs)",
            pct(busy_share)
        )
    } else {
        format!(
            "busiest CPU{busy_cpu} {} in softirq; CPU{top_cpu} processed {} of {rate:.0} packets/s ({queues} rx queue(s), {online_n} CPUs)",
            pct(busy_share),
            pct(share)
        )
    };
    Ok(f)
}

pub static SOFTNET_DROPS: super::Check = super::Check {
    info: CheckInfo {
        id: "softnet-drops",
        title: "Kernel receive backlog overflowing",
        symptom: "Packets are lost inside the host under bursts: retransmits and latency spikes although the NIC reports no drops",
        question: "Is the kernel dropping received packets because a CPU's backlog or budget ran out?",
        confirm: "awk '{print NR-1, strtonum(\"0x\"$2), strtonum(\"0x\"$3)}' /proc/net/softnet_stat (row, dropped, time_squeeze), twice a few seconds apart",
        log: "no kernel message: the counters are the only record",
        remediation: "dropped: a CPU's backlog held more than net.core.netdev_max_backlog packets; raise it and spread receive work (RPS/RFS, more queues). time_squeeze: net_rx_action ran out of net.core.netdev_budget packets or netdev_budget_usecs; raise them, or spread the work over more CPUs.",
    },
    needs: || {
        needs(&[
            SOFTNET,
            MAX_BACKLOG,
            BUDGET,
            BUDGET_USECS,
            super::ONLINE,
            STAT,
        ])
    },
    rate_only: true,
    run: softnet_drops,
};

fn softnet_drops(ctx: &Ctx) -> Outcome<Finding> {
    rate_only(ctx)?;
    let cfg = &ctx.cfg.softnet_drops;
    let mut f = SOFTNET_DROPS.info.finding(Status::Pass, "");
    let (a, b) = pair(ctx, SOFTNET, parse::parse_softnet)?;
    let online = online_cpus(ctx.last);
    let ol = online.as_deref();
    let prev: BTreeMap<u32, &parse::SoftnetRow> = a.iter().map(|r| (r.cpu(ol), r)).collect();
    let (mut dropped, mut squeezed, mut dropped_total, mut squeezed_total) =
        (0u64, 0u64, 0u64, 0u64);
    for row in &b {
        dropped_total = dropped_total.saturating_add(row.dropped);
        squeezed_total = squeezed_total.saturating_add(row.time_squeeze);
        let cpu = row.cpu(ol);
        let Some(p) = prev.get(&cpu) else { continue };
        let d = row.dropped.saturating_sub(p.dropped);
        let s = row.time_squeeze.saturating_sub(p.time_squeeze);
        dropped = dropped.saturating_add(d);
        squeezed = squeezed.saturating_add(s);
        if d > 0 || s > 0 {
            f.evidence.push(Evidence::value(
                SOFTNET,
                &format!("CPU{cpu} dropped +{d}, time_squeeze +{s}"),
                (d.saturating_add(s)) as f64,
            ));
        }
    }
    let src = "netdata 1min_netdev_backlog_exceeded / 1min_netdev_budget_ran_outs: warn > 10/s (crit suggested)";
    for (metric, n, total, field) in [
        (
            "softnet_dropped_per_second",
            dropped,
            dropped_total,
            "dropped",
        ),
        (
            "softnet_time_squeeze_per_second",
            squeezed,
            squeezed_total,
            "time_squeeze",
        ),
    ] {
        f.observed.push(
            Observed::new(metric, n as f64 / ctx.secs, Unit::PerSecond).thresholds(
                cfg.warn_per_sec,
                cfg.crit_per_sec,
                src,
            ),
        );
        f.evidence.push(Evidence::counter(
            SOFTNET,
            &format!("{field} (all CPUs)"),
            Some(total.saturating_sub(n) as f64),
            total as f64,
            ctx.secs,
        ));
    }
    for p in [MAX_BACKLOG, BUDGET, BUDGET_USECS] {
        if let Some((_, e)) = setting(ctx.last, p) {
            f.evidence.push(e);
        }
    }
    f.judge_observed();
    f.summary = format!(
        "{dropped} backlog drops and {squeezed} budget squeezes in {:.1} s",
        ctx.secs
    );
    Ok(f)
}
