//! Memory: pressure (available, swap, PSI, major faults), kernel fragmentation and process heap
//! growth (reported apart), OOM kills.

use procfs_core::{Meminfo, MemoryPressure};

use super::{Ctx, Outcome, Problem, both, bytes, needs, parsed, pct, procfs, rate_only};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::diagnose::sample::Data;
use crate::parse;

const MEMINFO: &str = "/proc/meminfo";
const VMSTAT: &str = "/proc/vmstat";
const PSI_MEMORY: &str = "/proc/pressure/memory";
const BUDDYINFO: &str = "/proc/buddyinfo";

fn vm_counter(ctx: &Ctx, name: &str) -> Outcome<Option<Evidence>> {
    let (a, b) = both(ctx, VMSTAT, parse::parse_vmstat)?;
    let Some(&after) = b.get(name) else {
        return Ok(None);
    };
    let before = a.as_ref().and_then(|a| a.get(name)).map(|&v| v as f64);
    Ok(Some(Evidence::counter(
        VMSTAT,
        name,
        before,
        after as f64,
        ctx.secs,
    )))
}

/// PSI share over the interval from `total` (microseconds stalled), or avg10 with one sample.
pub(crate) fn psi_share(
    ctx: &Ctx,
    path: &str,
    pick: impl Fn(&[u8]) -> Option<(f32, u64)>,
) -> Outcome<(f64, &'static str)> {
    let last = pick(bytes(ctx.last, path)?)
        .ok_or_else(|| Problem::Error(format!("{path}: not a pressure file")))?;
    if let Some(first) = ctx.first
        && let Some(a) = pick(bytes(first, path)?)
        && ctx.secs > 0.0
    {
        let share = last.1.saturating_sub(a.1) as f64 / (ctx.secs * 1e6);
        return Ok((share.min(1.0), "share of the interval"));
    }
    Ok((f64::from(last.0) / 100.0, "avg10"))
}

pub static MEMORY_PRESSURE: super::Check = super::Check {
    info: CheckInfo {
        id: "memory-pressure",
        fault_line: "Dependency fault line 3: Memory Fragmentation (system side: swap, OOM risk)",
        confirm: "cat /proc/meminfo; cat /proc/pressure/memory; vmstat 1 5 (si/so columns)",
        log: "journalctl -k (\"Out of memory\"), journalctl -u systemd-oomd",
        remediation: "Find what grows (ps aux --sort=-rss | head); cap services with cgroup memory limits (MemoryMax=) so one cannot starve the rest; prefer an event-driven server over a thread per connection, which pays a stack and buffers per connection; add memory or move work off the host.",
    },
    needs: || needs(&[MEMINFO, VMSTAT, PSI_MEMORY]),
    run: memory_pressure,
};

fn memory_pressure(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.memory_pressure;
    let mut f = MEMORY_PRESSURE.info.finding(Status::Pass, "");
    let m: Meminfo = procfs(ctx.last, MEMINFO)?;
    let mut parts = Vec::new();
    match m.mem_available {
        Some(avail) if m.mem_total > 0 => {
            let r = avail as f64 / m.mem_total as f64;
            f.observed.push(
                Observed::new("memory_available_ratio", r, Unit::Ratio)
                    .thresholds(
                        cfg.available_warn_pct / 100.0,
                        cfg.available_crit_pct / 100.0,
                        "MemAvailable < 10 % of MemTotal (common alert rule)",
                    )
                    .lower_is_worse(),
            );
            f.evidence
                .push(Evidence::value(MEMINFO, "MemAvailable", avail as f64));
            parts.push(format!("MemAvailable {}", pct(r)));
        }
        _ => f.notes.push("no MemAvailable (kernel < 3.14)".into()),
    }
    f.evidence
        .push(Evidence::value(MEMINFO, "MemTotal", m.mem_total as f64));
    if m.swap_total > 0 {
        let used = m.swap_total.saturating_sub(m.swap_free) as f64 / m.swap_total as f64;
        f.observed.push(
            Observed::new("swap_used_ratio", used, Unit::Ratio).thresholds(
                cfg.swap_warn_pct / 100.0,
                cfg.swap_crit_pct / 100.0,
                "swap > 90 % used warn, 98 % crit",
            ),
        );
        parts.push(format!("swap {} used", pct(used)));
    } else {
        f.notes.push("no swap configured".into());
    }
    if ctx.first.is_some() {
        if let Some(e) = vm_counter(ctx, "pgmajfault")? {
            if let Some(r) = e.rate_per_sec {
                f.observed.push(
                    Observed::new("major_faults_per_second", r, Unit::PerSecond).thresholds(
                        cfg.major_faults_warn_per_sec,
                        cfg.major_faults_crit_per_sec,
                        "major faults > 500/s (warn)",
                    ),
                );
            }
            f.evidence.push(e);
        }
        if let Some(e) = vm_counter(ctx, "pswpout")? {
            if let Some(r) = e.rate_per_sec {
                f.observed.push(Observed::new(
                    "swap_out_pages_per_second",
                    r,
                    Unit::PerSecond,
                ));
                if r > 0.0 {
                    parts.push(format!("swapping out {r:.0} pages/s"));
                }
            }
            f.evidence.push(e);
        }
    } else {
        f.notes
            .push("--interval 0: swap-out and major-fault rates not measured".into());
    }
    match psi_share(ctx, PSI_MEMORY, |b| {
        MemoryPressure::from_read(b)
            .ok()
            .map(|p| (p.full.avg10, p.full.total))
    }) {
        Ok((share, how)) => {
            f.observed.push(
                Observed::new("psi_memory_full_ratio", share, Unit::Ratio)
                    .label("window", how)
                    .thresholds(
                        cfg.psi_full_warn_pct / 100.0,
                        cfg.psi_full_crit_pct / 100.0,
                        "systemd-oomd acts at 60 % memory pressure for 30 s; warn is suggested",
                    ),
            );
            parts.push(format!("PSI full {}", pct(share)));
        }
        Err(p) => f.notes.push(format!("PSI: {}", p.message())),
    }
    f.judge_observed();
    f.summary = parts.join(", ");
    Ok(f)
}

