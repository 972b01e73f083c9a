//! What a bench run found: plain data for the renderers (table, JSON, plots).

use serde::Serialize;

use super::counters::{Softnet, TcpCounters};
use super::loadgen::{Errors, LoadResult};
use super::scenario::{Scenario, Start};
use super::settings::SettingRow;

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Where the figures come from: they hold for this machine only.
    pub machine: Machine,
    pub profile: String,
    /// Seconds measured per run, after `warmup_s` of warm-up.
    pub duration_s: f64,
    pub warmup_s: f64,
    /// Every setting of the profile and what bench could do with it.
    pub settings: Vec<SettingRow>,
    pub scenarios: Vec<ScenarioReport>,
    /// The host's own settings compared before and after.
    pub host_check: HostCheck,
}

/// The machine the figures were measured on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub kernel: String,
    pub cpus: usize,
    pub note: String,
}

/// The host's settings before and after the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HostCheck {
    /// How many host sysctls were compared.
    pub compared: usize,
    /// Each one that differed: "key: before -> after".
    pub changed: Vec<String>,
}

/// How a scenario ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
pub enum Status {
    Done,
    /// The machine lacks something the scenario needs (a qdisc, a tool).
    Skipped(String),
    Failed(String),
    Interrupted,
}

/// One scenario's results.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub title: String,
    pub question: String,
    pub offered_rps: f64,
    /// Where the testbed starts from (the scenario's, then --sysctl).
    pub start: Vec<Start>,
    /// The profile settings this scenario exercises that were applied ("key value").
    pub keys_in_effect: Vec<String>,
    pub status: Status,
    pub arms: Vec<ArmReport>,
    /// Remarks (what busy polling did, ...).
    pub notes: Vec<String>,
}

impl ScenarioReport {
    pub fn new(s: &Scenario, rate: f64, start: Vec<Start>, keys: Vec<String>) -> Self {
        ScenarioReport {
            name: s.name.into(),
            title: s.title.into(),
            question: s.question.into(),
            offered_rps: rate,
            start,
            keys_in_effect: keys,
            status: Status::Done,
            arms: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// One workload variant, before and after the profile.
#[derive(Clone, Debug, Serialize)]
pub struct ArmReport {
    pub name: String,
    pub what: String,
    pub baseline: Option<RunReport>,
    pub profile: Option<RunReport>,
}

/// Latency percentiles, milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// CPU time during a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Cpu {
    /// The server thread's CPU seconds (user and system).
    pub server_s: f64,
    /// The generator thread's CPU seconds.
    pub client_s: f64,
    /// Server CPU microseconds per successful request.
    pub server_us_per_request: Option<f64>,
    /// Generator CPU microseconds per successful request.
    pub client_us_per_request: Option<f64>,
}

/// One run: an arm in one phase.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub offered_rps: f64,
    pub achieved_rps: f64,
    /// Requests due in the measured window, and how many of them succeeded.
    pub due: u64,
    pub ok: u64,
    /// Percentiles of successful requests, measured from each request's due time (absent
    /// when none succeeded).
    pub latency_ms: Option<Percentiles>,
    /// How late the generator sent requests after their due time (p50, p99, ms): its own
    /// timer wake-up at low load; waiting for a free connection when overloaded.
    pub send_lag_ms: Option<[f64; 2]>,
    /// (percentile, ms) points for plotting, HdrHistogram style.
    pub curve: Vec<[f64; 2]>,
    pub errors: Errors,
    /// Counter differences over the run, per namespace.
    pub client: TcpCounters,
    pub server: TcpCounters,
    /// Host-wide (other work on the machine counts too).
    pub softnet: Softnet,
    pub cpu: Cpu,
    /// Goodput of the bulk download beside the requests, Mbit/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bulk_mbit: Option<f64>,
}

impl RunReport {
    /// Summarises a load result with its counters.
    pub fn new(
        load: &LoadResult,
        client: TcpCounters,
        server: TcpCounters,
        softnet: Softnet,
    ) -> Self {
        let h = &load.latency;
        let ms = |us: u64| us as f64 / 1000.0;
        let latency_ms = if h.is_empty() {
            None
        } else {
            Some(Percentiles {
                p50: ms(h.value_at_quantile(0.5)),
                p90: ms(h.value_at_quantile(0.9)),
                p99: ms(h.value_at_quantile(0.99)),
                p999: ms(h.value_at_quantile(0.999)),
                max: ms(h.max()),
            })
        };
        let per = |s: f64| (load.ok > 0).then(|| s * 1e6 / load.ok as f64);
        let server_s = load.server_cpu.as_secs_f64();
        let client_s = load.client_cpu.as_secs_f64();
        RunReport {
            offered_rps: load.offered_rps,
            achieved_rps: load.achieved_rps,
            due: load.due,
            ok: load.ok,
            latency_ms,
            send_lag_ms: (!load.send_lag.is_empty()).then(|| {
                [
                    ms(load.send_lag.value_at_quantile(0.5)),
                    ms(load.send_lag.value_at_quantile(0.99)),
                ]
            }),
            curve: curve(h),
            errors: load.errors.clone(),
            client,
            server,
            softnet,
            cpu: Cpu {
                server_s,
                client_s,
                server_us_per_request: per(server_s),
                client_us_per_request: per(client_s),
            },
            bulk_mbit: load.bulk_mbit,
        }
    }
}

/// Percentile points spaced evenly on the "number of nines" axis (0, 50, 68, 90, 96.8, 99,
/// ...) up to the last one the sample count supports, and the maximum.
pub fn curve(h: &hdrhistogram::Histogram<u64>) -> Vec<[f64; 2]> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut points = Vec::new();
    let nines_max = (h.len() as f64).log10();
    let mut k = 0.0f64;
    while k <= nines_max {
        let q = 1.0 - 10f64.powf(-k);
        points.push([q * 100.0, h.value_at_quantile(q) as f64 / 1000.0]);
        k += 0.1;
    }
    let top = 100.0 * (1.0 - 1.0 / h.len() as f64);
    points.push([
        top.max(points.last().map(|p| p[0]).unwrap_or(0.0)),
        h.max() as f64 / 1000.0,
    ]);
    points
}
