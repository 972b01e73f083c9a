//! Tables for people: borderless columns two spaces apart, laid out by comfy-table.
//!
//! Every column has a role. A name (a setting, an interface, an id) is never wrapped, so
//! `net.ipv4.tcp_slow_start_after_idle` is always one word on one line. A value may wrap at
//! its spaces (`4096 131072 33554432`), and only when the names and values do not fit
//! otherwise. The detail column (the reason, or why a row cannot be applied) is the one
//! that wraps. Layout, given the width of the output (`Style::width`):
//!
//! - no width (a pipe or a file): one line per row, nothing wrapped, for grep and awk;
//! - everything fits: one line per row;
//! - the detail column keeps at least [`MIN_DETAIL`] columns beside the others: it wraps
//!   within them;
//! - otherwise the detail goes below its row, indented under the second column, wrapped to
//!   the width ("stacked"), and values wrap at their spaces if the row is still too wide,
//!   and inside a word (down to [`MIN_VALUE`] columns) as a last resort.
//!
//! A line is longer than the width only when a single name is.

use comfy_table::{Cell as ComfyCell, Color, ColumnConstraint, Table, Width, presets};
use unicode_width::UnicodeWidthStr;

use super::Style;

/// Spaces between two columns.
pub const GAP: usize = 2;
/// The narrowest detail column kept beside the others; below it the detail goes under
/// its row. 30 columns hold about five words.
pub const MIN_DETAIL: usize = 30;
/// The narrowest a value column gets when even its longest word does not fit.
const MIN_VALUE: usize = 8;

/// Narrows the widest column above its floor one step at a time until the columns and
/// their gaps fit `width`, or no column can give more.
fn shrink_to(mut widths: Vec<usize>, floors: &[usize], width: usize) -> Vec<usize> {
    let gaps = GAP * widths.len().saturating_sub(1);
    while widths.iter().sum::<usize>() + gaps > width {
        let widest = (0..widths.len())
            .filter(|&c| widths[c] > floors[c])
            .max_by_key(|&c| widths[c]);
        match widest {
            Some(c) => widths[c] -= 1,
            None => break,
        }
    }
    widths
}

/// The deepest indent of a stacked detail line.
const MAX_INDENT: usize = 16;

/// What a column holds, which decides how it may be laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Never wrapped: setting names, labels, ids, times.
    Name,
    /// Wrapped at spaces only when nothing else fits: values with several fields.
    Value,
    /// Wrapped freely, or moved below its row: reasons and details. At most one, last.
    Detail,
}

/// One cell: its text and, when the style has colour, its colour.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub text: String,
    pub colour: Option<Color>,
}

