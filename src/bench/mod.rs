//! `hostperf bench`: what a profile does to latency and throughput on this host, measured
//! before and after in throwaway network namespaces.
//!
//! For each scenario and each of its arms, twice (baseline, then with the profile): build a
//! fresh testbed (`testbed`), set its starting point, apply the profile's per-namespace
//! settings inside it through `hostperf apply` (`settings`), start the HTTP server
//! (`server`), drive it with the open-loop generator (`loadgen`), read the kernel's counters
//! (`counters`), stop, roll back (checked), tear down. The host's own settings are read before
//! and after the whole run and must not have changed (`guard`). Results are plain data
//! (`model`) rendered as a table (`render`), JSON, and percentile plots (`plot`).
//!
//! Everything is bounded: tools 10 s each, an apply 30 s, a run warm-up + duration + the
//! connect (4 s) and response (5 s) timeouts. Ctrl-C (the `stop` flag) ends the current run,
//! rolls back and tears down; a second Ctrl-C exits at once, and the namespaces, which only
//! this process holds, vanish with it.

pub mod counters;
mod guard;
pub mod loadgen;
pub mod model;
pub mod netns;
pub mod plot;
pub mod render;
pub mod scenario;
pub mod server;
pub mod settings;
pub mod testbed;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::exit::UsageError;
use crate::host::Host;
use crate::profile::Profile;
use model::{ArmReport, HostCheck, Machine, Report, RunReport, ScenarioReport, Status};
use netns::Netns;
use scenario::{Arm, Scenario, Side, Start};
use settings::{Reach, SettingRow};
use testbed::{Missing, Testbed};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Scenario names; all when empty.
    pub scenarios: Vec<String>,
    pub duration: Duration,
    pub warmup: Duration,
    /// Offered requests/s for every scenario instead of each one's default.
    pub rate: Option<f64>,
    /// Testbed starting points from the command line, set in both endpoints.
    pub sysctls: Vec<(String, String)>,
    /// Apply only these settings of the profile.
    pub keys: Vec<String>,
}

/// Runs the scenarios and returns the report. Progress goes to `progress` (stderr).
/// Errors: not root (usage), an unknown scenario (usage); anything that stops the whole run.
/// A scenario that fails is recorded in the report and the next one runs.
pub fn run(
    profile: &Profile,
    options: &Options,
    stop: &Arc<AtomicBool>,
    progress: &mut dyn Write,
) -> anyhow::Result<Report> {
    if !nix::unistd::geteuid().is_root() {
        return Err(UsageError::new(
            "bench needs root: it creates network namespaces and applies settings inside them \
             (nothing outside them is changed)",
        ));
    }
    let loss_based = if settings::allowed_congestion_controls()
        .iter()
        .any(|a| a == "cubic")
    {
        "cubic"
    } else {
        "reno"
    };
    let scenarios = scenario::select(&options.scenarios, loss_based).map_err(UsageError::new)?;
    for (key, _) in &options.sysctls {
        if !key.starts_with("net.") {
            return Err(UsageError::new(format!(
                "--sysctl {key}: only per-namespace net.* keys can start a testbed"
            )));
        }
    }
    raise_nofile();
    let probe = Netns::new("probe")?;
    let settings = settings::classify(profile, &probe, &options.keys)?;
    drop(probe);
    let watched = guard::keys(&settings, &scenarios, &options.sysctls);
    let before = guard::capture(&watched);
    let scratch = tempfile::Builder::new()
        .prefix("hostperf-bench-")
        .tempdir()
        .context("create a scratch directory")?;
    let profile_file = scratch.path().join("namespace-profile.yaml");
    std::fs::write(
        &profile_file,
        settings::profile_yaml(&profile.name, &settings),
    )
    .context("write the namespace profile")?;
    let in_effect: Vec<&SettingRow> = settings
        .iter()
        .filter(|r| r.reach == Reach::InEffect)
        .collect();
    let _ = writeln!(
        progress,
        "bench: profile {}: {} setting(s) applied inside the namespaces, {} not measurable there",
        profile.name,
        in_effect.len(),
        settings
            .iter()
            .filter(|r| matches!(r.reach, Reach::HostWide | Reach::Refused))
            .count()
    );
    let total_runs: usize = scenarios.iter().map(|s| s.arms.len() * 2).sum();
    let mut ctx = Ctx {
        options,
        settings: &settings,
        profile_file: &profile_file,
        scratch: scratch.path(),
        stop,
        progress,
        run_no: 0,
        total_runs,
    };
    let mut reports = Vec::new();
    for s in &scenarios {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        reports.push(ctx.scenario(s));
    }
    let after = guard::capture(&watched);
    let host_check = guard::compare(&before, &after);
    Ok(Report {
        machine: Machine {
            kernel: Host::live()
                .read_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            note: "measured on this machine; figures hold for it only".into(),
        },
        profile: profile.name.clone(),
        duration_s: options.duration.as_secs_f64(),
        warmup_s: options.warmup.as_secs_f64(),
        settings,
        scenarios: reports,
        host_check: HostCheck {
            compared: watched.len(),
            changed: host_check,
        },
    })
}

