//! `hostperf bench`: run the scenarios, render the report, write plots, pick the exit code.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::bench::{self, model::Status};
use crate::cli::*;
use crate::exit;
use crate::report;

use super::load_profile;

pub fn run(g: &Global, args: &BenchArgs) -> anyhow::Result<u8> {
    if let Some(root) = &g.root {
        return Err(crate::exit::UsageError::new(format!(
            "bench measures the live kernel; it cannot run against --root {}",
            root.display()
        )));
    }
    let stop = interrupt_flag()?;
    if let Some(addr) = args.serve {
        return serve(addr, &stop);
    }
    if let Some(addr) = args.target {
        return target(addr, args, &stop);
    }
    let selector = ProfileSelector {
        name: Some(
            args.name
                .clone()
                .unwrap_or_else(|| "latency-profile".into()),
        )
        .filter(|_| args.file.is_none()),
        file: args.file.clone(),
    };
    let profile = load_profile(g, &selector)?;
    let options = bench::Options {
        scenarios: args.scenarios.clone(),
        duration: Duration::from_secs_f64(args.duration),
        warmup: Duration::from_secs_f64(args.warmup),
        rate: args.rate,
        sysctls: args.sysctls.clone(),
        keys: args.keys.clone(),
    };
    let mut stderr = std::io::stderr();
    let report = bench::run(&profile, &options, &stop, &mut stderr)?;
    let mut plot_failed = false;
    if let Some(dir) = &args.plot {
        for s in &report.scenarios {
            match bench::plot::write(dir, s) {
                Ok(paths) => {
                    for p in paths {
                        let _ = writeln!(stderr, "bench: wrote {}", p.display());
                    }
                }
                Err(e) => {
                    let _ = writeln!(stderr, "bench: no plot for {}: {e:#}", s.name);
                    plot_failed = true;
                }
            }
        }
    }
    let render = |f: ListFormat| match f {
        ListFormat::Table => bench::render::text(&report),
        ListFormat::Json => report::json(&report),
    };
    for (format, path) in &args.outputs {
        report::write_file(path, &render(*format))?;
    }
    report::print(&render(args.format))?;
    let statuses: Vec<&Status> = report.scenarios.iter().map(|s| &s.status).collect();
    let failed = statuses
        .iter()
        .any(|s| matches!(s, Status::Failed(_) | Status::Interrupted))
        || report.scenarios.is_empty()
        || !report.host_check.changed.is_empty()
        || plot_failed;
    Ok(if failed {
        exit::FAILED
    } else if statuses.iter().all(|s| matches!(s, Status::Skipped(_))) {
        exit::NOT_EVALUATED
    } else {
        exit::OK
    })
}

/// The first SIGINT or SIGTERM sets the flag (bench stops, rolls back, tears down); a
/// second one exits at once (the namespaces vanish with the process).
fn interrupt_flag() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        flag::register_conditional_shutdown(sig, 130, stop.clone())?;
        flag::register(sig, stop.clone())?;
    }
    Ok(stop)
}

/// `--serve ADDR`: the bench server alone, here, until interrupted.
fn serve(addr: std::net::SocketAddrV4, stop: &Arc<AtomicBool>) -> anyhow::Result<u8> {
    let here = bench::netns::Netns::current()?;
    let server = bench::server::Server::start(&here, addr, bench::server::ServerConfig::default())?;
    eprintln!("bench: serving on {addr} until interrupted");
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    server.stop();
    Ok(exit::OK)
}

/// `--target ADDR`: the generator alone (keep-alive), its result as JSON.
fn target(
    addr: std::net::SocketAddrV4,
    args: &BenchArgs,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<u8> {
    let config = bench::loadgen::LoadConfig {
        target: addr,
        rate: args.rate.unwrap_or(1000.0),
        arrival: bench::loadgen::Arrival::Constant,
        warmup: Duration::from_secs_f64(args.warmup),
        duration: Duration::from_secs_f64(args.duration),
        keep_alive: true,
        connections: args.connections.max(1),
        connect_timeout: bench::scenario::CONNECT_TIMEOUT,
        response_timeout: bench::scenario::RESPONSE_TIMEOUT,
        bulk: false,
        path: "/",
        delayed_ack: false,
        server_clock: None,
    };
    let load = bench::loadgen::run_here(&config, stop.clone())?;
    let run = bench::model::RunReport::new(
        &load,
        Default::default(),
        Default::default(),
        Default::default(),
    );
    report::print(&report::json(&run))?;
    Ok(exit::OK)
}
