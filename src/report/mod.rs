//! Renderers: data in, text out. Nothing here reads the host.
//!
//! Streams: the data a command was asked for goes to standard output ([`print`]); notes
//! ([`note`]) and warnings (`tracing::warn!`, formatted by [`crate::logging`]) go to
//! standard error, once each. A closed standard output (`hostperf check X | head -1`) is
//! not an error: [`print`] stops writing and the command keeps its exit status.

pub mod check;
pub mod doc;
pub mod plan;
pub mod profile;
pub mod recommend;
pub mod schemas;
pub mod table;

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

pub use table::{Grid, Role};

/// How text output will be seen: on a terminal (maybe coloured, fitted to its width) or
/// in a pipe or file (plain aligned columns, one line per row, no escape codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub terminal: bool,
    pub colour: bool,
    /// Columns to fit tables into; `None` leaves every row on one line.
    pub width: Option<usize>,
}

impl Style {
    /// For a report file.
    pub const FILE: Style = Style {
        terminal: false,
        colour: false,
        width: None,
    };

    /// For standard output as it is now: the width is `COLUMNS` when set, else the
    /// terminal's; in a pipe without `COLUMNS`, none.
    pub fn stdout() -> Self {
        let stdout = io::stdout();
        let terminal = stdout.is_terminal();
        Style {
            terminal,
            colour: crate::logging::colour_allowed(&stdout),
            width: columns_env().or_else(|| {
                terminal
                    .then(|| terminal_size::terminal_size_of(&stdout))
                    .flatten()
                    .map(|(w, _)| usize::from(w.0))
            }),
        }
    }

    /// A borderless comfy-table fitted to this style's width. Prefer [`Grid`], which
    /// never breaks a name.
    pub fn table(self, header: &[&str]) -> Table {
        let mut table = Table::new();
        table.load_style(presets::NOTHING).force_no_tty();
        if let Some(width) = self.width {
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(width.min(usize::from(u16::MAX)) as u16);
        }
        if self.colour {
            table.enforce_styling();
        }
        table.set_header(header.to_vec());
        table
    }

    /// A cell in `colour` when this style has colour.
    pub fn coloured(self, text: &str, colour: Color) -> Cell {
        let cell = Cell::new(text);
        if self.colour { cell.fg(colour) } else { cell }
    }
}

/// `COLUMNS` as a number of columns, when set to one (at least 20).
fn columns_env() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()?
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|w| *w >= 20)
}

/// A table for standard output.
pub fn table(header: &[&str]) -> Table {
    Style::stdout().table(header)
}

/// A cell coloured when colour is allowed on standard output.
pub fn coloured(text: &str, colour: Color) -> Cell {
    Style::stdout().coloured(text, colour)
}

/// The table as text, without the padding comfy-table leaves at line ends.
pub fn render(table: &Table) -> String {
    let mut out = String::new();
    for line in table.to_string().lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Set once standard output is found closed.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// `--quiet`: no notes and no progress.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Writes `text` to standard output (adding a final newline). A closed pipe is not an
/// error: the rest of the output is dropped ([`stdout_closed`] says so) and the command
/// goes on to its own exit status.
pub fn print(text: &str) -> io::Result<()> {
    if stdout_closed() {
        return Ok(());
    }
    let result = (|| {
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()
    })();
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            tracing::debug!("standard output is closed; the rest of the output is dropped");
            Ok(())
        }
        other => other,
    }
}

/// Whether standard output was found closed (a reader such as `head` went away): loops
/// that print (`diagnose --watch`) stop.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// `--quiet`: [`note`] and progress print nothing.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A note for the person at the terminal, on standard error (`note: ...`), unless
/// `--quiet`. Something to know that is not data and not wrong.
pub fn note(text: impl std::fmt::Display) {
    if !quiet() {
        let _ = writeln!(io::stderr().lock(), "note: {text}");
    }
}

/// A spinner on standard error while a command waits or captures: only when standard
/// error is a terminal and without `--quiet`. It disappears when dropped.
pub struct Progress(Option<indicatif::ProgressBar>);

/// Starts a [`Progress`] saying `message`, with the time elapsed.
pub fn progress(message: impl Into<String>) -> Progress {
    if quiet() || !io::stderr().is_terminal() {
        return Progress(None);
    }
    let bar = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message.into());
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    Progress(Some(bar))
}

impl Progress {
    /// Replaces the message (no effect where nothing is shown).
    pub fn say(&self, message: impl Into<String>) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.into());
        }
    }
}

/// Progress of a long command reported as lines of text (bench): each line replaces the
/// spinner's message on a terminal and is logged at info level (`-v`), so a pipe or CI log
/// gets it only when asked for.
pub struct ProgressLines {
    progress: Progress,
    pending: Vec<u8>,
}

/// A [`ProgressLines`] starting with `message`.
pub fn progress_lines(message: impl Into<String>) -> ProgressLines {
    ProgressLines {
        progress: progress(message),
        pending: Vec::new(),
    }
}

impl Write for ProgressLines {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim();
            if !line.is_empty() {
                tracing::info!("{line}");
                self.progress.say(line);
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// A warning on standard error, once: what the operator should act on or know went
/// differently than asked. Shown with `--quiet` too.
pub fn warn(text: impl std::fmt::Display) {
    tracing::warn!("{text}");
}

/// Fails, as [`write_file`] would, when `path`'s directory is missing or is not a directory:
/// for commands that measure for a while before they write, so a typo costs no waiting.
pub fn check_target_dir(path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(crate::exit::UsageError::new(format!(
            "cannot write {}: the directory {} does not exist (hostperf does not create it)",
            path.display(),
            dir.display()
        )))
    }
}

/// Writes a report file through the one writer ([`crate::host::write_durably`]: a temp
/// file created O_EXCL|O_NOFOLLOW under a random name beside it, fsync, rename), so a
/// collector such as node_exporter's textfile directory never reads half a file and a link
/// planted there is never followed. The directory must exist. A path the operator got
/// wrong (missing directory, no permission, not a directory) is a usage error (exit 2).
pub fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    write_bytes(path, text.as_bytes())
}

/// [`write_file`] for binary reports (a snapshot archive, a PNG plot): the same writer and the
/// same errors.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_bytes_mode(path, bytes, 0o644)
}

/// [`write_bytes`] for a file only its owner may read (mode 0600 whatever the umask): a
/// snapshot archive, which holds process names and kernel log lines.
pub fn write_private_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_bytes_mode(path, bytes, 0o600)
}

fn write_bytes_mode(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    crate::host::write_durably_mode(path, bytes, mode).map_err(|e| {
        let msg = format!("cannot write report {}: {e}", path.display());
        match e.kind() {
            io::ErrorKind::NotFound
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::InvalidInput => crate::exit::UsageError::new(msg),
            _ => anyhow::anyhow!(msg),
        }
    })
}

pub fn json<T: serde::Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("reports serialize");
    text.push('\n');
    text
}

/// Escapes text for XML attributes and content.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes a Prometheus label value (backslash, double quote, newline).
pub fn prom_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(xml_escape("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(prom_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
