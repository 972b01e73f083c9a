//! Logs go to stderr, quiet by default; -v for info, -vv for debug, -vvv for trace.
//! Colour only on a terminal and never when NO_COLOR is set.

use std::io::IsTerminal;

pub fn init(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOSTPERF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("hostperf={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour_allowed(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

/// True when `stream` is a terminal and NO_COLOR is unset or empty.
pub fn colour_allowed(stream: &impl IsTerminal) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    stream.is_terminal() && !no_color
}
