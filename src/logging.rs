//! Logs and warnings go to stderr. By default only warnings and errors, as
//! `warning: ...` lines; `-v` adds what each command reads and decides (`info: ...`), `-vv`
//! each file and netlink request (`debug: ...`), `-vvv` everything (`trace: ...`).
//! `HOSTPERF_LOG` takes a tracing filter instead (e.g. `hostperf::plan=debug`). Colour only
//! on a terminal and never when NO_COLOR is set.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Installs the stderr logger at the level `-v` asks for.
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
        .event_format(Plain)
        .try_init();
}

/// True when `stream` is a terminal and NO_COLOR is unset or empty.
pub fn colour_allowed(stream: &impl IsTerminal) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    stream.is_terminal() && !no_color
}

/// `warning: message key=value`, the way compilers print: the level as a word a person
/// reads, no timestamp, no module path.
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        let (word, colour) = match level {
            Level::ERROR => ("error", "\x1b[31m"),
            Level::WARN => ("warning", "\x1b[33m"),
            Level::INFO => ("info", "\x1b[36m"),
            Level::DEBUG => ("debug", "\x1b[2m"),
            Level::TRACE => ("trace", "\x1b[2m"),
        };
        if writer.has_ansi_escapes() {
            write!(writer, "{colour}{word}:\x1b[0m ")?;
        } else {
            write!(writer, "{word}: ")?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
