//! Interrupt storms: softirq share and NET_RX skew per CPU; softnet backlog drops and squeezes.

use procfs_core::{ExplicitSystemInfo, FromReadSI, KernelStats};

use super::{Ctx, Outcome, Problem, both, bytes, needs, parsed, pct, rate_only, setting};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::parse;

const STAT: &str = "/proc/stat";
const SOFTIRQS: &str = "/proc/softirqs";
const INTERRUPTS: &str = "/proc/interrupts";
const SOFTNET: &str = "/proc/net/softnet_stat";
const NET_IFACES: &str = "/sys/class/net";
const MAX_BACKLOG: &str = "/proc/sys/net/core/netdev_max_backlog";
const BUDGET: &str = "/proc/sys/net/core/netdev_budget";
const BUDGET_USECS: &str = "/proc/sys/net/core/netdev_budget_usecs";

/// Ratios of tick counts only: the tick rate does not matter, and a capture from another host
/// parses the same.
fn kernel_stats(b: &[u8]) -> Result<KernelStats, String> {
    let si = ExplicitSystemInfo {
        boot_time_secs: 0,
        ticks_per_second: 100,
        page_size: 4096,
        is_little_endian: cfg!(target_endian = "little"),
    };
    KernelStats::from_read(b, &si).map_err(|e| e.to_string())
}

pub(crate) fn stat_pair(ctx: &Ctx) -> Outcome<(KernelStats, KernelStats)> {
    let first = ctx
        .first
        .ok_or_else(|| Problem::Skip("one sample".into()))?;
    let a =
        kernel_stats(bytes(first, STAT)?).map_err(|e| Problem::Error(format!("{STAT}: {e}")))?;
    let b =
        kernel_stats(bytes(ctx.last, STAT)?).map_err(|e| Problem::Error(format!("{STAT}: {e}")))?;
    Ok((a, b))
}

/// (softirq ticks, total ticks, iowait ticks) of one CPU line.
pub(crate) fn ticks(c: &procfs_core::CpuTime) -> (u64, u64, u64) {
    let total = c.user
        + c.nice
        + c.system
        + c.idle
        + c.iowait.unwrap_or(0)
        + c.irq.unwrap_or(0)
        + c.softirq.unwrap_or(0)
        + c.steal.unwrap_or(0);
    (c.softirq.unwrap_or(0), total, c.iowait.unwrap_or(0))
}

pub static SOFTIRQ_IMBALANCE: super::Check = super::Check {
    info: CheckInfo {
        id: "softirq-imbalance",
        fault_line: "Dependency fault line 2: Interrupt Storms",
        confirm: "mpstat -P ALL 1 5 (%soft per CPU); watch -d -n1 'grep -E \"CPU|NET_RX\" /proc/softirqs'; grep -E 'CPU|eth|ens|virtio|mlx|TxRx' /proc/interrupts",
        log: "journalctl -k (NIC driver messages); irqbalance: journalctl -u irqbalance",
        remediation: "Spread NIC queue interrupts over CPUs: run irqbalance or set /proc/irq/N/smp_affinity_list per queue; use more NIC queues (ethtool -L), RPS/RFS when the NIC has few queues; enable interrupt coalescing (ethtool -C adaptive-rx on) so each interrupt handles more packets.",
    },
    needs: || {
        let mut n = needs(&[STAT, SOFTIRQS, INTERRUPTS]);
        n.dirs.insert(NET_IFACES);
        n.proc_status = true;
        n
    },
    run: softirq_imbalance,
};

fn is_nic_irq(desc: &str, ifaces: &[String]) -> bool {
    let d = desc.to_ascii_lowercase();
    ifaces
        .iter()
        .any(|i| i != "lo" && desc.contains(i.as_str()))
        || [
            "txrx",
            "-rx",
            "-tx",
            "input.",
            "output.",
            "virtio-net",
            "rx-",
            "tx-",
        ]
        .iter()
        .any(|p| d.contains(p))
}

