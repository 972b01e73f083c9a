//! One module per subcommand: build the Host, call a feature, hand its model to a renderer,
//! pick the exit code. Nothing else lives here.

mod apply;
mod bench;
mod check;
mod plan;
mod profiles;
mod rollback;
mod show;

use anyhow::Context;

use crate::cli::*;
use crate::diagnose;
use crate::exit::UsageError;
use crate::host::Host;
use crate::journal::Journal;
use crate::plan::Targets;
use crate::profile::{Catalog, Profile};

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let g = &cli.global;
    match &cli.command {
        Command::Profiles(args) => profiles::run(g, args),
        Command::Plan(args) => plan::run(g, args),
        Command::Apply(args) => apply::run(g, args),
        Command::Check(args) => check::run(g, args),
        Command::Rollback(args) => rollback::run(g, args),
        Command::Show(args) => show::run(g, args),
        Command::Diagnose(args) => diagnose::run(g, args),
        Command::Snapshot(args) => diagnose::snapshot(g, args),
        Command::Bench(args) => bench::run(g, args),
    }
}

pub fn host(g: &Global) -> Host {
    match &g.root {
        Some(root) => Host::with_root(root),
        None => Host::live(),
    }
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
