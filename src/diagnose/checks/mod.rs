//! The checks: one pure function per cause over one or two samples.
//!
//! Each check declares what it reads (`Needs`) so the sampler reads only that, and returns a
//! `Finding`, or a `Problem` when nothing it needs could be measured (skip) or read (error).
//! A check that measured only part of what it looks at says so in `Finding::partial`.

mod clock;
mod cpu;
mod io;
mod mem;
mod net;
mod nic;
mod proc;
mod stack;

use std::collections::BTreeMap;

use super::config::Config;
use super::model::{CheckInfo, Evidence, Finding, Status};
use super::sample::{Data, Focus, Needs, Sample};
use crate::parse;

/// The inputs of a check.
pub struct Ctx<'a> {
    /// The first sample; None with `--interval 0`.
    pub first: Option<&'a Sample>,
    pub last: &'a Sample,
    /// Seconds between the samples (0 with one sample).
    pub secs: f64,
    pub cfg: &'a Config,
    pub focus: &'a Focus,
}

/// Why a check could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Nothing it needs exists here (older kernel, container, one sample), or it measured
    /// nothing.
    Skip(String),
    /// A source exists but could not be read or parsed.
    Error(String),
}

impl Problem {
    pub fn message(&self) -> &str {
        match self {
            Problem::Skip(m) | Problem::Error(m) => m,
        }
    }
}

pub type Outcome<T> = Result<T, Problem>;

pub struct Check {
    pub info: CheckInfo,
    pub needs: fn() -> Needs,
    /// Judges rates only: with one sample it is skipped and its data is not read.
    pub rate_only: bool,
    pub run: fn(&Ctx) -> Outcome<Finding>,
}

/// Every check, grouped by what it looks at. The ids are a stable interface.
pub fn all() -> Vec<&'static Check> {
    vec![
        &net::PORT_EXHAUSTION,
        &net::LISTEN_OVERFLOW,
        &net::SYN_FLOOD,
        &net::TCP_RETRANSMITS,
        &stack::TCP_MEMORY,
        &stack::UDP_ERRORS,
        &stack::CONNTRACK,
        &nic::NIC_DROPS,
        &nic::SOFTIRQ_IMBALANCE,
        &nic::SOFTNET_DROPS,
        &cpu::CPU_SATURATION,
        &cpu::CPU_THROTTLING,
        &mem::MEMORY_PRESSURE,
        &mem::MEMORY_FRAGMENTATION,
        &mem::OOM_KILLS,
        &proc::FD_EXHAUSTION,
        &proc::SOCKET_LEAK,
        &io::IO_WAIT,
        &clock::CLOCK,
    ]
}

pub fn ids() -> Vec<&'static str> {
    all().iter().map(|c| c.info.id).collect()
}

/// Runs one check; a Problem becomes a skip or error finding that says why.
pub fn evaluate(check: &Check, ctx: &Ctx) -> Finding {
    match (check.run)(ctx) {
        Ok(f) => f,
        Err(Problem::Skip(m)) => check.info.finding(Status::Skip, m),
        Err(Problem::Error(m)) => check.info.finding(Status::Error, m),
    }
}

// ----- helpers shared by the checks -----

pub(crate) fn needs(files: &[&'static str]) -> Needs {
    Needs {
        files: files.iter().copied().collect(),
        ..Needs::default()
    }
}

/// The bytes of a file in a sample.
pub(crate) fn bytes<'s>(s: &'s Sample, path: &str) -> Outcome<&'s [u8]> {
    match s.file(path) {
        Data::Bytes(b) => Ok(b),
        Data::Missing => Err(Problem::Skip(format!(
            "{path} does not exist here (older kernel, container, or not captured)"
        ))),
        Data::Error(e) => Err(Problem::Error(e.clone())),
    }
}

/// A parsed file; a parse failure is an error naming the file.
pub(crate) fn parsed<T>(
    s: &Sample,
    path: &str,
    f: impl Fn(&[u8]) -> parse::Result<T>,
) -> Outcome<T> {
    let b = bytes(s, path)?;
    f(b).map_err(|e| Problem::Error(format!("{path}: {e}")))
}

/// The same file parsed in both samples (first is None with one sample).
pub(crate) fn both<T>(
    ctx: &Ctx,
    path: &str,
    f: impl Fn(&[u8]) -> parse::Result<T>,
) -> Outcome<(Option<T>, T)> {
    let last = parsed(ctx.last, path, &f)?;
    let first = match ctx.first {
        Some(s) => Some(parsed(s, path, &f)?),
        None => None,
    };
    Ok((first, last))
}

