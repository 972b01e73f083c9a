//! Memory: pressure (PSI, swap-in, direct reclaim, MemAvailable), kernel fragmentation and
//! process heap growth (reported apart), OOM kills.

use super::cpu::psi_share;
use super::{Ctx, Outcome, Problem, both, by_pid, kernel_log, map_counter, needs, parsed, pct};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::parse;

const MEMINFO: &str = "/proc/meminfo";
const VMSTAT: &str = "/proc/vmstat";
const PSI_MEMORY: &str = "/proc/pressure/memory";
const BUDDYINFO: &str = "/proc/buddyinfo";

/// A vmstat counter in both samples (first absent with one sample), summed over every name
/// that starts with `prefix` when `sum` (allocstall_normal, allocstall_movable, ...).
fn vm_counter(ctx: &Ctx, name: &str, sum: bool) -> Outcome<Option<Evidence>> {
    let (a, b) = both(ctx, VMSTAT, parse::parse_vmstat)?;
    if !sum {
        return Ok(map_counter(ctx, VMSTAT, a.as_ref(), &b, name));
    }
    let total = |m: &parse::Counters| -> Option<u64> {
        let mut found = false;
        let mut t = 0u64;
        for (k, v) in m.range(name.to_string()..) {
            if !k.starts_with(name) {
                break;
            }
            found = true;
            t = t.saturating_add(*v);
        }
        found.then_some(t)
    };
    let Some(after) = total(&b) else {
        return Ok(None);
    };
    let before = a.as_ref().and_then(total).map(|v| v as f64);
    Ok(Some(Evidence::counter(
        VMSTAT,
        &format!("{name}*"),
        before,
        after as f64,
        ctx.secs,
    )))
}

pub static MEMORY_PRESSURE: super::Check = super::Check {
    info: CheckInfo {
        id: "memory-pressure",
        title: "Memory pressure",
        symptom: "Everything slows down at once, the disk gets busy reading back swapped or evicted pages, and processes risk the OOM killer",
        question: "Are tasks stalling because memory is short (swapping, reclaim)?",
        confirm: "cat /proc/pressure/memory; vmstat 1 5 (si/so columns); grep -E 'MemAvailable|Swap' /proc/meminfo; ps aux --sort=-rss | head",
        log: "journalctl -k (\"Out of memory\"); journalctl -u systemd-oomd",
        remediation: "Find what grows (ps aux --sort=-rss | head) and cap services with cgroup memory limits (MemoryMax=) so one cannot starve the rest; prefer an event-driven server over a thread per connection, which pays a stack and buffers per connection; add memory or move work off the host. Swap-in and direct reclaim are the latency: a host serving requests should not swap in.",
    },
    needs: || needs(&[MEMINFO, VMSTAT, PSI_MEMORY]),
    rate_only: false,
    run: memory_pressure,
};

