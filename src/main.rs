use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match hostperf::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                hostperf::exit::USAGE
            } else {
                hostperf::exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    hostperf::logging::init(cli.global.verbose);
    match hostperf::commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::from(hostperf::exit::OK),
        Err(e) => {
            eprintln!("hostperf: error: {e:#}");
            ExitCode::from(hostperf::exit::code_for(&e))
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
