//! The binary: parse the command line, run the command, turn the outcome into an exit
//! code (README.md "Exit codes"). A closed standard output keeps the command's status.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use hostperf::exit;

fn main() -> ExitCode {
    let cli = match hostperf::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    hostperf::logging::init(cli.global.verbose);
    hostperf::report::set_quiet(cli.global.quiet);
    let code = match hostperf::commands::run(cli) {
        Ok(code) => code,
        Err(e) if exit::is_broken_pipe(&e) => exit::BROKEN_PIPE,
        Err(e) => {
            let _ = writeln!(std::io::stderr().lock(), "hostperf: error: {e:#}");
            exit::code_for(&e)
        }
    };
    ExitCode::from(code)
}