fn memory_pressure(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.memory_pressure;
    let mut f = MEMORY_PRESSURE.info.finding(Status::Pass, "");
    let mut parts = Vec::new();
    match parsed(ctx.last, MEMINFO, parse::parse_meminfo) {
        Ok(m) => {
            let total = m.get("MemTotal").unwrap_or(0);
            match m.get("MemAvailable") {
                Some(avail) if total > 0 => {
                    let r = avail as f64 / total as f64;
                    f.observed.push(
                        Observed::new("memory_available_ratio", r, Unit::Ratio)
                            .thresholds(
                                cfg.available_warn_pct / 100.0,
                                cfg.available_crit_pct / 100.0,
                                "awesome-prometheus-alerts HostOutOfMemory: MemAvailable < 10 % of MemTotal",
                            )
                            .lower_is_worse(),
                    );
                    f.evidence.push(Evidence::value(
                        MEMINFO,
                        "MemAvailable (bytes)",
                        avail as f64,
                    ));
                    parts.push(format!("MemAvailable {}", pct(r)));
                }
                _ => f.notes.push("no MemAvailable (kernel < 3.14)".into()),
            }
            f.evidence
                .push(Evidence::value(MEMINFO, "MemTotal (bytes)", total as f64));
            if let (Some(st), Some(sf)) = (m.get("SwapTotal"), m.get("SwapFree"))
                && st > 0
            {
                let used = st.saturating_sub(sf) as f64 / st as f64;
                f.observed
                    .push(Observed::new("swap_used_ratio", used, Unit::Ratio));
                parts.push(format!("swap {} used", pct(used)));
            }
        }
        Err(p) => f.notes.push(format!("meminfo: {}", p.message())),
    }
    if ctx.first.is_some() {
        for (name, sum, metric, warn, crit, src) in [
            (
                "pswpin",
                false,
                "swap_in_pages_per_second",
                cfg.swap_in_warn_per_sec,
                cfg.swap_in_crit_per_sec,
                "suggested: pages read back from swap delay whoever touches them",
            ),
            (
                "allocstall",
                true,
                "direct_reclaim_per_second",
                cfg.direct_reclaim_warn_per_sec,
                cfg.direct_reclaim_crit_per_sec,
                "suggested: allocations that had to reclaim memory themselves",
            ),
            (
                "pgmajfault",
                false,
                "major_faults_per_second",
                cfg.major_faults_warn_per_sec,
                cfg.major_faults_crit_per_sec,
                "awesome-prometheus-alerts HostMemoryUnderMemoryPressure: > 1000/s",
            ),
        ] {
            match vm_counter(ctx, name, sum) {
                Ok(Some(e)) => {
                    if let Some(r) = e.rate_per_sec {
                        f.observed.push(
                            Observed::new(metric, r, Unit::PerSecond).thresholds(warn, crit, src),
                        );
                        if r > 0.0 && name != "pgmajfault" {
                            parts.push(format!("{name} {r:.0}/s"));
                        }
                    }
                    f.evidence.push(e);
                }
                Ok(None) => {}
                Err(p) => f.notes.push(format!("vmstat: {}", p.message())),
            }
        }
    } else {
        f.notes
            .push("--interval 0: swap-in, reclaim and fault rates not measured".into());
    }
    for (pick, metric, warn, crit, label) in [
        (
            (|p: &parse::Pressure| p.some) as fn(&parse::Pressure) -> Option<parse::PsiLine>,
            "psi_memory_some_ratio",
            cfg.psi_some_warn_pct,
            cfg.psi_some_crit_pct,
            "some",
        ),
        (
            |p: &parse::Pressure| p.full,
            "psi_memory_full_ratio",
            cfg.psi_full_warn_pct,
            cfg.psi_full_crit_pct,
            "full",
        ),
    ] {
        match psi_share(ctx, PSI_MEMORY, pick) {
            Ok(Some((share, how))) => {
                let src = if label == "full" {
                    "systemd-oomd acts at 60 % memory pressure for 30 s; warn is suggested"
                } else {
                    "suggested: share of time some task waited for memory"
                };
                f.observed
                    .push(Observed::new(metric, share, Unit::Ratio).thresholds(
                        warn / 100.0,
                        crit / 100.0,
                        src,
                    ));
                parts.push(format!("PSI {label} {} ({how})", pct(share)));
            }
            Ok(None) => {}
            Err(p) => {
                if label == "some" {
                    f.notes.push(format!("PSI: {}", p.message()));
                }
            }
        }
    }
    if f.observed.is_empty() {
        return Err(Problem::Skip(
            "nothing measured: no MemAvailable, no /proc/pressure/memory and one sample".into(),
        ));
    }
    f.judge_observed();
    f.summary = if parts.is_empty() {
        "no swap-in, direct reclaim or stall on memory in the interval".into()
    } else {
        parts.join(", ")
    };
    Ok(f)
}

pub static MEMORY_FRAGMENTATION: super::Check = super::Check {
    info: CheckInfo {
        id: "memory-fragmentation",
        title: "Memory fragmented, or a process heap growing",
        symptom: "Allocations of large buffers fail or stall (\"page allocation failure: order:N\") although free memory looks plentiful; or one process grows steadily at flat load",
        question: "Is free memory too fragmented for the kernel, or is an application's heap growing?",
        confirm: "cat /proc/buddyinfo; grep -E 'compact_(stall|fail)' /proc/vmstat; grep -E 'VmData|VmRSS' /proc/PID/status (twice, at steady load)",
        log: "journalctl -k (\"page allocation failure: order:N\")",
        remediation: "Kernel fragmentation (few high-order blocks while MemFree is high): raise vm.min_free_kbytes moderately, trigger compaction (echo 1 > /proc/sys/vm/compact_memory) and find who needs high-order pages (jumbo frames, THP). A process whose VmData/RSS grows at flat load is the application's heap: fix the leak, cap per-connection buffers, or move from a thread per connection to an event-driven model.",
    },
    needs: || {
        let mut n = needs(&[BUDDYINFO, MEMINFO, VMSTAT]);
        n.procs = true;
        n.proc_memory = true;
        n.kernel_log = true;
        n
    },
    rate_only: false,
    run: memory_fragmentation,
};

