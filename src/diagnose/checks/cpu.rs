//! CPU: saturation of the whole host (busy share, run queue, PSI, steal) and cgroups held
//! back by their CPU limit.

use super::{Ctx, Outcome, Problem, both, needs, online_cpus, pct, rate_only};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::diagnose::sample::Sample;
use crate::parse;

const STAT: &str = "/proc/stat";
const PSI_CPU: &str = "/proc/pressure/cpu";

pub static CPU_SATURATION: super::Check = super::Check {
    info: CheckInfo {
        id: "cpu-saturation",
        title: "CPUs saturated",
        symptom: "Every request is slower, worst at peaks; latency grows with load while the network and disks are quiet",
        question: "Are there more runnable tasks than CPUs, or is the hypervisor taking CPU time away (steal)?",
        confirm: "vmstat 1 5 (r above the CPU count, id near 0, st); mpstat -P ALL 1 5; cat /proc/pressure/cpu; top -o %CPU",
        log: "no log: look at the busiest processes (top, pidstat 1)",
        remediation: "Find what uses the CPU (top, pidstat 1, perf top) and reduce it, or add CPUs; keep batch work off latency-sensitive hosts or give it a lower weight (nice, cgroup cpu.weight). Steal time is CPU the hypervisor gave to other guests: move to a larger or dedicated instance type.",
    },
    needs: || needs(&[STAT, PSI_CPU, super::ONLINE]),
    rate_only: false,
    run: cpu_saturation,
};

/// PSI share over the interval from `total` (microseconds stalled), or avg10 with one sample.
pub(crate) fn psi_share(
    ctx: &Ctx,
    path: &str,
    pick: fn(&parse::Pressure) -> Option<parse::PsiLine>,
) -> Outcome<Option<(f64, &'static str)>> {
    let (a, b) = both(ctx, path, parse::parse_pressure)?;
    let Some(last) = pick(&b) else {
        return Ok(None);
    };
    if let Some(first) = a.as_ref().and_then(pick)
        && ctx.secs > 0.0
    {
        let share = last.total_us.saturating_sub(first.total_us) as f64 / (ctx.secs * 1e6);
        return Ok(Some((share.min(1.0), "share of the interval")));
    }
    Ok(Some((last.avg10 / 100.0, "avg10")))
}

fn cpu_saturation(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.cpu_saturation;
    let mut f = CPU_SATURATION.info.finding(Status::Pass, "");
    let mut parts = Vec::new();
    let cpus = online_cpus(ctx.last).map_or(0, |o| o.len());
    let (a, b) = both(ctx, STAT, parse::parse_stat)?;
    if let (Some(a), Some(total_b)) = (a.as_ref().and_then(|a| a.total), b.total) {
        let dt = total_b.total().saturating_sub(a.total());
        if dt > 0 {
            let busy = total_b.busy().saturating_sub(a.busy()) as f64 / dt as f64;
            f.observed.push(
                Observed::new("cpu_busy_ratio", busy.min(1.0), Unit::Ratio).thresholds(
                    cfg.busy_warn_pct / 100.0,
                    cfg.busy_crit_pct / 100.0,
                    "netdata 10min_cpu_usage: warn 85 %, crit 95 %",
                ),
            );
            parts.push(format!("CPUs {} busy", pct(busy)));
            if let (Some(s0), Some(s1)) = (a.steal, total_b.steal) {
                let steal = s1.saturating_sub(s0) as f64 / dt as f64;
                f.observed.push(
                    Observed::new("cpu_steal_ratio", steal.min(1.0), Unit::Ratio).thresholds(
                        cfg.steal_warn_pct / 100.0,
                        cfg.steal_crit_pct / 100.0,
                        "netdata 20min_steal_cpu: warn 10 % (crit suggested)",
                    ),
                );
                if steal > 0.0 {
                    parts.push(format!("{} stolen by the hypervisor", pct(steal)));
                }
            }
        }
    }
    // Runnable tasks right now, without the reader itself, averaged over the samples.
    let running: Vec<u64> = [a.as_ref(), Some(&b)]
        .into_iter()
        .flatten()
        .filter_map(|s| s.procs_running)
        .map(|r| r.saturating_sub(1))
        .collect();
    if cpus > 0 && !running.is_empty() {
        let avg = running.iter().sum::<u64>() as f64 / running.len() as f64;
        let per_cpu = avg / cpus as f64;
        f.evidence.push(Evidence::value(
            STAT,
            "procs_running (without hostperf)",
            avg,
        ));
        f.observed.push(
            Observed::new("run_queue_per_cpu", per_cpu, Unit::Count).thresholds(
                cfg.run_queue_warn,
                cfg.run_queue_crit,
                "suggested (USE method): more runnable tasks than CPUs is saturation",
            ),
        );
        parts.push(format!("{avg:.1} runnable tasks on {cpus} CPUs"));
    }
    match psi_share(ctx, PSI_CPU, |p| p.some) {
        Ok(Some((share, how))) => {
            f.observed.push(
                Observed::new("psi_cpu_some_ratio", share, Unit::Ratio).thresholds(
                    cfg.psi_some_warn_pct / 100.0,
                    cfg.psi_some_crit_pct / 100.0,
                    "suggested: share of time some runnable task waited for a CPU",
                ),
            );
            parts.push(format!(
                "tasks waited for a CPU {} of the time ({how})",
                pct(share)
            ));
        }
        Ok(None) => {}
        Err(p) => f.notes.push(format!("PSI: {}", p.message())),
    }
    if f.observed.is_empty() {
        return Err(Problem::Skip(
            "nothing to measure: one sample, no run queue and no /proc/pressure/cpu".into(),
        ));
    }
    if ctx.first.is_none() {
        f.notes
            .push("--interval 0: busy and steal shares not measured".into());
    }
    f.judge_observed();
    f.summary = parts.join("; ");
    Ok(f)
}

