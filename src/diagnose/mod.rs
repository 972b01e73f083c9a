//! `diagnose` and `snapshot`: the causes experts check first when an API host misbehaves,
//! each measured over an interval and reported with evidence, the command that confirms it
//! and the fix.
//!
//! Layers, as in below: `sample` reads raw bytes through [`source::Files`] (the Host seam, or
//! a capture in memory) plus what is not a file (inet_diag, the kernel log, adjtimex, ethtool
//! statistics) on a live host; `checks` are pure functions of one or two samples that return
//! `model::Finding`s; `render` turns a report into text. `capture` writes and reads snapshot
//! archives, so a capture gives the same findings on another machine. Command-line glue lives
//! in `commands::diagnose` and `commands::snapshot`.

pub mod capture;
pub mod checks;
pub mod config;
pub mod kernel_log;
pub mod metrics;
pub mod model;
pub mod procs;
pub mod render;
pub mod sample;
pub mod source;
pub mod system;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::exit::{self, UsageError};
use checks::{Check, Ctx};
use model::{Report, SCHEMA_VERSION, Status};
use sample::{Focus, LogFrom, Moment, Needs, Sample};
use source::Files;

/// The checks named by `--check` (all when none), or a usage error listing the ids.
pub fn select(ids: &[String]) -> anyhow::Result<Vec<&'static Check>> {
    let all = checks::all();
    if ids.is_empty() {
        return Ok(all);
    }
    let mut out: Vec<&'static Check> = Vec::new();
    for id in ids {
        match all.iter().find(|c| c.info.id == id) {
            Some(c) => {
                if !out.iter().any(|o| o.info.id == c.info.id) {
                    out.push(*c);
                }
            }
            None => {
                return Err(UsageError::new(format!(
                    "unknown check {id:?}; known checks: {}",
                    checks::ids().join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// What the selected checks read. With one sample, checks that only judge rates read nothing.
pub fn needs_of(selected: &[&Check], two_samples: bool, cfg: &config::Config) -> Needs {
    let mut n = Needs::default();
    for c in selected.iter().filter(|c| two_samples || !c.rate_only) {
        n.merge(&(c.needs)());
    }
    if let Some((states, _)) = n.lazy_port_states {
        n.lazy_port_states = Some((states, cfg.port_exhaustion.warn_pct / 100.0));
    }
    n
}

/// `--interval` as a duration: 0 to 3600 seconds.
pub fn check_interval(secs: f64) -> anyhow::Result<Duration> {
    if !secs.is_finite() || !(0.0..=3600.0).contains(&secs) {
        return Err(UsageError::new(format!(
            "--interval must be between 0 and 3600 seconds, got {secs}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Which kernel log messages a run reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogWindow {
    /// `--since`: this far back from the last sample; else from the first sample.
    pub lookback: Option<Duration>,
}

impl LogWindow {
    fn back_usec(&self) -> Option<u64> {
        self.lookback
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
    }
}

/// One sample, or two `interval` apart, of `files` (a live host or a `--root` tree). The
/// kernel log is read once, with the last sample, for the window: the interval, or
/// `--since` back from the last sample. With one sample it is read only with `--since`.
pub fn take_samples(
    files: &dyn Files,
    needs: &Needs,
    focus: &Focus,
    interval: Duration,
    window: LogWindow,
) -> (Option<Sample>, Sample) {
    let start = Instant::now();
    let t0 = sample::monotonic_usec();
    let back = window.back_usec();
    if interval.is_zero() {
        let at = Moment {
            start,
            prev: None,
            log: back.map(LogFrom::Back),
        };
        return (None, sample::collect(files, needs, focus, at));
    }
    let first = sample::collect(
        files,
        needs,
        focus,
        Moment {
            start,
            prev: None,
            log: None,
        },
    );
    std::thread::sleep(interval);
    let at = Moment {
        start,
        prev: Some(&first),
        log: Some(back.map_or(LogFrom::At(t0), LogFrom::Back)),
    };
    let last = sample::collect(files, needs, focus, at);
    (Some(first), last)
}

/// The samples of a capture, read by the same sampler. The kernel log window is the
/// capture's interval, or `--since` back from its last sample.
pub fn capture_samples(
    cap: &capture::Capture,
    needs: &Needs,
    focus: &Focus,
    window: LogWindow,
) -> (Option<Sample>, Sample) {
    let start = Instant::now();
    let back = window.back_usec();
    let empty = capture::Tree::default();
    let (first_tree, last_tree) = match cap.samples.as_slice() {
        [only] => (None, &only.1),
        [a, .., b] => (Some(&a.1), &b.1),
        // capture::open refuses a capture without samples; an empty tree measures nothing.
        [] => (None, &empty),
    };
    let first = first_tree.map(|t| {
        let at = Moment {
            start,
            prev: None,
            log: None,
        };
        sample::collect(t, needs, focus, at)
    });
    let log = match (back, first.as_ref().and_then(|f| f.clock_usec)) {
        (Some(b), _) => Some(LogFrom::Back(b)),
        (None, Some(t0)) => Some(LogFrom::At(t0)),
        (None, None) => None,
    };
    let at = Moment {
        start,
        prev: first.as_ref(),
        log,
    };
    let last = sample::collect(last_tree, needs, focus, at);
    (first, last)
}

/// The `--pid` / `--process` names that match no process, as messages.
pub fn missing_focus(focus: &Focus, procs: &procs::Procs) -> Vec<String> {
    let pids: BTreeSet<u32> = procs.list.iter().map(|p| p.pid).collect();
    let names: BTreeSet<&str> = procs
        .list
        .iter()
        .filter_map(|p| p.comm.as_deref())
        .collect();
    let mut out = Vec::new();
    for pid in &focus.pids {
        if !pids.contains(pid) {
            out.push(format!("no process with pid {pid}"));
        }
    }
    for name in &focus.names {
        if !names.contains(name.as_str()) {
            out.push(format!(
                "no process named {name:?} (names are the command names `ps -e` shows, at most 15 characters)"
            ));
        }
    }
    out
}

/// Evaluates the selected checks over the samples.
pub fn evaluate(
    selected: &[&Check],
    first: Option<&Sample>,
    last: &Sample,
    cfg: &config::Config,
    focus: &Focus,
    source: String,
) -> Report {
    let secs = first.map_or(0.0, |f| (last.secs - f.secs).max(0.0));
    // Two samples with no time between them (a static tree read twice) measure no rate.
    let first = first.filter(|_| secs > 0.0);
    let ctx = Ctx {
        first,
        last,
        secs,
        cfg,
        focus,
    };
    Report {
        schema_version: SCHEMA_VERSION,
        hostperf_version: env!("CARGO_PKG_VERSION"),
        source,
        interval_secs: if first.is_some() { secs } else { 0.0 },
        findings: selected.iter().map(|c| checks::evaluate(c, &ctx)).collect(),
    }
}

/// The exit code for a report: 1 when a finding is at or above `fail_on` (warn or crit),
/// else 3 when a check could not be evaluated, else 0.
pub fn exit_code(report: &Report, fail_on: Status) -> u8 {
    if report
        .findings
        .iter()
        .any(|f| f.status.rank() >= fail_on.rank() && f.status != Status::Error)
    {
        exit::FAILED
    } else if report.findings.iter().any(|f| f.status == Status::Error) {
        exit::NOT_EVALUATED
    } else {
        exit::OK
    }
}

/// A snapshot archive of `files`: everything every check reads, one or two samples, and the
/// kernel log of `window` (default: the last hour).
pub fn snapshot_archive(
    files: &dyn Files,
    interval: Duration,
    window: LogWindow,
) -> anyhow::Result<(capture::Manifest, Vec<u8>)> {
    let all = checks::all();
    let needs = needs_of(&all, !interval.is_zero(), &config::Config::default()).everything();
    let window = LogWindow {
        lookback: window.lookback.or(Some(Duration::from_secs(3600))),
    };
    let (first, last) = take_samples(files, &needs, &Focus::default(), interval, window);
    let samples: Vec<&Sample> = first.iter().chain(std::iter::once(&last)).collect();
    let trim = |b: Vec<u8>| String::from_utf8_lossy(&b).trim().to_string();
    let manifest = capture::Manifest {
        schema_version: capture::CAPTURE_VERSION,
        kind: capture::SNAPSHOT_KIND.to_string(),
        hostperf_version: env!("CARGO_PKG_VERSION").to_string(),
        interval_secs: first.as_ref().map_or(0.0, |f| last.secs - f.secs),
        samples: (0..samples.len()).map(|i| format!("sample{i}")).collect(),
        kernel: files.read("/proc/sys/kernel/osrelease").ok().map(trim),
        hostname: files.read("/proc/sys/kernel/hostname").ok().map(trim),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs()),
    };
    let bytes = write_archive(&manifest, &samples)?;
    Ok((manifest, bytes))
}

/// The .tar.gz of a manifest and its samples.
pub fn write_archive(manifest: &capture::Manifest, samples: &[&Sample]) -> anyhow::Result<Vec<u8>> {
    let mut w = capture::Writer::new();
    w.file(capture::MANIFEST, &serde_json::to_vec_pretty(manifest)?)?;
    for (i, s) in samples.iter().enumerate() {
        s.append_to(&mut w, &format!("sample{i}"))?;
    }
    Ok(w.finish()?)
}
