//! `hostperf probe URL...`: time requests phase by phase, render, exit 0 / 1 / 2.

use std::time::Duration;

use crate::cli::{ProbeArgs, ProbeConnections};
use crate::probe::options::{ConnectionMode, HttpChoice, Method, ProbeOptions};
use crate::probe::{self, render};
use crate::report;

pub fn run(args: &ProbeArgs) -> anyhow::Result<u8> {
    let report = probe::run(&options(args))?;
    for (format, path) in &args.outputs {
        report::write_file(path, &render::render(&report, *format, report::Style::FILE))?;
    }
    report::print(&render::render(
        &report,
        args.format,
        report::Style::stdout(),
    ))?;
    Ok(report.exit_code())
}

fn options(args: &ProbeArgs) -> ProbeOptions {
    ProbeOptions {
        urls: args.urls.clone(),
        count: args.count,
        interval: Duration::from_secs_f64(args.interval),
        concurrency: args.concurrency,
        timeout: Duration::from_secs_f64(args.timeout),
        http: match (args.http1, args.http2) {
            (true, _) => HttpChoice::Http1,
            (_, true) => HttpChoice::Http2,
            _ => HttpChoice::Auto,
        },
        connections: match args.connections {
            ProbeConnections::New => ConnectionMode::New,
            ProbeConnections::Reused => ConnectionMode::Reused,
            ProbeConnections::Both => ConnectionMode::Both,
        },
        method: if args.head { Method::Head } else { Method::Get },
        cacert: args.cacert.clone(),
        sni: args.sni.clone(),
        resolve: args.resolve.clone(),
        insecure: args.insecure,
        fail_over: args
            .fail_over
            .map(|ms| Duration::from_secs_f64(ms / 1000.0)),
    }
}