pub static CPU_THROTTLING: super::Check = super::Check {
    info: CheckInfo {
        id: "cpu-throttling",
        title: "Service held back by its CPU limit",
        symptom: "A service's requests take tens of milliseconds longer in bursts (p99 spikes) while the host has idle CPUs",
        question: "Is a container's or service's CPU quota throttling it?",
        confirm: "cat CGROUP/cpu.stat (nr_throttled, throttled_usec) twice; systemctl show UNIT -p CPUQuotaPerSecUSec; cat CGROUP/cpu.max",
        log: "no log: the cgroup's cpu.stat is the only record",
        remediation: "The cgroup used its whole CPU quota within a CFS period and waited for the next one. Raise the limit (systemd CPUQuota=, Kubernetes resources.limits.cpu, cpu.max), or remove it and use weights (cpu.weight / requests) instead; make the service use fewer threads than its quota in CPUs.",
    },
    needs: || {
        let mut n = needs(&[]);
        n.cgroups = true;
        n
    },
    rate_only: true,
    run: cpu_throttling,
};

/// A cgroup's throttling counters from cpu.stat (v1 throttled_time in ns, v2 throttled_usec).
fn throttle(s: &Sample, dir: &str) -> Option<(u64, u64, u64)> {
    let m = parse::parse_key_values(s.bytes(&format!("{dir}/cpu.stat"))?).ok()?;
    let periods = *m.get("nr_periods")?;
    let throttled = *m.get("nr_throttled")?;
    let usec = m
        .get("throttled_usec")
        .copied()
        .or_else(|| m.get("throttled_time").map(|ns| ns / 1000))
        .unwrap_or(0);
    Some((periods, throttled, usec))
}

/// The CPU limit of a cgroup in CPUs, from cpu.max or cpu.cfs_quota_us / cpu.cfs_period_us.
fn limit_cpus(s: &Sample, dir: &str) -> Option<f64> {
    if let Some(b) = s.bytes(&format!("{dir}/cpu.max")) {
        let m = parse::parse_cpu_max(b).ok()?;
        return Some(m.quota_us? as f64 / m.period_us.max(1) as f64);
    }
    let quota = parse::parse_signed(s.bytes(&format!("{dir}/cpu.cfs_quota_us"))?).ok()?;
    let period = parse::parse_single(s.bytes(&format!("{dir}/cpu.cfs_period_us"))?).ok()?;
    (quota > 0).then(|| quota as f64 / period.max(1) as f64)
}

