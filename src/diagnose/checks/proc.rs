//! Processes: file descriptors against their limits, and socket leaks (CLOSE_WAIT).

use std::collections::BTreeMap;

use super::{Ctx, Outcome, needs, parsed, pct};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::diagnose::sample::{Data, ProcSample, Procs};
use crate::host::netlink::inet_diag::state;
use crate::host::rlimit::{Resource, parse_proc_limits};
use crate::parse;

const FILE_NR: &str = "/proc/sys/fs/file-nr";

fn proc_name(p: &ProcSample) -> String {
    p.name().unwrap_or_else(|| "?".into())
}

fn note_unreadable(f: &mut Finding, procs: &Procs) {
    if procs.unreadable > 0 {
        f.notes.push(format!(
            "{} processes could not be read by this user (run as root for all)",
            procs.unreadable
        ));
    }
}

pub static FD_EXHAUSTION: super::Check = super::Check {
    info: CheckInfo {
        id: "fd-exhaustion",
        fault_line: "Admin desk: \"Too many open files\" (process hit its file-descriptor limit)",
        confirm: "ls /proc/PID/fd | wc -l; grep 'Max open files' /proc/PID/limits; cat /proc/sys/fs/file-nr",
        log: "application logs: EMFILE \"Too many open files\" (ENFILE when the system-wide fs.file-max is reached)",
        remediation: "Raise the soft limit where the service starts: for systemd services LimitNOFILE= in a drop-in (limits.conf applies only to PAM login sessions; systemd >= 240 defaults to soft 1024, hard 524288); nginx worker_rlimit_nofile. If the count keeps growing, it is a leak (see socket-leak). Raise fs.file-max only when file-nr approaches it.",
    },
    needs: || {
        let mut n = needs(&[FILE_NR]);
        n.proc_status = true;
        n.proc_fds = true;
        n
    },
    run: fd_exhaustion,
};

fn fd_exhaustion(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.fd_exhaustion;
    let src = "node-mixin: warn 70 %, crit 90 % of the limit";
    let mut f = FD_EXHAUSTION.info.finding(Status::Pass, "");
    let mut parts = Vec::new();
    match parsed(ctx.last, FILE_NR, parse::parse_file_nr) {
        Ok(nr) if nr.max > 0 => {
            let r = nr.allocated as f64 / nr.max as f64;
            f.observed.push(
                Observed::new("system_file_handles_ratio", r, Unit::Ratio).thresholds(
                    cfg.warn_pct / 100.0,
                    cfg.crit_pct / 100.0,
                    src,
                ),
            );
            f.evidence
                .push(Evidence::value(FILE_NR, "allocated", nr.allocated as f64));
            f.evidence
                .push(Evidence::value(FILE_NR, "max", nr.max as f64));
            parts.push(format!("system {} of fs.file-max", pct(r)));
        }
        Ok(_) => {}
        Err(p) => f.notes.push(format!("file-nr: {}", p.message())),
    }
    let Some(procs) = &ctx.last.procs else {
        f.judge_observed();
        f.summary = parts.join("; ");
        return Ok(f);
    };
    let mut rows: Vec<(f64, u32, String, usize, u64)> = Vec::new();
    let mut scanned = 0;
    for p in &procs.list {
        let (Some(Ok(fds)), Some(Data::Bytes(lim))) = (&p.fds, &p.limits) else {
            continue;
        };
        scanned += 1;
        let text = String::from_utf8_lossy(lim);
        let Some(l) = parse_proc_limits(&text, Resource::Nofile) else {
            continue;
        };
        let Some(soft) = l.soft.filter(|&s| s > 0) else {
            continue;
        };
        rows.push((
            fds.len() as f64 / soft as f64,
            p.pid,
            proc_name(p),
            fds.len(),
            soft,
        ));
    }
    rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    f.evidence.push(Evidence::value(
        "/proc/*/fd",
        "processes scanned",
        scanned as f64,
    ));
    for (r, pid, name, open, soft) in rows.iter().take(5) {
        f.observed.push(
            Observed::new("process_fd_use_ratio", *r, Unit::Ratio)
                .label("pid", pid.to_string())
                .label("name", name.clone())
                .label("open", open.to_string())
                .label("limit", soft.to_string())
                .thresholds(cfg.warn_pct / 100.0, cfg.crit_pct / 100.0, src),
        );
    }
    if let Some((r, pid, name, open, soft)) = rows.first() {
        parts.push(format!("{name} ({pid}) {open} of {soft} fds ({})", pct(*r)));
    }
    note_unreadable(&mut f, procs);
    f.judge_observed();
    f.summary = parts.join("; ");
    Ok(f)
}

