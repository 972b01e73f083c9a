//! High CPU wait: PSI io, the iowait share (unreliable, shown for reference), per-disk
//! utilisation and queue.

use procfs_core::{FromRead, IoPressure};

use super::cpu::{stat_pair, ticks};
use super::mem::psi_share;
use super::{Ctx, Outcome, both, needs, pct};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::parse;

const PSI_IO: &str = "/proc/pressure/io";
const STAT: &str = "/proc/stat";
const DISKSTATS: &str = "/proc/diskstats";

pub static IO_WAIT: super::Check = super::Check {
    info: CheckInfo {
        id: "io-wait",
        fault_line: "Troubleshooting matrix: High CPU Wait",
        confirm: "iostat -x 1 10 (%util, aqu-sz); cat /proc/pressure/io",
        log: "N/A (journalctl -k for disk errors)",
        remediation: "Check for slow disk I/O on logging or temp-file writes: buffer or ship logs asynchronously, move temp files to tmpfs, nginx proxy buffering to memory; find the writer with iotop or pidstat -d. %util and queue mean little for virtual or RAID devices.",
    },
    needs: || needs(&[PSI_IO, STAT, DISKSTATS]),
    run: io_wait,
};

fn io_wait(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.io_wait;
    let mut f = IO_WAIT.info.finding(Status::Pass, "");
    let mut parts = Vec::new();
    match psi_share(ctx, PSI_IO, |b| {
        IoPressure::from_read(b)
            .ok()
            .map(|p| (p.some.avg10, p.some.total))
    }) {
        Ok((share, how)) => {
            f.observed.push(
                Observed::new("psi_io_some_ratio", share, Unit::Ratio)
                    .label("window", how)
                    .thresholds(
                        cfg.psi_some_warn_pct / 100.0,
                        cfg.psi_some_crit_pct / 100.0,
                        "suggested",
                    ),
            );
            parts.push(format!("PSI io some {}", pct(share)));
        }
        Err(p) => f.notes.push(format!("PSI: {}", p.message())),
    }
    if ctx.first.is_none() {
        f.notes
            .push("--interval 0: iowait share and disk utilisation not measured".into());
    } else {
        match stat_pair(ctx) {
            Ok((a, b)) => {
                let (_, t0, w0) = ticks(&a.total);
                let (_, t1, w1) = ticks(&b.total);
                let dt = t1.saturating_sub(t0);
                if dt > 0 {
                    let share = w1.saturating_sub(w0) as f64 / dt as f64;
                    f.observed.push(
                        Observed::new("cpu_iowait_ratio", share, Unit::Ratio).warn_only(
                            cfg.iowait_warn_pct / 100.0,
                            "awesome-prometheus-alerts: iowait > 10 % (iowait is idle time; unreliable)",
                        ),
                    );
                    parts.push(format!("iowait {}", pct(share)));
                }
            }
            Err(p) => f.notes.push(format!("/proc/stat: {}", p.message())),
        }
        match both(ctx, DISKSTATS, parse::parse_diskstats) {
            Ok((Some(a), b)) => {
                let ms = ctx.secs * 1000.0;
                let mut rows: Vec<(f64, f64, String)> = b
                    .iter()
                    .filter(|d| !d.is_virtual())
                    .filter_map(|d| {
                        let p = a.iter().find(|x| x.name == d.name)?;
                        let util = d.io_ticks_ms.saturating_sub(p.io_ticks_ms) as f64 / ms;
                        let queue = d.weighted_ms.saturating_sub(p.weighted_ms) as f64 / ms;
                        Some((util.min(1.0), queue, d.name.clone()))
                    })
                    .collect();
                rows.sort_by(|x, y| y.0.total_cmp(&x.0));
                for (util, queue, name) in rows.iter().take(3) {
                    f.observed.push(
                        Observed::new("disk_utilisation_ratio", *util, Unit::Ratio)
                            .label("device", name.clone())
                            .thresholds(
                                cfg.util_warn_pct / 100.0,
                                cfg.util_crit_pct / 100.0,
                                "%util > 60 % hurts latency (suggested crit 90 %)",
                            ),
                    );
                    f.observed.push(
                        Observed::new("disk_queue_length", *queue, Unit::Count)
                            .label("device", name.clone())
                            .warn_only(cfg.queue_warn, "average queue > 1 saturates a single disk"),
                    );
                    f.evidence.push(Evidence::value(
                        DISKSTATS,
                        &format!("{name} io_ticks share"),
                        *util,
                    ));
                }
                if let Some((u, q, n)) = rows.first() {
                    parts.push(format!("{n} {} busy, queue {q:.2}", pct(*u)));
                }
            }
            Ok(_) => {}
            Err(p) => f.notes.push(format!("diskstats: {}", p.message())),
        }
    }
    if f.observed.is_empty() {
        return Err(super::Problem::Skip(
            "no PSI io and one sample: nothing to measure".into(),
        ));
    }
    f.judge_observed();
    f.summary = parts.join(", ");
    Ok(f)
}