/// A name a person recognises: the unit (`nginx.service`) or container scope in the path,
/// and the processes in it.
fn who(s: &Sample, dir: &str) -> String {
    let unit = dir
        .rsplit('/')
        .find(|c| c.ends_with(".service") || c.ends_with(".scope") || c.starts_with("pod"))
        .map(str::to_string);
    let pids: Vec<u32> = s
        .bytes(&format!("{dir}/cgroup.procs"))
        .map(|b| {
            String::from_utf8_lossy(b)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .take(3)
                .collect()
        })
        .unwrap_or_default();
    let procs: Vec<String> = pids
        .iter()
        .map(|pid| {
            let name = s
                .bytes(&format!("/proc/{pid}/comm"))
                .map(|c| String::from_utf8_lossy(c).trim_end().to_string());
            match name {
                Some(n) => format!("{n} ({pid})"),
                None => format!("pid {pid}"),
            }
        })
        .collect();
    match (unit, procs.is_empty()) {
        (Some(u), true) => u,
        (Some(u), false) => format!("{u}: {}", procs.join(", ")),
        (None, false) => procs.join(", "),
        (None, true) => String::new(),
    }
}

fn cpu_throttling(ctx: &Ctx) -> Outcome<Finding> {
    rate_only(ctx)?;
    let first = ctx.first.expect("two samples");
    let cfg = &ctx.cfg.cpu_throttling;
    let mut f = CPU_THROTTLING.info.finding(Status::Pass, "");
    let dirs: Vec<&str> = ctx
        .last
        .files
        .keys()
        .filter_map(|k| k.strip_suffix("/cpu.stat"))
        .collect();
    if dirs.is_empty() {
        return Err(Problem::Skip(
            "no cgroup with the cpu controller is visible here".into(),
        ));
    }
    let mut rows: Vec<(f64, String, u64, u64, f64)> = Vec::new();
    let mut limited = 0;
    for dir in &dirs {
        let (Some((p1, t1, u1)), Some((p0, t0, u0))) =
            (throttle(ctx.last, dir), throttle(first, dir))
        else {
            continue;
        };
        if p1 == 0 {
            continue;
        }
        limited += 1;
        let periods = p1.saturating_sub(p0);
        if periods == 0 {
            continue;
        }
        let throttled = t1.saturating_sub(t0);
        let waited = u1.saturating_sub(u0) as f64 / 1e6 / ctx.secs;
        rows.push((
            throttled as f64 / periods as f64,
            dir.to_string(),
            throttled,
            periods,
            waited,
        ));
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    f.evidence.push(Evidence::value(
        "cgroup cpu.stat",
        "cgroups with a CPU limit",
        f64::from(limited),
    ));
    for (ratio, dir, throttled, periods, waited) in rows.iter().take(5) {
        let name = who(ctx.last, dir);
        f.observed.push(
            Observed::new("cgroup_throttled_periods_ratio", *ratio, Unit::Ratio)
                .label("cgroup", dir.clone())
                .thresholds(
                    cfg.warn_pct / 100.0,
                    cfg.crit_pct / 100.0,
                    "kubernetes-mixin CPUThrottlingHigh: 25 % of periods (crit suggested)",
                ),
        );
        f.observed.push(
            Observed::new("cgroup_throttled_seconds_per_second", *waited, Unit::Ratio)
                .label("cgroup", dir.clone()),
        );
        f.evidence.push(Evidence::value(
            &format!("{dir}/cpu.stat"),
            &format!(
                "nr_throttled +{throttled} of nr_periods +{periods}{}{}",
                limit_cpus(ctx.last, dir).map_or(String::new(), |c| format!(", limit {c:.2} CPUs")),
                if name.is_empty() {
                    String::new()
                } else {
                    format!(" ({name})")
                }
            ),
            *ratio,
        ));
    }
    f.judge_observed();
    f.summary = match rows.first() {
        Some((ratio, dir, ..)) if *ratio > 0.0 => {
            let name = who(ctx.last, dir);
            let limit = limit_cpus(ctx.last, dir)
                .map_or(String::new(), |c| format!(" at its limit of {c:.2} CPUs"));
            format!(
                "{dir}{} throttled in {} of CFS periods{limit}",
                if name.is_empty() {
                    String::new()
                } else {
                    format!(" ({name})")
                },
                pct(*ratio)
            )
        }
        _ => format!("no throttling among {limited} cgroups with a CPU limit"),
    };
    Ok(f)
}
