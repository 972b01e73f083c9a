//! `hostperf snapshot FILE.tar.gz`: capture everything diagnose reads, to attach to a ticket.

use anyhow::Context;

use crate::cli::{Global, SnapshotArgs};
use crate::diagnose::{self, LogWindow};
use crate::exit;

use super::host;

pub fn run(g: &Global, args: &SnapshotArgs) -> anyhow::Result<u8> {
    let interval = diagnose::check_interval(args.interval)?;
    let host = host(g);
    let window = LogWindow {
        lookback: args.since,
    };
    let (manifest, bytes) = diagnose::snapshot_archive(&host, interval, window)?;
    // The one writer for files outside the state directory (temp file O_EXCL|O_NOFOLLOW
    // beside it, fsync, rename).
    crate::host::write_durably(&args.file, &bytes)
        .with_context(|| format!("cannot write {}", args.file.display()))?;
    let samples = match manifest.samples.len() {
        1 => "1 sample".to_string(),
        n => format!("{n} samples, {:.2} s apart", manifest.interval_secs),
    };
    eprintln!(
        "hostperf: wrote {} ({samples}, {} KiB)",
        args.file.display(),
        bytes.len() / 1024
    );
    Ok(exit::OK)
}
