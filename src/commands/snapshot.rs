//! `hostperf snapshot FILE.tar.gz`: capture everything diagnose reads, to attach to a ticket.

use std::path::Path;

use crate::cli::{Global, SnapshotArgs};
use crate::diagnose::{self, LogWindow};
use crate::exit;

use super::host;

/// A snapshot is a gzip-compressed tar archive: its name says so (`.tar.gz` or `.tgz`), so
/// a mistyped argument (`hostperf snapshot /etc/hosts`) is refused before anything is
/// captured or written.
fn check_name(file: &Path) -> anyhow::Result<()> {
    let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name
        .strip_suffix(".tar.gz")
        .or_else(|| name.strip_suffix(".tgz"));
    if stem.is_some_and(|s| !s.is_empty()) {
        return Ok(());
    }
    Err(exit::UsageError::new(format!(
        "cannot write snapshot {}: a snapshot is a gzip-compressed tar archive, so its file name must end in .tar.gz or .tgz (for example ticket-123.tar.gz); nothing was captured or written",
        file.display()
    )))
}

pub fn run(g: &Global, args: &SnapshotArgs) -> anyhow::Result<u8> {
    let interval = diagnose::check_interval(args.interval)?;
    check_name(&args.file)?;
    crate::report::check_target_dir(&args.file)?;
    let host = host(g);
    let window = LogWindow {
        lookback: args.since,
    };
    let (manifest, bytes) = {
        let _progress = crate::report::progress(format!(
            "capturing this host into {} ({:.1} s between two samples)",
            args.file.display(),
            interval.as_secs_f64()
        ));
        diagnose::snapshot_archive(&host, interval, window)?
    };
    // The one writer for files outside the state directory (temp file O_EXCL|O_NOFOLLOW
    // beside it, fsync, rename); a missing directory is a usage error. Mode 0600: the
    // archive holds process names and kernel log lines.
    crate::report::write_private_bytes(&args.file, &bytes)?;
    let samples = match manifest.samples.len() {
        1 => "1 sample".to_string(),
        n => format!("{n} samples, {:.2} s apart", manifest.interval_secs),
    };
    crate::report::note(format!(
        "wrote {} ({samples}, {} KiB); `hostperf diagnose --from {}` reads it",
        args.file.display(),
        bytes.len() / 1024,
        args.file.display()
    ));
    Ok(exit::OK)
}