use procfs_core::FromRead;

pub static MEMORY_FRAGMENTATION: super::Check = super::Check {
    info: CheckInfo {
        id: "memory-fragmentation",
        fault_line: "Dependency fault line 3: Memory Fragmentation",
        confirm: "cat /proc/buddyinfo; grep -E 'compact_(stall|fail)' /proc/vmstat; grep -E 'VmData|VmRSS' /proc/PID/status (twice, at steady load)",
        log: "journalctl -k (\"page allocation failure: order:N\")",
        remediation: "Kernel fragmentation (few high-order blocks while MemFree is high): raise vm.min_free_kbytes moderately, trigger compaction (echo 1 > /proc/sys/vm/compact_memory) and find who needs high-order pages (jumbo frames, THP). A process whose VmData/RSS grows at flat load is the application's heap: fix the leak, cap per-connection buffers, or move from a thread per connection to an event-driven model.",
    },
    needs: || {
        let mut n = needs(&[BUDDYINFO, MEMINFO, VMSTAT]);
        n.proc_status = true;
        n
    },
    run: memory_fragmentation,
};

fn memory_fragmentation(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.memory_fragmentation;
    let mut f = MEMORY_FRAGMENTATION.info.finding(Status::Pass, "");
    let zones = parsed(ctx.last, BUDDYINFO, parse::parse_buddyinfo)?;
    let m: Meminfo = procfs(ctx.last, MEMINFO)?;
    let free: u64 = zones.iter().map(|z| z.free_pages()).sum();
    let high: u64 = zones
        .iter()
        .map(|z| z.free_pages_at_or_above(cfg.order))
        .sum();
    let high_share = if free > 0 {
        high as f64 / free as f64
    } else {
        0.0
    };
    let memfree = if m.mem_total > 0 {
        m.mem_free as f64 / m.mem_total as f64
    } else {
        0.0
    };
    f.evidence
        .push(Evidence::value(MEMINFO, "MemFree", m.mem_free as f64));
    f.evidence.push(Evidence::value(
        BUDDYINFO,
        &format!("free pages in blocks of order >= {}", cfg.order),
        high as f64,
    ));
    f.evidence
        .push(Evidence::value(BUDDYINFO, "free pages", free as f64));
    let mut o = Observed::new("high_order_free_ratio", high_share, Unit::Ratio)
        .label("order", cfg.order.to_string());
    if memfree * 100.0 >= cfg.memfree_min_pct {
        o = o
            .thresholds(
                cfg.high_order_warn_pct / 100.0,
                cfg.high_order_crit_pct / 100.0,
                "suggested: few free blocks of order >= 4 while MemFree is high",
            )
            .lower_is_worse();
    } else {
        f.notes.push(format!(
            "MemFree is {} of MemTotal: little free memory is pressure (see memory-pressure), not fragmentation",
            pct(memfree)
        ));
    }
    f.observed.push(o);
    let mut parts = vec![format!(
        "{} of free memory in blocks of order >= {} (MemFree {})",
        pct(high_share),
        cfg.order,
        pct(memfree)
    )];
    if ctx.first.is_some() {
        for name in ["compact_stall", "compact_fail"] {
            if let Some(e) = vm_counter(ctx, name)? {
                if name == "compact_stall"
                    && let Some(r) = e.rate_per_sec
                {
                    f.observed.push(
                        Observed::new("compaction_stalls_per_second", r, Unit::PerSecond)
                            .warn_only(cfg.compact_stall_warn_per_sec, "suggested"),
                    );
                }
                f.evidence.push(e);
            }
        }
    }
    // The application side: VmData / RSS growth of the focused processes.
    if !ctx.focus.is_empty() {
        match (
            ctx.first.and_then(|s| s.procs.as_ref()),
            ctx.last.procs.as_ref(),
        ) {
            (Some(a), Some(b)) => {
                for p in &b.list {
                    let Data::Bytes(sb) = &p.status else { continue };
                    let Ok(st) = parse::parse_status(sb) else {
                        continue;
                    };
                    if !ctx.focus.matches(p.pid, Some(&st.name)) {
                        continue;
                    }
                    let Some(prev) = a.list.iter().find(|q| q.pid == p.pid) else {
                        continue;
                    };
                    let Data::Bytes(sa) = &prev.status else {
                        continue;
                    };
                    let Ok(sa) = parse::parse_status(sa) else {
                        continue;
                    };
                    for (metric, x, y) in [
                        (
                            "process_vmdata_growth_bytes_per_second",
                            sa.vm_data_kb,
                            st.vm_data_kb,
                        ),
                        (
                            "process_rss_growth_bytes_per_second",
                            sa.vm_rss_kb,
                            st.vm_rss_kb,
                        ),
                    ] {
                        let (Some(x), Some(y)) = (x, y) else { continue };
                        let rate = (y as f64 - x as f64) * 1024.0 / ctx.secs;
                        let mut o = Observed::new(metric, rate, Unit::PerSecond)
                            .label("pid", p.pid.to_string())
                            .label("name", st.name.clone());
                        if metric.contains("vmdata") {
                            o = o.warn_only(
                                cfg.vmdata_growth_warn_bytes_per_sec,
                                "suggested: VmData rising at flat load is the heap growing",
                            );
                            if rate > 0.0 {
                                parts.push(format!(
                                    "{} ({}) VmData +{:.0} KiB/s",
                                    st.name,
                                    p.pid,
                                    rate / 1024.0
                                ));
                            }
                        }
                        f.observed.push(o);
                    }
                }
            }
            _ => f
                .notes
                .push("process VmData/RSS growth needs two samples".into()),
        }
    }
    f.judge_observed();
    f.summary = parts.join("; ");
    Ok(f)
}