pub static SOCKET_LEAK: super::Check = super::Check {
    info: CheckInfo {
        id: "socket-leak",
        fault_line: "Troubleshooting matrix: Socket Leak",
        confirm: "ls -l /proc/PID/fd | grep -c socket; ss -tanp state close-wait",
        log: "/var/log/syslog (and the application's own log)",
        remediation: "CLOSE_WAIT means the peer closed and the application never called close(): fix unclosed connections and database handles in the application code (close on every error path, pool handles with timeouts). Restarting only hides it.",
    },
    needs: || {
        let mut n = needs(&[]);
        n.proc_status = true;
        n.proc_fds = true;
        n.socket_states = state::mask(&[state::CLOSE_WAIT]);
        n.socket_states_always = n.socket_states;
        n
    },
    run: socket_leak,
};

fn socket_inodes(fds: &[(String, String)]) -> impl Iterator<Item = u32> + '_ {
    fds.iter().filter_map(|(_, t)| {
        t.strip_prefix("socket:[")?
            .strip_suffix(']')?
            .parse::<u32>()
            .ok()
    })
}

fn socket_counts(procs: &Procs) -> BTreeMap<u32, usize> {
    procs
        .list
        .iter()
        .filter_map(|p| match &p.fds {
            Some(Ok(fds)) => Some((p.pid, socket_inodes(fds).count())),
            _ => None,
        })
        .collect()
}

fn socket_leak(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.socket_leak;
    let mut f = SOCKET_LEAK.info.finding(Status::Pass, "");
    let procs = ctx
        .last
        .procs
        .as_ref()
        .ok_or_else(|| super::Problem::Skip("no process data".into()))?;
    // CLOSE_WAIT sockets by inode, from the dump.
    let mut close_wait: BTreeMap<u32, u32> = BTreeMap::new();
    let mut dump_ok = false;
    match &ctx.last.sockets {
        Some(Ok(dump)) => {
            dump_ok = true;
            for s in dump.sockets.iter().filter(|s| s.state == state::CLOSE_WAIT) {
                close_wait.insert(s.inode, 0);
            }
            f.evidence.push(Evidence::value(
                "netlink:inet_diag",
                "CLOSE_WAIT sockets",
                close_wait.len() as f64,
            ));
        }
        Some(Err(e)) => f.notes.push(format!("CLOSE_WAIT not measured: {e}")),
        None => {}
    }
    let before = ctx.first.and_then(|s| s.procs.as_ref()).map(socket_counts);
    let mut rows: Vec<(usize, usize, u32, String, Option<f64>)> = Vec::new();
    let mut mapped = 0usize;
    for p in &procs.list {
        let Some(Ok(fds)) = &p.fds else { continue };
        let mut sockets = 0usize;
        let mut cw = 0usize;
        for inode in socket_inodes(fds) {
            sockets += 1;
            if let Some(c) = close_wait.get_mut(&inode) {
                *c += 1;
                cw += 1;
            }
        }
        mapped += cw;
        if sockets == 0 {
            continue;
        }
        let growth = before
            .as_ref()
            .and_then(|b| b.get(&p.pid))
            .map(|&n| (sockets as f64 - n as f64) / ctx.secs);
        rows.push((cw, sockets, p.pid, proc_name(p), growth));
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let src = "suggested (no published standard): a growing CLOSE_WAIT count is the leak signature";
    for (cw, sockets, pid, name, growth) in rows.iter().take(5) {
        if dump_ok {
            f.observed.push(
                Observed::new("process_close_wait_sockets", *cw as f64, Unit::Count)
                    .label("pid", pid.to_string())
                    .label("name", name.clone())
                    .thresholds(cfg.close_wait_warn, cfg.close_wait_crit, src),
            );
        }
        f.observed.push(
            Observed::new("process_sockets", *sockets as f64, Unit::Count)
                .label("pid", pid.to_string())
                .label("name", name.clone()),
        );
        if let Some(g) = growth {
            f.observed.push(
                Observed::new("process_socket_growth_per_second", *g, Unit::PerSecond)
                    .label("pid", pid.to_string())
                    .label("name", name.clone())
                    .warn_only(cfg.growth_warn_per_sec, "suggested"),
            );
        }
    }
    let unmapped = close_wait.len().saturating_sub(mapped);
    if unmapped > 0 {
        f.notes.push(format!(
            "{unmapped} CLOSE_WAIT sockets belong to processes not scanned (other users, or outside --pid/--process)"
        ));
    }
    note_unreadable(&mut f, procs);
    f.judge_observed();
    f.summary = match rows.first() {
        Some((cw, s, pid, name, _)) if dump_ok => format!(
            "{} CLOSE_WAIT sockets; most held by {name} ({pid}): {cw} CLOSE_WAIT of {s} sockets",
            close_wait.len()
        ),
        Some((_, s, pid, name, _)) => format!("most sockets: {name} ({pid}) with {s}"),
        None => format!(
            "{} CLOSE_WAIT sockets; no process holds sockets",
            close_wait.len()
        ),
    };
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inodes() {
        let fds = vec![
            ("0".to_string(), "/dev/null".to_string()),
            ("3".to_string(), "socket:[123]".to_string()),
            ("4".to_string(), "socket:[x]".to_string()),
        ];
        assert_eq!(socket_inodes(&fds).collect::<Vec<_>>(), vec![123]);
        let _ = Status::Pass;
    }
}
