//! The checks: one pure function per fault line over one or two samples.
//!
//! Each check declares what it reads (`Needs`) so the sampler reads only that, and returns a
//! `Finding`, or a `Problem` when its data source is missing (skip) or unreadable (error).

mod cpu;
mod io;
mod mem;
mod net;
mod proc;

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

/// Why a check (or part of one) could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The data source does not exist here (older kernel, container, one sample).
    Skip(String),
    /// It exists but could not be read or parsed.
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
    pub run: fn(&Ctx) -> Outcome<Finding>,
}

/// Every check, in the order of the table. The ids are a stable interface.
pub fn all() -> Vec<&'static Check> {
    vec![
        &net::PORT_EXHAUSTION,
        &net::LISTEN_OVERFLOW,
        &net::SYN_FLOOD,
        &cpu::SOFTIRQ_IMBALANCE,
        &cpu::SOFTNET_DROPS,
        &mem::MEMORY_PRESSURE,
        &mem::MEMORY_FRAGMENTATION,
        &mem::OOM_KILLS,
        &proc::FD_EXHAUSTION,
        &proc::SOCKET_LEAK,
        &net::TCP_RETRANSMITS,
        &io::IO_WAIT,
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
            "{path} does not exist here (older kernel or container)"
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

/// A file parsed with procfs-core.
pub(crate) fn procfs<T>(s: &Sample, path: &str) -> Outcome<T>
where
    T: procfs_core::FromRead,
{
    let b = bytes(s, path)?;
    T::from_read(b).map_err(|e| Problem::Error(format!("{path}: {e}")))
}

/// The same file parsed in both samples (first is None with one sample). Parsing the first
/// sample can fail independently; that is reported the same way.
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

pub(crate) fn rate_only(ctx: &Ctx) -> Outcome<()> {
    if ctx.first.is_none() {
        return Err(Problem::Skip(
            "rate-based: --interval 0 takes one sample".to_string(),
        ));
    }
    Ok(())
}

pub(crate) type Table = BTreeMap<String, BTreeMap<String, i64>>;

pub(crate) fn field(t: &Table, prefix: &str, name: &str) -> Option<f64> {
    t.get(prefix)?.get(name).map(|&v| v as f64)
}

/// Counter evidence from a netstat/snmp table, if the kernel has it.
pub(crate) fn counter(
    ctx: &Ctx,
    source: &str,
    first: Option<&Table>,
    last: &Table,
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

/// A single-number file (a sysctl) as evidence, when present.
pub(crate) fn setting(s: &Sample, path: &str) -> Option<(u64, Evidence)> {
    let b = match s.file(path) {
        Data::Bytes(b) => b,
        _ => return None,
    };
    let v = parse::parse_single(b).ok()?;
    Some((v, Evidence::value(path, "value", v as f64)))
}

pub(crate) fn pct(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}