/// Both samples' parsed file, or a skip with one sample.
pub(crate) fn pair<T>(
    ctx: &Ctx,
    path: &str,
    f: impl Fn(&[u8]) -> parse::Result<T>,
) -> Outcome<(T, T)> {
    match both(ctx, path, f)? {
        (Some(a), b) => Ok((a, b)),
        (None, _) => Err(one_sample()),
    }
}

pub(crate) fn one_sample() -> Problem {
    Problem::Skip("rate-based: --interval 0 takes one sample".to_string())
}

pub(crate) fn rate_only(ctx: &Ctx) -> Outcome<()> {
    if ctx.first.is_none() {
        return Err(one_sample());
    }
    Ok(())
}

pub(crate) fn field(t: &parse::Table, prefix: &str, name: &str) -> Option<f64> {
    t.get(prefix)?.get(name).map(|&v| v as f64)
}

/// Counter evidence from a netstat/snmp table, if the kernel has it.
pub(crate) fn counter(
    ctx: &Ctx,
    source: &str,
    first: Option<&parse::Table>,
    last: &parse::Table,
    prefix: &str,
    name: &str,
) -> Option<Evidence> {
    let after = field(last, prefix, name)?;
    let before = first.and_then(|t| field(t, prefix, name));
    Some(Evidence::counter(
        source,
        &format!("{prefix}:{name}"),
        before,
        after,
        ctx.secs,
    ))
}

/// Counter evidence from `name value` maps (vmstat, snmp6, cpu.stat).
pub(crate) fn map_counter(
    ctx: &Ctx,
    source: &str,
    first: Option<&parse::Counters>,
    last: &parse::Counters,
    name: &str,
) -> Option<Evidence> {
    let after = *last.get(name)? as f64;
    let before = first.and_then(|m| m.get(name)).map(|&v| v as f64);
    Some(Evidence::counter(source, name, before, after, ctx.secs))
}

/// A single-number file (a sysctl) as evidence, when present.
pub(crate) fn setting(s: &Sample, path: &str) -> Option<(u64, Evidence)> {
    let v = parse::parse_single(s.bytes(path)?).ok()?;
    Some((v, Evidence::value(path, "value", v as f64)))
}

pub(crate) fn pct(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

pub(crate) const ONLINE: &str = "/sys/devices/system/cpu/online";

/// The online CPUs: /sys/devices/system/cpu/online, else the `cpuN` lines of /proc/stat.
pub(crate) fn online_cpus(s: &Sample) -> Option<Vec<u32>> {
    if let Some(list) = s.bytes(ONLINE).and_then(|b| parse::parse_cpu_list(b).ok())
        && !list.is_empty()
    {
        return Some(list);
    }
    let stat = parse::parse_stat(s.bytes("/proc/stat")?).ok()?;
    let mut ids: Vec<u32> = stat.cpus.iter().map(|(c, _)| *c).collect();
    ids.sort_unstable();
    (!ids.is_empty()).then_some(ids)
}

/// The most kernel log messages shown on one finding (the newest).
const MAX_SHOWN_LOG_LINES: usize = 20;

/// Puts the kernel log messages of the window that belong to this check on the finding;
/// returns how many there were.
pub(crate) fn kernel_log(ctx: &Ctx, f: &mut Finding) -> usize {
    kernel_log_where(ctx, f, |_| true)
}

/// [`kernel_log`] for the messages `keep` accepts (the kernel log is the host's, shared by
/// every namespace: a check may keep only what concerns what it looks at).
pub(crate) fn kernel_log_where(ctx: &Ctx, f: &mut Finding, keep: impl Fn(&str) -> bool) -> usize {
    match &ctx.last.kernel_log {
        Some(Ok(log)) => {
            let lines: Vec<String> = log
                .for_check(f.id)
                .filter(|l| keep(&l.text))
                .map(|l| l.text.clone())
                .collect();
            let n = lines.len();
            if n > 0 {
                f.evidence.push(Evidence::value(
                    &log.source,
                    "messages in the window",
                    n as f64,
                ));
            }
            f.kernel_log = lines
                .into_iter()
                .skip(n.saturating_sub(MAX_SHOWN_LOG_LINES))
                .collect();
            if log.truncated {
                f.notes.push(format!(
                    "more than {} kernel log messages matched; the oldest were left out",
                    super::kernel_log::MAX_LINES
                ));
            }
            n
        }
        Some(Err(e)) => {
            f.notes.push(format!("kernel log not read: {e}"));
            0
        }
        None => 0,
    }
}

/// Parses a map from `pid` to values out of a processes' list, for two-sample comparisons.
pub(crate) fn by_pid<T>(
    procs: Option<&super::procs::Procs>,
    f: impl Fn(&super::procs::ProcSample) -> Option<T>,
) -> BTreeMap<u32, T> {
    procs
        .map(|p| p.list.iter().filter_map(|x| Some((x.pid, f(x)?))).collect())
        .unwrap_or_default()
}
