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
    let profile = match (&selector.file, &selector.name) {
        (Some(path), _) => catalog.load_file(path),
        (None, Some(name)) => catalog.load(name),
        (None, None) => Err(UsageError::new("name a profile, or pass --file PATH")),
    }?;
    tracing::info!(
        profile = %profile.name,
        source = %profile.source,
        includes = %profile.resolved_from.join(", "),
        "profile loaded"
    );
    Ok(profile)
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

/// The apply lock. The journal words each refusal (exit 2): another apply holding it, a
/// state directory this user may not use, a link in its place.
pub(crate) fn lock(journal: &Journal) -> anyhow::Result<crate::journal::Lock> {
    journal.lock()
}

/// Writes every `--output FORMAT=PATH` file, then standard output, each rendered by
/// `render` for its format and style.
pub(crate) fn deliver<F: Copy>(
    format: F,
    outputs: &[(F, std::path::PathBuf)],
    render: impl Fn(F, crate::report::Style) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    for (f, path) in outputs {
        crate::report::write_file(path, &render(*f, crate::report::Style::FILE)?)?;
        tracing::info!(path = %path.display(), "report written");
    }
    crate::report::print(&render(format, crate::report::Style::stdout())?)?;
    Ok(())
}

/// Refuses, before a command measures for a while, an `--output` whose directory is
/// missing (exit 2), so a typo costs no waiting.
pub(crate) fn check_outputs<F>(outputs: &[(F, std::path::PathBuf)]) -> anyhow::Result<()> {
    for (_, path) in outputs {
        crate::report::check_target_dir(path)?;
    }
    Ok(())
}

/// Each warning and note once, on standard error.
pub(crate) fn tell(warnings: &[String], notes: &[String]) {
    for w in warnings {
        crate::report::warn(w);
    }
    for n in notes {
        crate::report::note(n);
    }
}
