//! `hostperf snapshot FILE.tar.gz`: capture everything diagnose reads, to attach to a ticket.

use crate::cli::{Global, SnapshotArgs};
use crate::diagnose::{self, LogWindow};
use crate::exit;

use super::host;

pub fn run(g: &Global, args: &SnapshotArgs) -> anyhow::Result<u8> {
    let interval = diagnose::check_interval(args.interval)?;
    crate::report::check_target_dir(&args.file)?;
    let host = host(g);
    let window = LogWindow {
        lookback: args.since,
    };
    let (manifest, bytes) = diagnose::snapshot_archive(&host, interval, window)?;
    // The one writer for files outside the state directory (temp file O_EXCL|O_NOFOLLOW
    // beside it, fsync, rename).
    crate::report::write_bytes(&args.file, &bytes)?;
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