pub static OOM_KILLS: super::Check = super::Check {
    info: CheckInfo {
        id: "oom-kills",
        fault_line: "Dependency fault line 3: Memory Fragmentation (kernel OOM killer terminating the API process)",
        confirm: "grep oom_kill /proc/vmstat; journalctl -k | grep -E 'Out of memory|Killed process'",
        log: "journalctl -k (\"Out of memory: Killed process PID (COMM)\")",
        remediation: "Any OOM kill is a failure: find the victim and the grower in the kernel log, cap services with cgroup memory limits so the right one is killed, and reduce per-connection memory (event-driven model, smaller buffers) or add memory.",
    },
    needs: || {
        let mut n = needs(&[VMSTAT]);
        n.kmsg = true;
        n
    },
    run: oom_kills,
};

fn oom_kills(ctx: &Ctx) -> Outcome<Finding> {
    let mut f = OOM_KILLS.info.finding(Status::Pass, "");
    let e = vm_counter(ctx, "oom_kill")?
        .ok_or_else(|| Problem::Skip("this kernel has no vmstat oom_kill (< 4.13)".into()))?;
    let total = e.value;
    let delta = e.delta;
    f.observed
        .push(Observed::new("oom_kills", total, Unit::Count));
    f.evidence.push(e);
    match &ctx.last.kmsg {
        Some(Ok(b)) => {
            let kills = parse::parse_kmsg_oom(b);
            f.evidence.push(Evidence::value(
                "/dev/kmsg",
                "Killed process lines",
                kills.len() as f64,
            ));
            for k in kills.iter().rev().take(5) {
                f.notes.push(format!("kernel log: {}", k.line));
            }
        }
        Some(Err(e)) => f.notes.push(format!("kernel log not read: {e}")),
        None => {}
    }
    rate_only(ctx).map_err(|_| {
        Problem::Skip(format!(
            "rate-based: --interval 0 takes one sample ({total} OOM kills since boot)"
        ))
    })?;
    let delta = delta.unwrap_or(0.0);
    if delta > 0.0 {
        f.raise(Status::Crit);
        f.summary = format!("{delta} OOM kills during the {:.1} s interval", ctx.secs);
    } else {
        f.summary = format!("no OOM kill during the interval ({total} since boot)");
    }
    f.observed.push(
        Observed::new("oom_kills_in_interval", delta, Unit::Count).thresholds(
            1.0,
            1.0,
            "any OOM kill is a failure",
        ),
    );
    Ok(f)
}