fn memory_fragmentation(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.memory_fragmentation;
    let mut f = MEMORY_FRAGMENTATION.info.finding(Status::Pass, "");
    let zones = parsed(ctx.last, BUDDYINFO, parse::parse_buddyinfo)?;
    let m = parsed(ctx.last, MEMINFO, parse::parse_meminfo)?;
    let free: u64 = zones
        .iter()
        .map(|z| z.free_pages())
        .fold(0, u64::saturating_add);
    let high: u64 = zones
        .iter()
        .map(|z| z.free_pages_at_or_above(cfg.order))
        .fold(0, u64::saturating_add);
    let high_share = if free > 0 {
        high as f64 / free as f64
    } else {
        0.0
    };
    let (total, memfree) = (
        m.get("MemTotal").unwrap_or(0),
        m.get("MemFree").unwrap_or(0),
    );
    let memfree_share = if total > 0 {
        memfree as f64 / total as f64
    } else {
        0.0
    };
    f.evidence
        .push(Evidence::value(MEMINFO, "MemFree (bytes)", memfree as f64));
    f.evidence.push(Evidence::value(
        BUDDYINFO,
        &format!("free pages in blocks of order >= {}", cfg.order),
        high as f64,
    ));
    f.evidence
        .push(Evidence::value(BUDDYINFO, "free pages", free as f64));
    let mut o = Observed::new("high_order_free_ratio", high_share, Unit::Ratio);
    if memfree_share * 100.0 >= cfg.memfree_min_pct {
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
            pct(memfree_share)
        ));
    }
    f.observed.push(o);
    let mut parts = vec![format!(
        "{} of free memory in blocks of order >= {} (MemFree {})",
        pct(high_share),
        cfg.order,
        pct(memfree_share)
    )];
    if ctx.first.is_some() {
        for name in ["compact_stall", "compact_fail"] {
            if let Some(e) = vm_counter(ctx, name, false)? {
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
        let before = by_pid(ctx.first.and_then(|s| s.procs.as_ref()), |p| {
            Some((p.vm_data_kb, p.vm_rss_kb))
        });
        match (&ctx.first, &ctx.last.procs) {
            (Some(_), Some(procs)) => {
                for p in procs
                    .list
                    .iter()
                    .filter(|p| ctx.focus.matches(p.pid, p.comm.as_deref()))
                {
                    let Some((d0, r0)) = before.get(&p.pid) else {
                        continue;
                    };
                    for (metric, x, y) in [
                        ("process_vmdata_growth_bytes_per_second", *d0, p.vm_data_kb),
                        ("process_rss_growth_bytes_per_second", *r0, p.vm_rss_kb),
                    ] {
                        let (Some(x), Some(y)) = (x, y) else { continue };
                        let rate = (y as f64 - x as f64) * 1024.0 / ctx.secs;
                        let mut o = Observed::new(metric, rate, Unit::PerSecond)
                            .label("pid", p.pid.to_string())
                            .label("name", p.name().to_string());
                        if metric.contains("vmdata") {
                            o = o.warn_only(
                                cfg.vmdata_growth_warn_bytes_per_sec,
                                "suggested: VmData rising at flat load is the heap growing",
                            );
                            if rate > 0.0 {
                                parts.push(format!(
                                    "{} ({}) VmData +{:.0} KiB/s",
                                    p.name(),
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
    let logged = kernel_log(ctx, &mut f);
    if logged > 0 {
        f.raise(Status::Warn);
        parts.push(format!(
            "{logged} \"page allocation failure\" kernel messages"
        ));
    }
    f.summary = parts.join("; ");
    Ok(f)
}

pub static OOM_KILLS: super::Check = super::Check {
    info: CheckInfo {
        id: "oom-kills",
        title: "Processes killed for lack of memory",
        symptom: "A service restarts or vanishes without an error of its own; clients see resets and 502s",
        question: "Did the kernel's OOM killer terminate a process?",
        confirm: "grep oom_kill /proc/vmstat; journalctl -k | grep -E 'Out of memory|Killed process'",
        log: "journalctl -k (\"Out of memory: Killed process PID (COMM)\")",
        remediation: "Any OOM kill is a failure: find the victim and the grower in the kernel log, cap services with cgroup memory limits so the right one is killed, and reduce per-connection memory (event-driven model, smaller buffers) or add memory.",
    },
    needs: || {
        let mut n = needs(&[VMSTAT]);
        n.kernel_log = true;
        n
    },
    rate_only: false,
    run: oom_kills,
};

fn oom_kills(ctx: &Ctx) -> Outcome<Finding> {
    let mut f = OOM_KILLS.info.finding(Status::Pass, "");
    let counted = vm_counter(ctx, "oom_kill", false).ok().flatten();
    let logged = kernel_log(ctx, &mut f);
    let victims: Vec<String> = f
        .kernel_log
        .iter()
        .filter_map(|l| parse::parse_oom_kill(l))
        .map(|k| format!("{} ({})", k.comm, k.pid))
        .collect();
    let delta = counted.as_ref().and_then(|e| e.delta);
    if let Some(e) = counted {
        f.observed
            .push(Observed::new("oom_kills_since_boot", e.value, Unit::Count));
        f.evidence.push(e);
    }
    if delta.is_none() && ctx.last.kernel_log.is_none() {
        return Err(Problem::Skip(match f.observed.first() {
            Some(o) => format!(
                "rate-based: --interval 0 takes one sample ({} OOM kills since boot; pass --since to read the kernel log)",
                o.value
            ),
            None => {
                "this kernel has no vmstat oom_kill (< 4.13) and the kernel log was not read".into()
            }
        }));
    }
    let kills = delta.unwrap_or(0.0).max(victims.len() as f64);
    f.observed.push(
        Observed::new("oom_kills_in_window", kills, Unit::Count).thresholds(
            1.0,
            1.0,
            "any OOM kill is a failure",
        ),
    );
    f.judge_observed();
    f.summary = if kills > 0.0 {
        let who = if victims.is_empty() {
            String::new()
        } else {
            format!(": {}", victims.join(", "))
        };
        format!("{kills} OOM kills in the window{who}")
    } else {
        format!("no OOM kill in the window ({logged} kernel messages)")
    };
    Ok(f)
}
