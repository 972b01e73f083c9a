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
    // A bare file name is in the current directory (write_durably needs a parent).
    let file = if args.file.parent().is_some_and(|p| p.as_os_str().is_empty()) {
        std::path::Path::new(".").join(&args.file)
    } else {
        args.file.clone()
    };
    crate::host::write_durably(&file, &bytes)
        .with_context(|| format!("cannot write {}", args.file.display()))?;
    eprintln!(
        "hostperf: wrote {} ({} samples, {:.2} s apart, {} KiB)",
        args.file.display(),
        manifest.samples.len(),
        manifest.interval_secs,
        bytes.len() / 1024
    );
    Ok(exit::OK)
}
