//! Processes: file descriptors against limits, and sockets left in CLOSE_WAIT.

use std::collections::{BTreeMap, BTreeSet};

use super::{Ctx, Outcome, Problem, kernel_log, needs, parsed, pct};
use crate::diagnose::model::{CheckInfo, Evidence, Finding, Observed, Status, Unit};
use crate::diagnose::procs::Procs;
use crate::host::netlink::inet_diag::state;
use crate::parse;

const FILE_NR: &str = "/proc/sys/fs/file-nr";

/// How many processes could not be read, as the finding's `partial`.
fn partial(f: &mut Finding, unreadable: usize, of: usize, what: &str) {
    if unreadable > 0 {
        f.partial = Some(format!(
            "{what} of {unreadable} of {of} processes could not be read by this user (run as root to see all)"
        ));
    }
}

pub static FD_EXHAUSTION: super::Check = super::Check {
    info: CheckInfo {
        id: "fd-exhaustion",
        title: "File descriptors running out",
        symptom: "Accepting or opening connections fails with \"Too many open files\" (EMFILE; ENFILE when the whole system is out)",
        question: "Is a process close to its open-files limit, or the system to fs.file-max?",
        confirm: "ls /proc/PID/fd | wc -l; grep 'Max open files' /proc/PID/limits; cat /proc/sys/fs/file-nr",
        log: "the application's log: \"Too many open files\"; journalctl -k: \"VFS: file-max limit N reached\"",
        remediation: "Raise the soft limit where the service starts: for systemd services LimitNOFILE= in a drop-in (limits.conf applies only to PAM login sessions; systemd >= 240 defaults to soft 1024, hard 524288); nginx worker_rlimit_nofile. If the count keeps growing, it is a leak (see socket-leak). Raise fs.file-max only when file-nr approaches it.",
    },
    needs: || {
        let mut n = needs(&[FILE_NR]);
        n.procs = true;
        n.proc_fds = true;
        n.kernel_log = true;
        n
    },
    rate_only: false,
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
    let mut rows: Vec<(f64, u32, String, u64, u64)> = Vec::new();
    let (mut counted, mut unreadable, mut considered) = (0usize, 0usize, 0usize);
    if let Some(procs) = &ctx.last.procs {
        if let Some(e) = &procs.error {
            f.notes.push(format!("process list not read: {e}"));
        }
        for p in procs
            .list
            .iter()
            .filter(|p| ctx.focus.matches(p.pid, p.comm.as_deref()))
        {
            let (fds, limit) = match (&p.fds, &p.nofile_soft) {
                (Some(Ok(n)), Some(Ok(l))) => (*n, *l),
                (Some(Err(_)), _) | (_, Some(Err(_))) => {
                    considered += 1;
                    unreadable += 1;
                    continue;
                }
                _ => continue,
            };
            considered += 1;
            counted += 1;
            if limit == 0 || limit == u64::MAX {
                continue;
            }
            rows.push((
                fds as f64 / limit as f64,
                p.pid,
                p.name().to_string(),
                fds,
                limit,
            ));
        }
        rows.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        f.evidence.push(Evidence::value(
            "/proc/*/fd",
            "processes whose fds were counted",
            counted as f64,
        ));
        for (r, pid, name, open, soft) in rows.iter().take(5) {
            let id = |o: Observed| o.label("pid", pid.to_string()).label("name", name.clone());
            f.observed.push(
                id(Observed::new("process_fd_use_ratio", *r, Unit::Ratio)).thresholds(
                    cfg.warn_pct / 100.0,
                    cfg.crit_pct / 100.0,
                    src,
                ),
            );
            f.observed.push(id(Observed::new(
                "process_open_fds",
                *open as f64,
                Unit::Count,
            )));
            f.observed.push(id(Observed::new(
                "process_fd_limit",
                *soft as f64,
                Unit::Count,
            )));
        }
        if let Some((r, pid, name, open, soft)) = rows.first() {
            parts.push(format!("{name} ({pid}) {open} of {soft} fds ({})", pct(*r)));
        } else if counted > 0 {
            parts.push(format!("{counted} processes, none with a finite fd limit"));
        }
        partial(&mut f, unreadable, considered, "the fd table");
    }
    if f.observed.is_empty() {
        return Err(Problem::Skip(format!(
            "nothing measured: no {FILE_NR} and no process whose fds could be counted"
        )));
    }
    f.judge_observed();
    if kernel_log(ctx, &mut f) > 0 {
        f.raise(Status::Crit);
        parts.push("the kernel reported fs.file-max reached".into());
    }
    f.summary = parts.join("; ");
    Ok(f)
}

pub static SOCKET_LEAK: super::Check = super::Check {
    info: CheckInfo {
        id: "socket-leak",
        title: "Sockets leaking in CLOSE_WAIT",
        symptom: "A service's open connections and fds climb over hours until it hits \"Too many open files\" or stops answering; restarts help for a while",
        question: "Is an application failing to close connections its peers have closed (a socket leak)?",
        confirm: "ss -tanp state close-wait; ls -l /proc/PID/fd | grep -c socket (twice, minutes apart)",
        log: "the application's own log (and syslog) around the growth",
        remediation: "CLOSE_WAIT means the peer closed and the application never called close(): fix unclosed connections and database handles in the application code (close on every error path, pool handles with timeouts and validation). Restarting only hides it.",
    },
    needs: || {
        let mut n = needs(&[]);
        n.procs = true;
        n.socket_owners = true;
        n.socket_states = state::mask(&[state::CLOSE_WAIT]);
        n.socket_states_always = n.socket_states;
        n
    },
    rate_only: false,
    run: socket_leak,
};