fn softirq_imbalance(ctx: &Ctx) -> Outcome<Finding> {
    rate_only(ctx)?;
    let cfg = &ctx.cfg.softirq_imbalance;
    let mut f = SOFTIRQ_IMBALANCE.info.finding(Status::Pass, "");
    let (a, b) = stat_pair(ctx)?;
    // Busiest CPU by softirq share of its time.
    let mut busiest: Option<(usize, f64)> = None;
    for (cpu, (x, y)) in a.cpu_time.iter().zip(&b.cpu_time).enumerate() {
        let (s0, t0, _) = ticks(x);
        let (s1, t1, _) = ticks(y);
        let dt = t1.saturating_sub(t0);
        if dt == 0 {
            continue;
        }
        let share = s1.saturating_sub(s0) as f64 / dt as f64;
        if busiest.is_none_or(|(_, s)| share > s) {
            busiest = Some((cpu, share));
        }
    }
    let (cpu, share) = busiest.ok_or_else(|| Problem::Skip("no CPU time passed".into()))?;
    f.observed.push(
        Observed::new("softirq_busiest_cpu_ratio", share, Unit::Ratio)
            .label("cpu", cpu.to_string())
            .thresholds(
                cfg.busy_cpu_warn_pct / 100.0,
                cfg.busy_cpu_crit_pct / 100.0,
                "suggested: warn when the busiest CPU is >= 30 % softirq and NET_RX skew >= 3",
            ),
    );
    f.evidence.push(Evidence::value(
        STAT,
        &format!("cpu{cpu} softirq share"),
        share,
    ));

    let (sa, sb) = both(ctx, SOFTIRQS, parse::parse_softirqs)?;
    let sa = sa.expect("two samples");
    let (rx0, rx1) = match (sa.rows.get("NET_RX"), sb.rows.get("NET_RX")) {
        (Some(x), Some(y)) if x.len() == y.len() => (x, y),
        _ => return Err(Problem::Error(format!("{SOFTIRQS}: no NET_RX row"))),
    };
    let deltas: Vec<f64> = rx0
        .iter()
        .zip(rx1)
        .map(|(x, y)| y.saturating_sub(*x) as f64)
        .collect();
    let total: f64 = deltas.iter().sum();
    let mean = total / deltas.len().max(1) as f64;
    let max = deltas.iter().copied().fold(0.0, f64::max);
    let skew = if mean > 0.0 { max / mean } else { 1.0 };
    let rx_rate = total / ctx.secs;
    f.observed.push(
        Observed::new("net_rx_skew", skew, Unit::Ratio)
            .warn_only(cfg.skew_warn, "suggested: max/mean of per-CPU NET_RX >= 3"),
    );
    f.observed.push(Observed::new(
        "net_rx_softirqs_per_second",
        rx_rate,
        Unit::PerSecond,
    ));
    f.evidence.push(Evidence::counter(
        SOFTIRQS,
        "NET_RX (all CPUs)",
        Some(rx0.iter().sum::<u64>() as f64),
        rx1.iter().sum::<u64>() as f64,
        ctx.secs,
    ));

    // NIC queue interrupts: on how many CPUs did they land?
    let ifaces = match ctx.last.dirs.get(NET_IFACES) {
        Some(Ok(names)) => names.clone(),
        _ => Vec::new(),
    };
    if let (Some(Ok(ia)), Ok(ib)) = (
        ctx.first
            .map(|s| parsed(s, INTERRUPTS, parse::parse_interrupts)),
        parsed(ctx.last, INTERRUPTS, parse::parse_interrupts),
    ) {
        let mut per_cpu = vec![0u64; ib.cpus];
        let mut queues = 0;
        for row in ib
            .rows
            .iter()
            .filter(|r| r.is_device() && is_nic_irq(&r.desc, &ifaces))
        {
            let Some(prev) = ia.rows.iter().find(|r| r.id == row.id) else {
                continue;
            };
            queues += 1;
            for (i, (x, y)) in prev.counts.iter().zip(&row.counts).enumerate() {
                if let Some(c) = per_cpu.get_mut(i) {
                    *c += y.saturating_sub(*x);
                }
            }
        }
        let used = per_cpu.iter().filter(|&&c| c > 0).count();
        f.evidence.push(Evidence::value(
            INTERRUPTS,
            &format!("NIC queue IRQs ({queues}) landed on CPUs"),
            used as f64,
        ));
        if queues > 0 && used == 1 && ib.cpus > 1 && total > 0.0 {
            f.notes.push(format!(
                "all NIC queue interrupts in the interval landed on one of {} CPUs",
                ib.cpus
            ));
        }
    }
    if let Some(procs) = &ctx.last.procs {
        let running = procs
            .list
            .iter()
            .any(|p| p.name().as_deref() == Some("irqbalance"));
        f.evidence.push(Evidence::value(
            "/proc/*/status",
            "irqbalance running",
            if running { 1.0 } else { 0.0 },
        ));
        if !running {
            f.notes.push("irqbalance is not running".into());
        }
    }
    // Status: a busy softirq CPU matters when the load is skewed onto it.
    let busy = f.observed[0].judge();
    if skew >= cfg.skew_warn && rx_rate >= cfg.min_net_rx_per_sec {
        f.raise(busy);
    } else if busy != Status::Pass {
        f.notes.push(format!(
            "CPU{cpu} spends {} in softirq but NET_RX is spread evenly (skew {skew:.1}) or light: more CPUs or coalescing, not rebalancing",
            pct(share)
        ));
        f.raise(Status::Warn.min_rank(busy));
    }
    f.summary = format!(
        "busiest CPU{cpu} {} softirq; NET_RX skew {skew:.1} at {rx_rate:.0}/s",
        pct(share)
    );
    Ok(f)
}

