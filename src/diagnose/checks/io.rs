//! Disk I/O: PSI io, time per I/O of each whole disk, busy share of rotational disks, hung
//! tasks in the kernel log; the iowait share for reference.

use std::collections::BTreeMap;

use super::cpu::psi_share;
use super::{Ctx, Outcome, Problem, both, kernel_log, needs, pct};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::diagnose::sample::Sample;
use crate::diagnose::system::SYS_BLOCK;
use crate::parse;

const PSI_IO: &str = "/proc/pressure/io";
const STAT: &str = "/proc/stat";
const DISKSTATS: &str = "/proc/diskstats";

pub static IO_WAIT: super::Check = super::Check {
    info: CheckInfo {
        id: "io-wait",
        title: "Slow disk I/O",
        symptom: "Requests stall on writes to logs or temp files; `top` shows high %wa; tasks hang in D state",
        question: "High CPU wait: are tasks waiting for slow disk I/O?",
        confirm: "iostat -x 1 10 (r_await, w_await; %util only means something for spinning disks); cat /proc/pressure/io; iotop -o",
        log: "journalctl -k (\"task ... blocked for more than N seconds\", disk errors)",
        remediation: "Find the writer (iotop -o, pidstat -d 1) and take slow disk I/O off the request path: buffer or ship logs asynchronously, move temp files to tmpfs, keep proxy buffering in memory. High time per I/O on a virtual disk means its provisioned IOPS or throughput are used up: raise them or spread the load.",
    },
    needs: || {
        let mut n = needs(&[PSI_IO, STAT, DISKSTATS]);
        n.disks = true;
        n.kernel_log = true;
        n
    },
    rate_only: false,
    run: io_wait,
};

/// Whole, real disks by name: listed in /sys/block (else not a partition of another device
/// in diskstats), and not virtual.
fn whole_disks<'a>(s: &Sample, disks: &'a [parse::Disk]) -> Vec<&'a parse::Disk> {
    let block = s.dir(SYS_BLOCK);
    let names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
    disks
        .iter()
        .filter(|d| !d.is_virtual())
        .filter(|d| {
            if block.is_empty() {
                !parse::is_partition_name(&d.name, &names)
            } else {
                block.contains(&d.name)
            }
        })
        .collect()
}

fn rotational(s: &Sample, name: &str) -> Option<bool> {
    parse::parse_single(s.bytes(&format!("{SYS_BLOCK}/{name}/queue/rotational"))?)
        .ok()
        .map(|v| v == 1)
}

fn io_wait(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.io_wait;
    let mut f = IO_WAIT.info.finding(Status::Pass, "");
    let mut parts = Vec::new();
    match psi_share(ctx, PSI_IO, |p| p.some) {
        Ok(Some((share, how))) => {
            f.observed.push(
                Observed::new("psi_io_some_ratio", share, Unit::Ratio).thresholds(
                    cfg.psi_some_warn_pct / 100.0,
                    cfg.psi_some_crit_pct / 100.0,
                    "suggested: share of time some task waited for I/O",
                ),
            );
            parts.push(format!(
                "tasks waited for I/O {} of the time ({how})",
                pct(share)
            ));
        }
        Ok(None) => {}
        Err(p) => f.notes.push(format!("PSI: {}", p.message())),
    }
    if ctx.first.is_none() {
        f.notes
            .push("--interval 0: time per I/O and disk busy share not measured".into());
    } else {
        if let Ok((Some(a), b)) = both(ctx, STAT, parse::parse_stat)
            && let (Some(a), Some(b)) = (a.total, b.total)
        {
            let dt = b.total().saturating_sub(a.total());
            if dt > 0 {
                let share =
                    b.iowait.unwrap_or(0).saturating_sub(a.iowait.unwrap_or(0)) as f64 / dt as f64;
                f.evidence.push(Evidence::value(
                    STAT,
                    "iowait share of CPU time (idle time with I/O pending; for reference)",
                    share,
                ));
            }
        }
        match both(ctx, DISKSTATS, parse::parse_diskstats) {
            Ok((Some(a), b)) => {
                let ms = ctx.secs * 1000.0;
                let before: BTreeMap<&str, &parse::Disk> =
                    a.iter().map(|d| (d.name.as_str(), d)).collect();
                let mut rows = Vec::new();
                for d in whole_disks(ctx.last, &b) {
                    let Some(p) = before.get(d.name.as_str()) else {
                        continue;
                    };
                    let ios = d
                        .reads
                        .saturating_sub(p.reads)
                        .saturating_add(d.writes.saturating_sub(p.writes));
                    let spent = d
                        .read_ms
                        .saturating_sub(p.read_ms)
                        .saturating_add(d.write_ms.saturating_sub(p.write_ms));
                    let util = (d.io_ticks_ms.saturating_sub(p.io_ticks_ms) as f64 / ms).min(1.0);
                    rows.push((
                        d.name.clone(),
                        ios,
                        spent,
                        util,
                        rotational(ctx.last, &d.name),
                    ));
                }
                rows.sort_by(|x, y| {
                    (y.2 * x.1.max(1))
                        .cmp(&(x.2 * y.1.max(1)))
                        .then(x.0.cmp(&y.0))
                });
                for (name, ios, spent, util, rot) in rows.iter().take(5) {
                    f.evidence.push(Evidence::value(
                        DISKSTATS,
                        &format!("{name}: I/Os completed in the interval"),
                        *ios as f64,
                    ));
                    if *ios > 0 {
                        let wait = *spent as f64 / *ios as f64 / 1000.0;
                        f.observed.push(
                            Observed::new("disk_await_seconds", wait, Unit::Seconds)
                                .label("device", name.clone())
                                .thresholds(
                                    cfg.await_warn_ms / 1000.0,
                                    cfg.await_crit_ms / 1000.0,
                                    "awesome-prometheus-alerts HostUnusualDiskRead/WriteLatency: 100 ms per I/O (crit suggested)",
                                ),
                        );
                        parts.push(format!("{name} {:.1} ms per I/O", wait * 1000.0));
                    }
                    let o = Observed::new("disk_utilisation_ratio", *util, Unit::Ratio)
                        .label("device", name.clone());
                    f.observed.push(if *rot == Some(true) {
                        o.thresholds(
                            cfg.util_warn_pct / 100.0,
                            cfg.util_crit_pct / 100.0,
                            "a spinning disk busy 60 % of the time queues requests (crit suggested)",
                        )
                    } else {
                        o
                    });
                }
                if rows.iter().any(|r| r.4 != Some(true)) {
                    f.notes.push(
                        "busy share (%util) is judged for spinning disks only: SSDs, NVMe and virtual disks serve many I/Os at once".into(),
                    );
                }
            }
            Ok(_) => {}
            Err(p) => f.notes.push(format!("diskstats: {}", p.message())),
        }
    }
    let logged = kernel_log(ctx, &mut f);
    if logged > 0 {
        f.raise(Status::Crit);
        parts.push(format!("{logged} hung-task kernel messages"));
    }
    if f.observed.is_empty() && logged == 0 {
        return Err(Problem::Skip(
            "nothing measured: no /proc/pressure/io, and no disk counters over an interval".into(),
        ));
    }
    f.judge_observed();
    f.summary = if parts.is_empty() {
        "no disk I/O in the interval".into()
    } else {
        parts.join(", ")
    };
    Ok(f)
}
