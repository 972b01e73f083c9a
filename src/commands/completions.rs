//! `hostperf completions SHELL`: the shell completion script, generated from the clap
//! definitions in `cli.rs`, so completion can never offer a flag the parser lacks. The
//! packaging step (`packaging/xtask`) writes the same scripts into the Debian package.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit;

/// The name the scripts complete: the installed binary's.
pub const BIN_NAME: &str = "hostperf";

pub fn run(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    out.write_all(&script(args.shell))?;
    out.flush()?;
    Ok(exit::OK)
}

/// The completion script for `shell`, whole. Generated into memory because
/// `clap_complete::generate` panics when its writer fails (a closed pipe).
pub fn script(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN_NAME, &mut buf);
    buf
}

/// The file name each shell loads a completion script for `hostperf` from, in the
/// directories named in `docs/packaging.md`.
pub fn file_name(shell: Shell) -> String {
    match shell {
        Shell::Bash => BIN_NAME.to_string(),
        Shell::Zsh => format!("_{BIN_NAME}"),
        Shell::Fish => format!("{BIN_NAME}.fish"),
        Shell::Elvish => format!("{BIN_NAME}.elv"),
        Shell::PowerShell => format!("_{BIN_NAME}.ps1"),
        _ => format!("{BIN_NAME}.{shell}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_every_subcommand() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(script(shell)).unwrap();
            for sub in Cli::command().get_subcommands() {
                assert!(
                    text.contains(sub.get_name()),
                    "{shell} script lacks {}",
                    sub.get_name()
                );
            }
            assert!(text.contains("state-dir"), "{shell} lacks the global flags");
        }
    }
}