/// CLOSE_WAIT socket inodes by owning uid.
fn close_wait_by_uid(s: &crate::diagnose::sample::Sample) -> Option<BTreeMap<u32, BTreeSet<u32>>> {
    let dump = s.sockets.as_ref()?.as_ref().ok()?;
    let mut out: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for sock in dump.sockets.iter().filter(|s| s.state == state::CLOSE_WAIT) {
        out.entry(sock.uid).or_default().insert(sock.inode);
    }
    Some(out)
}

fn socket_leak(ctx: &Ctx) -> Outcome<Finding> {
    let cfg = &ctx.cfg.socket_leak;
    let mut f = SOCKET_LEAK.info.finding(Status::Pass, "");
    let now = match &ctx.last.sockets {
        Some(Ok(_)) => close_wait_by_uid(ctx.last).unwrap_or_default(),
        Some(Err(e)) => {
            return Err(Problem::Error(format!("CLOSE_WAIT sockets not read: {e}")));
        }
        None => {
            return Err(Problem::Skip(
                "no TCP socket table here (a tree captured without one; the live host has it)"
                    .into(),
            ));
        }
    };
    let total: usize = now.values().map(BTreeSet::len).sum();
    f.evidence.push(Evidence::value(
        "netlink:inet_diag",
        "CLOSE_WAIT sockets",
        total as f64,
    ));
    let before = ctx.first.and_then(close_wait_by_uid);
    let src = "suggested (no published standard): CLOSE_WAIT sockets that persist and grow are the leak signature";
    // Per user: sockets held through the interval, and growth.
    let mut parts = Vec::new();
    let mut users: Vec<(usize, usize, i64, u32)> = Vec::new();
    for (uid, inodes) in &now {
        let (kept, growth) = match &before {
            Some(b) => {
                let old = b.get(uid);
                let kept = inodes
                    .iter()
                    .filter(|i| old.is_some_and(|o| o.contains(i)))
                    .count();
                let growth = inodes.len() as i64 - old.map_or(0, |o| o.len() as i64);
                (kept, growth)
            }
            None => (inodes.len(), 0),
        };
        users.push((kept, inodes.len(), growth, *uid));
    }
    users.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    // Per process, where the holders could be named.
    let procs: Option<&Procs> = ctx.last.procs.as_ref();
    let mut holders: Vec<(usize, u32, String)> = Vec::new();
    let mut unreadable = 0usize;
    let mut looked = 0usize;
    if let Some(procs) = procs {
        for p in procs
            .list
            .iter()
            .filter(|p| ctx.focus.matches(p.pid, p.comm.as_deref()))
        {
            match &p.close_wait {
                Some(Ok(held)) => {
                    looked += 1;
                    if !held.is_empty() {
                        holders.push((held.len(), p.pid, p.name().to_string()));
                    }
                }
                Some(Err(_)) => {
                    looked += 1;
                    unreadable += 1;
                }
                None => {}
            }
        }
    }
    holders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let two = before.is_some();
    for (kept, n, growth, uid) in users.iter().take(5) {
        let mut o = Observed::new("close_wait_sockets_held", *kept as f64, Unit::Count)
            .label("uid", uid.to_string());
        if two && *growth > 0 {
            o = o.thresholds(cfg.close_wait_warn, cfg.close_wait_crit, src);
        }
        f.observed.push(o);
        f.observed.push(
            Observed::new("close_wait_sockets", *n as f64, Unit::Count)
                .label("uid", uid.to_string()),
        );
        if two && *kept > 0 {
            parts.push(format!(
                "uid {uid}: {kept} CLOSE_WAIT sockets held through the interval, {growth:+} in it"
            ));
        }
    }
    for (n, pid, name) in holders.iter().take(5) {
        f.observed.push(
            Observed::new("process_close_wait_sockets", *n as f64, Unit::Count)
                .label("pid", pid.to_string())
                .label("name", name.clone()),
        );
    }
    let named: usize = holders.iter().map(|h| h.0).sum();
    let persisting: usize = users.iter().map(|u| u.0).sum();
    if unreadable > 0 || (persisting > named && two) {
        let missing = persisting.saturating_sub(named);
        f.partial = Some(format!(
            "{missing} CLOSE_WAIT sockets belong to processes this user cannot read ({unreadable} of {looked} processes): run as root to name them"
        ));
    }
    if !two {
        f.notes.push(
            "--interval 0: one sample cannot tell a leak (sockets that stay and grow) from a pool of idle connections".into(),
        );
    }
    f.judge_observed();
    f.summary = match (holders.first(), parts.is_empty()) {
        (Some((n, pid, name)), _) => format!(
            "{total} CLOSE_WAIT sockets; most held by {name} ({pid}): {n}{}{}",
            // resolve_close_wait names the holders of the sockets that persisted only.
            if two {
                " that stayed open for the whole interval"
            } else {
                ""
            },
            if parts.is_empty() {
                String::new()
            } else {
                format!("; {}", parts.join("; "))
            }
        ),
        (None, false) => format!("{total} CLOSE_WAIT sockets; {}", parts.join("; ")),
        (None, true) => format!("{total} CLOSE_WAIT sockets"),
    };
    Ok(f)
}
