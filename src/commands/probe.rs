//! `hostperf probe URL...`: time requests phase by phase, render, exit 0 / 1 / 2.

use std::time::Duration;

use crate::cli::{ProbeArgs, ProbeConnections};
use crate::probe::options::{ConnectionMode, HttpChoice, Method, ProbeOptions};
use crate::probe::{self, render};

pub fn run(args: &ProbeArgs) -> anyhow::Result<u8> {
    super::check_outputs(&args.outputs)?;
    let report = probe::run(&options(args))?;
    super::deliver(args.format, &args.outputs, |format, style| {
        Ok(render::render(&report, format, style))
    })?;
    super::tell(&[], &report.notes);
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
