//! Renderers: data in, text out. Nothing here reads the host.

pub mod check;
pub mod plan;

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};

/// How text output will be seen: on a terminal (boxed, wrapped, maybe coloured) or in a
/// pipe or file (plain aligned columns, no escape codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub terminal: bool,
    pub colour: bool,
}

impl Style {
    /// For a report file.
    pub const FILE: Style = Style {
        terminal: false,
        colour: false,
    };

    /// For standard output as it is now.
    pub fn stdout() -> Self {
        Style {
            terminal: io::stdout().is_terminal(),
            colour: crate::logging::colour_allowed(&io::stdout()),
        }
    }

    pub fn table(self, header: &[&str]) -> Table {
        let mut table = Table::new();
        if self.terminal {
            table
                .load_style(presets::UTF8_HORIZONTAL_ONLY)
                .set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            table.load_style(presets::NOTHING).force_no_tty();
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

/// Writes `text` to standard output.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
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
    crate::host::write_durably(path, bytes).map_err(|e| {
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
