//! One function per subcommand: build the Host, call the layers, render, pick the exit code.

use crate::cli::{Cli, Command};
use crate::diagnose;

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Diagnose(args) => diagnose::run(&cli.global, args),
        Command::Snapshot(args) => diagnose::snapshot(&cli.global, args),
        _ => anyhow::bail!("not implemented yet"),
    }
}