trait MinRank {
    fn min_rank(self, other: Status) -> Status;
}

impl MinRank for Status {
    fn min_rank(self, other: Status) -> Status {
        if self.rank() <= other.rank() {
            self
        } else {
            other
        }
    }
}

pub static SOFTNET_DROPS: super::Check = super::Check {
    info: CheckInfo {
        id: "softnet-drops",
        fault_line: "Dependency fault line 2: Interrupt Storms",
        confirm: "awk '{print NR-1, strtonum(\"0x\"$2), strtonum(\"0x\"$3)}' /proc/net/softnet_stat (cpu, dropped, time_squeeze), twice a few seconds apart",
        log: "journalctl -k",
        remediation: "dropped: the per-CPU backlog overflowed; raise net.core.netdev_max_backlog and spread receive work (RPS/RFS, more queues). time_squeeze: net_rx_action ran out of budget; raise net.core.netdev_budget / netdev_budget_usecs, or spread load over more CPUs.",
    },
    needs: || needs(&[SOFTNET, MAX_BACKLOG, BUDGET, BUDGET_USECS]),
    run: softnet_drops,
};

fn softnet_drops(ctx: &Ctx) -> Outcome<Finding> {
    rate_only(ctx)?;
    let cfg = &ctx.cfg.softnet_drops;
    let mut f = SOFTNET_DROPS.info.finding(Status::Pass, "");
    let (a, b) = both(ctx, SOFTNET, parse::parse_softnet)?;
    let a = a.expect("two samples");
    let mut dropped = 0u64;
    let mut squeezed = 0u64;
    let mut dropped_total = 0u64;
    let mut squeezed_total = 0u64;
    for row in &b {
        dropped_total += row.dropped;
        squeezed_total += row.time_squeeze;
        let Some(prev) = a.iter().find(|r| r.cpu == row.cpu) else {
            continue;
        };
        let d = row.dropped.saturating_sub(prev.dropped);
        let s = row.time_squeeze.saturating_sub(prev.time_squeeze);
        dropped += d;
        squeezed += s;
        if d > 0 || s > 0 {
            f.evidence.push(Evidence::value(
                SOFTNET,
                &format!("cpu{} dropped/time_squeeze delta", row.cpu),
                (d + s) as f64,
            ));
        }
    }
    let src = "netdata: warn when dropped or squeezed average > 10/min";
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
        let rate = n as f64 / ctx.secs;
        f.observed
            .push(Observed::new(metric, rate, Unit::PerSecond).thresholds(
                cfg.warn_per_min / 60.0,
                cfg.crit_per_min / 60.0,
                src,
            ));
        f.evidence.push(Evidence::counter(
            SOFTNET,
            &format!("{field} (all CPUs)"),
            Some((total - n) as f64),
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