impl Cell {
    pub fn coloured(text: impl Into<String>, colour: Color) -> Cell {
        Cell {
            text: text.into(),
            colour: Some(colour),
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell {
            text: text.to_string(),
            colour: None,
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell { text, colour: None }
    }
}

impl From<&String> for Cell {
    fn from(text: &String) -> Cell {
        Cell::from(text.as_str())
    }
}

/// A table of rows under a header, rendered for a [`Style`].
#[derive(Clone, Debug)]
pub struct Grid {
    header: Vec<String>,
    roles: Vec<Role>,
    rows: Vec<Vec<Cell>>,
}

impl Grid {
    /// A grid with these columns; a `Detail` column must be the last.
    pub fn new(columns: &[(&str, Role)]) -> Grid {
        debug_assert!(
            columns
                .iter()
                .take(columns.len().saturating_sub(1))
                .all(|(_, r)| *r != Role::Detail),
            "only the last column may be a detail column"
        );
        Grid {
            header: columns.iter().map(|(h, _)| h.to_string()).collect(),
            roles: columns.iter().map(|(_, r)| *r).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<Cell>) -> &mut Self {
        let mut cells = cells;
        cells.resize_with(self.header.len(), Cell::default);
        self.rows.push(cells);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, one `\n` per line, no trailing spaces.
    pub fn render(&self, style: Style) -> String {
        let natural = self.natural_widths();
        let n = self.header.len();
        let detail = (self.roles.last() == Some(&Role::Detail)).then(|| n - 1);
        let total = natural.iter().sum::<usize>() + GAP * n.saturating_sub(1);
        let Some(width) = style.width.filter(|w| total > *w) else {
            return self.inline(&natural, style);
        };
        let Some(d) = detail else {
            let widths = self.shrink_values(natural, width);
            return self.inline(&widths, style);
        };
        let fixed = natural[..d].iter().sum::<usize>() + GAP * d;
        if fixed + MIN_DETAIL <= width {
            // Beside the row or below it, whichever takes fewer lines.
            let beside = width - fixed;
            let below = width.saturating_sub(indent(&natural, d));
            let lines = |w: usize, extra: usize| -> usize {
                self.rows
                    .iter()
                    .map(|r| wrapped_lines(&r[d].text, w) + extra)
                    .sum()
            };
            if lines(beside, 0).max(self.rows.len()) <= lines(below, 1) {
                let mut widths = natural;
                widths[d] = beside;
                return self.inline(&widths, style);
            }
        }
        self.stacked(natural, d, width, style)
    }

    /// The widest line of each column, header included.
    fn natural_widths(&self) -> Vec<usize> {
        (0..self.header.len())
            .map(|c| {
                std::iter::once(self.header[c].as_str())
                    .chain(self.rows.iter().map(|r| r[c].text.as_str()))
                    .flat_map(str::lines)
                    .map(UnicodeWidthStr::width)
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// The longest word of a column: a value is never narrower.
    fn longest_word(&self, c: usize) -> usize {
        std::iter::once(self.header[c].as_str())
            .chain(self.rows.iter().map(|r| r[c].text.as_str()))
            .flat_map(str::split_whitespace)
            .map(UnicodeWidthStr::width)
            .max()
            .unwrap_or(0)
    }

    /// Narrows the widest value column one step at a time, never below its longest word,
    /// until the columns fit `width`; when that is not enough (a 19-digit number beside
    /// long names), values may then break inside a word, down to [`MIN_VALUE`] columns or
    /// their header. Names never shrink.
    fn shrink_values(&self, widths: Vec<usize>, width: usize) -> Vec<usize> {
        let words: Vec<usize> = (0..widths.len())
            .map(|c| match self.roles[c] {
                Role::Value => self.longest_word(c),
                _ => widths[c],
            })
            .collect();
        let widths = shrink_to(widths, &words, width);
        let pieces: Vec<usize> = (0..widths.len())
            .map(|c| match self.roles[c] {
                Role::Value => MIN_VALUE.max(self.header[c].width()).min(widths[c]),
                _ => widths[c],
            })
            .collect();
        shrink_to(widths, &pieces, width)
    }

    /// Rows on their own lines in columns of exactly `widths`.
    fn inline(&self, widths: &[usize], style: Style) -> String {
        let mut table = fixed_table(widths, style);
        table.set_header(self.header.clone());
        for row in &self.rows {
            table.add_row(cells(row, style));
        }
        trimmed(&table)
    }

    /// The detail below each row, indented under the second column.
    fn stacked(&self, natural: Vec<usize>, d: usize, width: usize, style: Style) -> String {
        let widths = self.shrink_values(natural[..d].to_vec(), width);
        let indent = indent(&widths, d);
        let detail_width = width.saturating_sub(indent).max(MIN_DETAIL / 2);
        // One table for every row: a first column numbers the rows (on each row's first
        // line only), so the lines can be told apart when a value wraps; it is cut off
        // before printing and each row's detail goes in after its last line.
        let mark = self.rows.len().to_string().len();
        let mut all = vec![mark];
        all.extend(&widths);
        let mut table = fixed_table(&all, style);
        let mut header = vec![String::new()];
        header.extend(self.header[..d].iter().cloned());
        table.set_header(header);
        for (i, row) in self.rows.iter().enumerate() {
            let mut line = vec![ComfyCell::new(i + 1)];
            line.extend(cells(&row[..d], style));
            table.add_row(line);
        }
        let pad = " ".repeat(indent);
        let options = textwrap::Options::new(indent + detail_width)
            .initial_indent(&pad)
            .subsequent_indent(&pad);
        let mut out = String::new();
        let mut pending: Option<usize> = None;
        let flush = |out: &mut String, row: Option<usize>| {
            let Some(text) = row.map(|r| &self.rows[r][d].text) else {
                return;
            };
            for line in textwrap::wrap(text, &options) {
                if !line.trim().is_empty() {
                    out.push_str(line.trim_end());
                    out.push('\n');
                }
            }
        };
        for line in table.lines() {
            let (number, rest) = line.split_at(line.len().min(mark));
            let rest = rest.get(GAP..).unwrap_or("").trim_end();
            if let Ok(n) = number.trim().parse::<usize>() {
                flush(&mut out, pending.take());
                pending = n.checked_sub(1);
            }
            if !rest.is_empty() {
                out.push_str(rest);
                out.push('\n');
            }
        }
        flush(&mut out, pending);
        out
    }
}

/// Prose for standard output (a summary line, a note among the data) wrapped at spaces to
/// the style's width, each continuation indented two spaces; unchanged without a width.
pub fn prose(text: &str, style: Style) -> String {
    hanging(text, 2, style)
}

/// Like [`prose`], with continuation lines indented `indent` columns: for labelled lines
/// such as `  fix:         Find what uses the CPU ...`, pass the column the text starts at.
/// Words are never broken (a path longer than the width stays whole).
pub fn hanging(text: &str, indent: usize, style: Style) -> String {
    let Some(width) = style.width else {
        return text.to_string();
    };
    let pad = " ".repeat(indent.min(width / 2));
    let options = textwrap::Options::new(width)
        .subsequent_indent(&pad)
        .break_words(false);
    let mut out = String::new();
    for line in text.lines() {
        for wrapped in textwrap::wrap(line, &options) {
            out.push_str(wrapped.trim_end());
            out.push('\n');
        }
        if line.is_empty() {
            out.push('\n');
        }
    }
    if !text.ends_with('\n') && out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Where a stacked detail starts: under the second column, at most [`MAX_INDENT`] in.
fn indent(widths: &[usize], detail: usize) -> usize {
    match widths.first() {
        Some(first) if detail > 1 => (first + GAP).min(MAX_INDENT),
        _ => 2,
    }
}

/// Lines `text` takes wrapped to `width`.
fn wrapped_lines(text: &str, width: usize) -> usize {
    if text.trim().is_empty() {
        return 0;
    }
    textwrap::wrap(text, width.max(1)).len()
}

/// A borderless comfy-table whose columns are exactly `widths` wide, `GAP` apart. It
/// starts with one empty row, which creates the columns (comfy-table makes them only for
/// content) and renders as a blank line that [`trimmed`] drops.
fn fixed_table(widths: &[usize], style: Style) -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING).force_no_tty();
    if style.colour {
        table.enforce_styling();
    }
    table.add_row(vec![""; widths.len()]);
    let last = widths.len().saturating_sub(1);
    for (i, w) in widths.iter().enumerate() {
        let pad = if i == last { 0 } else { GAP };
        if let Some(column) = table.column_mut(i) {
            column.set_padding((0, pad as u16));
            let w = (w + pad).min(usize::from(u16::MAX)) as u16;
            column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(w)));
        }
    }
    table
}

fn cells(row: &[Cell], style: Style) -> Vec<ComfyCell> {
    row.iter()
        .map(|c| {
            let cell = ComfyCell::new(&c.text);
            match c.colour {
                Some(colour) if style.colour => cell.fg(colour),
                _ => cell,
            }
        })
        .collect()
}

/// The table's lines without trailing spaces, each ending in `\n`; blank lines dropped.
fn trimmed(table: &Table) -> String {
    let mut out = String::new();
    for line in table.lines() {
        let line = line.trim_end();
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminal(width: usize) -> Style {
        Style {
            terminal: true,
            colour: false,
            width: Some(width),
        }
    }

    /// Names stay whole; a value longer than the room left breaks inside the word rather
    /// than push the line past the width.
    #[test]
    fn lines_fit_the_width_and_names_stay_whole() {
        let mut grid = Grid::new(&[
            ("ACTION", Role::Name),
            ("SETTING", Role::Name),
            ("CURRENT", Role::Value),
            ("DESIRED", Role::Value),
            ("DETAIL", Role::Detail),
        ]);
        grid.row(vec![
            "already set".into(),
            "net.ipv4.tcp_slow_start_after_idle".into(),
            "9223372036854775807".into(),
            "4096 131072 (>=16777216)".into(),
            "A reason long enough to be moved below its row at this width.".into(),
        ]);
        for width in [80, 72] {
            let text = grid.render(terminal(width));
            for line in text.lines() {
                assert!(line.width() <= width, "{width}: {line:?} in\n{text}");
            }
            assert!(
                text.contains("net.ipv4.tcp_slow_start_after_idle"),
                "{text}"
            );
        }
        let pipe = grid.render(Style::FILE);
        assert_eq!(
            pipe.lines().count(),
            2,
            "one line per row in a pipe: {pipe}"
        );
        assert!(pipe.contains("9223372036854775807"), "{pipe}");
    }
}
