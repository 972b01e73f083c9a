//! One module per subcommand: build the Host, call a feature, hand its model to a renderer,
//! pick the exit code. Nothing else lives here.

mod apply;
mod bench;
mod check;
/// Public: the packaging step writes the same completion scripts.
pub mod completions;
mod diagnose;
mod plan;
mod probe;
mod profiles;
mod recommend;
mod rollback;
mod show;
mod snapshot;
mod status;

use anyhow::Context;

use crate::cli::*;
use crate::exit::UsageError;
use crate::host::Host;
use crate::journal::Journal;
use crate::plan::Targets;
use crate::profile::{Catalog, Profile};

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let g = &cli.global;
    check_root(g)?;
    match &cli.command {
        Command::Profiles(args) => profiles::run(g, args),
        Command::Plan(args) => plan::run(g, args),
        Command::Apply(args) => apply::run(g, args),
        Command::Check(args) => check::run(g, args),
        Command::Rollback(args) => rollback::run(g, args),
        Command::Show(args) => show::run(g, args),
        Command::Recommend(args) => recommend::run(g, args),
        Command::Status(args) => status::run(g, args),
        Command::Diagnose(args) => diagnose::run(g, args),
        Command::Snapshot(args) => snapshot::run(g, args),
        Command::Probe(args) => probe::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Bench(args) => bench::run(g, args),
    }
}

pub fn host(g: &Global) -> Host {
    match &g.root {
        Some(root) => Host::with_root(root),
        None => Host::live(),
    }
}

/// `--root DIR` must be a host tree: a directory that holds proc/. Otherwise every read
/// would find nothing, and commands would pass on an empty tree.
fn check_root(g: &Global) -> anyhow::Result<()> {
    let Some(root) = &g.root else {
        return Ok(());
    };
    if !root.is_dir() {
        return Err(UsageError::new(format!(
            "--root {}: no such directory",
            root.display()
        )));
    }
    if !root.join("proc").is_dir() {
        return Err(UsageError::new(format!(
            "--root {}: no proc/ directory in it, so it is not a host tree (a copy of /proc and /sys); for an archive from `hostperf snapshot`, use `hostperf diagnose --from FILE`",
            root.display()
        )));
    }
    Ok(())
}

/// One line per apply that never finished, for plan, apply and rollback to report. A state
/// directory that cannot be read (plan runs unprivileged) reports nothing.
pub(crate) fn interrupted_warnings(journal: &Journal) -> Vec<String> {
    match journal.interrupted() {
        Ok(list) => list.iter().map(interrupted_warning).collect(),
        Err(e) => {
            tracing::debug!("cannot read the journal: {e:#}");
            Vec::new()
        }
    }
}

pub(crate) fn interrupted_warning(s: &crate::journal::Snapshot) -> String {
    format!(
        "apply {} of {} ({}) did not record that it finished (it was interrupted, or the host went down just after it): up to {} setting(s) it recorded may still be changed; `hostperf rollback` restores them",
        s.id,
        s.profile,
        s.created,
        s.changes.len()
    )
}

pub(crate) fn load_profile(g: &Global, selector: &ProfileSelector) -> anyhow::Result<Profile> {
    let catalog = Catalog::new(&g.profile_dir);
    match (&selector.file, &selector.name) {
        (Some(path), _) => catalog.load_file(path),
        (None, Some(name)) => catalog.load(name),
        (None, None) => Err(UsageError::new("name a profile, or pass --file PATH")),
    }
}

pub(crate) fn targets(args: &TargetArgs) -> Targets {
    Targets {
        pids: args.pids.clone(),
        names: args.processes.clone(),
    }
}

pub(crate) fn journal(g: &Global) -> Journal {
    Journal::new(&g.state_dir)
}

pub(crate) fn lock(journal: &Journal) -> anyhow::Result<crate::journal::Lock> {
    journal.lock().with_context(|| {
        format!(
            "hostperf keeps snapshots in {}; run as root or pass --state-dir DIR",
            journal.dir().display()
        )
    })
}