/// Raises the soft open-files limit to the hard one: a burst holds thousands of sockets.
fn raise_nofile() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

struct Ctx<'a> {
    options: &'a Options,
    settings: &'a [SettingRow],
    profile_file: &'a Path,
    scratch: &'a Path,
    stop: &'a Arc<AtomicBool>,
    progress: &'a mut dyn Write,
    run_no: usize,
    total_runs: usize,
}

/// Baseline or profile.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Baseline,
    Profile,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Baseline => "baseline",
            Phase::Profile => "profile",
        }
    }
}

impl Ctx<'_> {
    fn scenario(&mut self, s: &Scenario) -> ScenarioReport {
        let rate = self.options.rate.unwrap_or(s.default_rate);
        let mut start = s.start.clone();
        for (key, value) in &self.options.sysctls {
            start.retain(|st| &st.key != key);
            start.push(Start {
                side: Side::Both,
                key: key.clone(),
                value: value.clone(),
                why: "--sysctl".into(),
            });
        }
        let keys: Vec<String> = self
            .settings
            .iter()
            .filter(|r| {
                matches!(r.reach, Reach::InEffect | Reach::Emulated)
                    && s.keys.contains(&r.key.as_str())
            })
            .map(|r| format!("{} {}", r.key, r.value))
            .collect();
        let mut report = ScenarioReport::new(s, rate, start.clone(), keys);
        let _ = writeln!(self.progress, "bench: {}: {}", s.name, s.title);
        for arm in &s.arms {
            let mut arm_report = ArmReport {
                name: arm.name.into(),
                what: arm.what.into(),
                baseline: None,
                profile: None,
            };
            for phase in [Phase::Baseline, Phase::Profile] {
                if self.stop.load(Ordering::Relaxed) {
                    report.status = Status::Interrupted;
                    break;
                }
                match self.run(s, arm, phase, rate, &start, &mut report.notes) {
                    Ok(r) => match phase {
                        Phase::Baseline => arm_report.baseline = Some(r),
                        Phase::Profile => arm_report.profile = Some(r),
                    },
                    Err(e) => {
                        let _ = writeln!(self.progress, "bench: {}: {e:#}", s.name);
                        report.status = if self.stop.load(Ordering::Relaxed) {
                            Status::Interrupted
                        } else if let Some(m) = e.downcast_ref::<Missing>() {
                            Status::Skipped(m.0.clone())
                        } else {
                            Status::Failed(format!("{e:#}"))
                        };
                        break;
                    }
                }
            }
            report.arms.push(arm_report);
            if report.status != Status::Done {
                break;
            }
        }
        report
    }

    /// One arm in one phase on a fresh testbed.
    fn run(
        &mut self,
        s: &Scenario,
        arm: &Arm,
        phase: Phase,
        rate: f64,
        start: &[Start],
        notes: &mut Vec<String>,
    ) -> anyhow::Result<RunReport> {
        self.run_no += 1;
        let _ = writeln!(
            self.progress,
            "bench: [{}/{}] {} {} {}: {} req/s for {} s after {} s warm-up",
            self.run_no,
            self.total_runs,
            s.name,
            arm.name,
            phase.name(),
            rate,
            self.options.duration.as_secs_f64(),
            self.options.warmup.as_secs_f64()
        );
        let bed = Testbed::build(s.topology)?;
        if let Some(bytes) = arm.queue_bytes {
            bed.set_queue(bytes)?;
        }
        for side in [Side::Client, Side::Server] {
            let values: Vec<(String, String)> = start
                .iter()
                .filter(|st| st.side == side || st.side == Side::Both)
                .map(|st| (st.key.clone(), st.value.clone()))
                .collect();
            let ns = if side == Side::Client {
                &bed.client
            } else {
                &bed.server
            };
            settings::write_values(ns, &values)?;
        }
        let mut server_config = arm.server.clone();
        let mut applied = Vec::new();
        if phase == Phase::Profile {
            let keys: Vec<String> = self
                .settings
                .iter()
                .filter(|r| r.reach == Reach::InEffect)
                .map(|r| r.key.clone())
                .collect();
            if !keys.is_empty() {
                for ns in bed.endpoints() {
                    let dir = self
                        .scratch
                        .join(format!("state-{}-{}", self.run_no, ns.role));
                    applied.push((ns, settings::apply(ns, self.profile_file, &dir, &keys)?));
                }
            }
            for r in self.settings.iter().filter(|r| r.reach == Reach::Emulated) {
                if !s.keys.contains(&r.key.as_str()) {
                    continue;
                }
                let us = r.value.trim().parse::<u32>().ok();
                match r.key.as_str() {
                    "net.core.busy_read" => server_config.busy_read_us = us,
                    "net.core.busy_poll" => server_config.busy_poll_us = us,
                    _ => {}
                }
            }
        }
        let measured = self.measure(&bed, arm, server_config, rate, notes);
        // Roll back whatever happened; a failed rollback is reported even after a failed run.
        let mut rollback_error = None;
        for (ns, a) in applied.iter().rev() {
            if let Err(e) = settings::rollback(ns, a) {
                rollback_error.get_or_insert(e);
            }
        }
        drop(bed);
        let report = measured?;
        if let Some(e) = rollback_error {
            return Err(e);
        }
        let _ = writeln!(
            self.progress,
            "bench:        achieved {:.0} req/s, p50 {} ms, p99 {} ms, {} error(s)",
            report.achieved_rps,
            report
                .latency_ms
                .as_ref()
                .map_or("-".into(), |l| format!("{:.3}", l.p50)),
            report
                .latency_ms
                .as_ref()
                .map_or("-".into(), |l| format!("{:.3}", l.p99)),
            report.errors.total()
        );
        Ok(report)
    }

    fn measure(
        &mut self,
        bed: &Testbed,
        arm: &Arm,
        server_config: server::ServerConfig,
        rate: f64,
        notes: &mut Vec<String>,
    ) -> anyhow::Result<RunReport> {
        let server = server::Server::start(&bed.server, bed.server_addr, server_config)?;
        if let Some(note) = &server.busy_poll_note
            && !notes.contains(note)
        {
            notes.push(note.clone());
        }
        let config = loadgen::LoadConfig {
            target: bed.server_addr,
            rate,
            arrival: arm.arrival,
            warmup: self.options.warmup,
            duration: self.options.duration,
            keep_alive: arm.keep_alive,
            connections: arm.connections,
            connect_timeout: scenario::CONNECT_TIMEOUT,
            response_timeout: scenario::RESPONSE_TIMEOUT,
            bulk: arm.bulk,
            path: "/",
            delayed_ack: arm.delayed_ack,
            server_clock: Some(server.clock()),
        };
        let host = Host::live();
        let client_before = counters::tcp(&bed.client)?;
        let server_before = counters::tcp(&bed.server)?;
        let softnet_before = counters::softnet(&host);
        let load = loadgen::run(&bed.client, &config, self.stop)?;
        let client = counters::TcpCounters::delta(&client_before, &counters::tcp(&bed.client)?);
        let server_counters =
            counters::TcpCounters::delta(&server_before, &counters::tcp(&bed.server)?);
        let softnet = counters::Softnet::delta(&softnet_before, &counters::softnet(&host));
        let busy_polling = server.busy_poll_note.is_some();
        server.stop();
        if self.stop.load(Ordering::Relaxed) {
            return Err(anyhow!("interrupted"));
        }
        if busy_polling && server_counters.busy_poll_rx == 0 {
            let note = "busy polling never received a packet (TcpExt BusyPollRxPackets stayed \
                        0): the veth offered it nothing to poll, so its price and benefit show \
                        only on a NIC whose driver supports busy polling"
                .to_string();
            if !notes.contains(&note) {
                notes.push(note);
            }
        }
        Ok(RunReport::new(&load, client, server_counters, softnet))
    }
}
