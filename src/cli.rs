//! Command-line definitions. Parsing is pure: nothing here touches the machine.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Tune Linux hosts that serve latency-sensitive APIs, and diagnose them when they misbehave.
///
/// Exit codes (all commands): 0 success (no drift; no finding at or above diagnose's
/// --fail-on); 1 drift, such findings, profiles that differ, or a failed operation; 2 usage
/// or configuration error (nothing was changed); 3 something required could not be
/// evaluated. A closed standard output (`| head`) keeps
/// the code.
#[derive(Debug, Parser)]
#[command(
    name = "hostperf",
    version = env!("HOSTPERF_VERSION"),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, listed under their own heading in each command's help.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Read and write /proc and /sys below DIR instead of `/` (a fixture tree or a capture).
    #[arg(long, global = true, env = "HOSTPERF_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Where snapshots and the apply lock live.
    #[arg(
        long,
        global = true,
        env = "HOSTPERF_STATE_DIR",
        value_name = "DIR",
        default_value = "/var/lib/hostperf"
    )]
    pub state_dir: PathBuf,

    /// Directory of user profiles (NAME.yaml), searched before the built-in ones, so a user
    /// profile may replace a built-in of the same name.
    #[arg(
        long,
        global = true,
        env = "HOSTPERF_PROFILE_DIR",
        value_name = "DIR",
        default_value = "/etc/hostperf/profiles"
    )]
    pub profile_dir: PathBuf,

    /// Log what the command reads and decides on stderr: -v the steps and thresholds,
    /// -vv every file and netlink request, -vvv everything.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Data only: no notes and no progress on stderr (warnings and errors still show).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the available profiles, show one fully resolved, or compare two key by key.
    Profiles(ProfilesArgs),
    /// Show what applying a profile would change: current value, desired value, action.
    Plan(PlanArgs),
    /// Apply a profile all or nothing: validate, snapshot the old values, write, verify.
    Apply(ApplyArgs),
    /// Does the host match a profile? Exit 0 on match, 1 on drift, 3 when a required setting
    /// cannot be read. For CI preflight.
    #[command(visible_alias = "verify")]
    Check(CheckArgs),
    /// Restore the values saved before an apply (the latest one by default).
    Rollback(RollbackArgs),
    /// What is applied (profile, when, by which command), what persists it, drift now, and
    /// what else manages the same settings. Exit codes as check.
    Status(StatusArgs),
    /// Show current values: the sysctls named, or every setting the built-in profiles use.
    Show(ShowArgs),
    /// Pick the built-in profile (and add-ons) that fit this host, say why from its facts,
    /// and show the plan of applying it. Reads only.
    Recommend(RecommendArgs),
    /// Measure the host's counters over an interval and report what is wrong and how to fix it.
    Diagnose(DiagnoseArgs),
    /// Capture everything diagnose reads into a .tar.gz to attach to a ticket.
    Snapshot(SnapshotArgs),
    /// Time requests to http(s) URLs phase by phase and say whether the network or the
    /// application is slow; TLS and certificate facts; failures by layer.
    Probe(ProbeArgs),
    /// Print the shell completion script for bash, zsh or fish (also elvish, powershell).
    #[command(after_long_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Measure what a profile does to latency and throughput on this host: each scenario runs
    /// in throwaway network namespaces, before and after the profile (needs root; the host's
    /// own settings are never changed).
    Bench(BenchArgs),
}

const COMPLETIONS_HELP: &str = "\
Load it for the current shell:
  source <(hostperf completions bash)
Install it for every user (the Debian package already does):
  hostperf completions bash > /usr/share/bash-completion/completions/hostperf
  hostperf completions zsh  > /usr/share/zsh/vendor-completions/_hostperf
  hostperf completions fish > /usr/share/fish/vendor_completions.d/hostperf.fish";

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    pub action: Option<ProfilesAction>,
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Subcommand)]
pub enum ProfilesAction {
    /// Print a profile with its includes resolved, every key with its reason. The YAML is
    /// itself a profile: save it and pass it to `plan --file`.
    Show {
        /// Profile name (built in or in the profile directory).
        name: String,
        /// Format for standard output.
        #[arg(short = 'o', long = "format", value_enum, default_value_t = DocFormat::Yaml)]
        format: DocFormat,
    },
    /// Compare two profiles key by key, each with its includes resolved. Exit 0 when they
    /// set the same values, 1 when they differ.
    Diff {
        /// The first profile (name).
        a: String,
        /// The second profile (name).
        b: String,
        /// Format for standard output.
        #[arg(short = 'o', long = "format", value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

/// Which profile to use: a name, or a YAML file (for apply, also `--boot`: the saved one).
#[derive(Debug, Args, Clone)]
#[group(id = "profile-source", required = true, multiple = false)]
pub struct ProfileSelector {
    /// Profile name, e.g. latency-profile (see `hostperf profiles`).
    #[arg(value_name = "PROFILE")]
    pub name: Option<String>,
    /// Load the profile from this YAML file instead of by name.
    #[arg(long, value_name = "PATH", conflicts_with = "name")]
    pub file: Option<PathBuf>,
}

/// Running processes the `ulimits` section is about. Each command words the flags' help
/// for what it does with them (`mut_arg` below).
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// Also cover the limits of this running process (repeatable).
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// Also cover the limits of every process with this name (as in /proc/PID/comm),
    /// repeatable.
    #[arg(long = "process", value_name = "NAME")]
    pub processes: Vec<String>,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("pids", |a| a.help("Also show the ulimit changes for this running process (repeatable)")),
    mut_arg("processes", |a| a.help("Also show the ulimit changes for every process with this name (as in /proc/PID/comm), repeatable")),
)]
pub struct PlanArgs {
    #[command(flatten)]
    pub profile: ProfileSelector,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Also write the plan to a file, as FORMAT=PATH (repeatable), e.g. json=plan.json.
    #[arg(long = "output", value_name = "FORMAT=PATH", value_parser = parse_list_target)]
    pub outputs: Vec<(ListFormat, PathBuf)>,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("pids", |a| a.help("Also change the ulimits of this running process live, with prlimit (repeatable)")),
    mut_arg("processes", |a| a.help("Also change the ulimits of every process with this name (as in /proc/PID/comm) live, repeatable")),
)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub profile: ProfileSelector,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Print the plan and write nothing; exit 2 (with the reasons on stderr) when apply
    /// would be refused.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write the settings where they survive a reboot (/etc/sysctl.d, limits.d, systemd).
    #[arg(long)]
    pub persist: bool,
    /// Apply even though an earlier apply was interrupted (its changes may still be in
    /// place; `hostperf rollback` restores them first).
    #[arg(long)]
    pub force: bool,
    /// With --persist: write LimitXXX= drop-ins for these systemd units instead of the
    /// system-wide DefaultLimitXXX= (repeatable).
    #[arg(long = "unit", value_name = "UNIT", requires = "persist")]
    pub units: Vec<String>,
    /// Apply the profile `apply --persist` saved (/etc/hostperf/applied.yaml), planned
    /// again on the host as it is now: what hostperf-apply.service runs at boot. Interfaces
    /// not present are left for the udev rule; an interrupted earlier apply does not stop
    /// it. Waits up to 60 s for another apply to finish.
    #[arg(
        long,
        group = "profile-source",
        conflicts_with_all = ["persist", "units", "pids", "processes"]
    )]
    pub boot: bool,
    /// With --boot: only this interface's settings, what hostperf-iface@NAME.service runs
    /// when the interface appears (started by the udev rule 90-hostperf.rules).
    #[arg(long, value_name = "NAME", requires = "boot")]
    pub iface: Option<String>,
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Also write what was changed (with --dry-run: the plan) to a file, as FORMAT=PATH
    /// (repeatable), e.g. json=apply.json.
    #[arg(long = "output", value_name = "FORMAT=PATH", value_parser = parse_list_target)]
    pub outputs: Vec<(ListFormat, PathBuf)>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("pids", |a| a.help("Also check the ulimits of this running process (repeatable)")),
    mut_arg("processes", |a| a.help("Also check the ulimits of every process with this name (as in /proc/PID/comm), repeatable")),
)]
pub struct CheckArgs {
    #[command(flatten)]
    pub profile: ProfileSelector,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = CheckFormat::Table)]
    pub format: CheckFormat,
    /// Also write a report to a file, as FORMAT=PATH (repeatable), e.g. junit=check.xml.
    #[arg(long = "output", value_name = "FORMAT=PATH", value_parser = parse_report_target)]
    pub outputs: Vec<(CheckFormat, PathBuf)>,
    /// Show only the settings that fail or could not be evaluated (table and JSON on
    /// standard output; the summary and the --output files still cover every setting).
    #[arg(long)]
    pub failures_only: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Snapshot id (see --list); the latest when omitted.
    pub id: Option<String>,
    /// List the snapshots instead of restoring one.
    #[arg(long, conflicts_with = "id")]
    pub list: bool,
    /// Remove snapshot ID without restoring it: for one that can never be restored (damaged,
    /// its interfaces gone). Prints what it recorded.
    #[arg(long, value_name = "ID", conflicts_with_all = ["id", "list", "force"])]
    pub forget: Option<String>,
    /// Restore settings even where someone changed them after the apply, or in another
    /// network namespace than the apply's.
    #[arg(long)]
    pub force: bool,
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// Output format.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Sysctl names; without any, every key the built-in profiles use.
    pub keys: Vec<String>,
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// Seconds between the two samples; 0 takes one sample and skips rate-based checks.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub interval: f64,
    /// Read kernel log messages from this long before the last sample (e.g. 30s, 10m, 2h,
    /// 1d) instead of from the interval's start only.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Run only this check (repeatable). Ids: port-exhaustion, listen-overflow, syn-flood,
    /// tcp-retransmits, tcp-memory, udp-errors, conntrack, nic-drops, softirq-imbalance,
    /// softnet-drops, cpu-saturation, cpu-throttling, memory-pressure, memory-fragmentation,
    /// oom-kills, fd-exhaustion, socket-leak, io-wait, clock.
    #[arg(long = "check", value_name = "ID")]
    pub checks: Vec<String>,
    /// Focus process checks on this pid (repeatable).
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// Focus process checks on processes with this name (repeatable).
    #[arg(long = "process", value_name = "NAME")]
    pub processes: Vec<String>,
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = DiagnoseFormat::Table)]
    pub format: DiagnoseFormat,
    /// Also write a report to a file, as FORMAT=PATH (repeatable), e.g. prometheus=/var/lib/node_exporter/hostperf.prom.
    #[arg(long = "output", value_name = "FORMAT=PATH", value_parser = parse_diagnose_target)]
    pub outputs: Vec<(DiagnoseFormat, PathBuf)>,
    /// Exit 1 when any finding is at or above this status.
    #[arg(long, value_enum, default_value_t = FailOn::Crit)]
    pub fail_on: FailOn,
    /// Threshold overrides (YAML); see docs/diagnose.md.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Diagnose a capture made by `hostperf snapshot` instead of this host.
    #[arg(long, value_name = "FILE.tar.gz", conflicts_with = "root")]
    pub from: Option<PathBuf>,
    /// Also probe this http:// or https:// URL from this host (repeatable) and add the
    /// upstream-timeout and, for https, tls-handshake findings; see `hostperf probe`.
    #[arg(long = "url", value_name = "URL", conflicts_with = "from")]
    pub urls: Vec<String>,
    /// Repeat every --interval until interrupted (Ctrl-C), like `watch`: on a terminal each
    /// report replaces the last; in a pipe they follow one another (with -o json, one JSON
    /// document each). --output files are rewritten each time. Stops when standard output
    /// is closed, with the last report's exit status.
    #[arg(long, conflicts_with = "from")]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// The archive to write: a name ending in .tar.gz or .tgz; written mode 0600 (it holds
    /// process names and kernel log lines).
    #[arg(value_name = "FILE.tar.gz")]
    pub file: PathBuf,
    /// Seconds between the two samples.
    #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
    pub interval: f64,
    /// Keep kernel log messages from this long before the last sample (default 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub since: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 every request succeeded (within --fail-over); 1 a request \
failed or a median total is over --fail-over; 2 usage error. See docs/probe.md."
)]
pub struct ProbeArgs {
    /// http:// or https:// URLs, probed one after the other.
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,
    /// Requests per URL in each series (new connections, kept-alive).
    #[arg(short = 'n', long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::probe::options::MAX_COUNT)))]
    pub count: u32,
    /// Least time between the starts of two requests, seconds.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS", value_parser = parse_non_negative)]
    pub interval: f64,
    /// Requests in flight at once.
    #[arg(short = 'c', long, default_value_t = 1, value_name = "N")]
    pub concurrency: u32,
    /// Budget for one request, all phases together, seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = parse_non_negative)]
    pub timeout: f64,
    /// Speak HTTP/1.1 only (ALPN offers only http/1.1).
    #[arg(long = "http1.1", conflicts_with = "http2")]
    pub http1: bool,
    /// Speak HTTP/2 only: ALPN h2 over TLS (fails when the server does not pick it), prior
    /// knowledge over http://.
    #[arg(long)]
    pub http2: bool,
    /// Which connections to time: a new one per request, kept-alive ones, or both side by side.
    #[arg(long, value_enum, default_value_t = ProbeConnections::Both)]
    pub connections: ProbeConnections,
    /// Send HEAD instead of GET.
    #[arg(long)]
    pub head: bool,
    /// Trust only the CA certificates in this PEM file instead of the system bundle.
    #[arg(long, value_name = "PATH")]
    pub cacert: Option<PathBuf>,
    /// Server name for SNI and the certificate check instead of the URL's host.
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Connect to ADDR for HOST:PORT without a DNS lookup, like curl (repeatable).
    #[arg(long, value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Send the request even when the certificate fails verification (still reported).
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Exit 1 when the median total of a series is over this many milliseconds.
    #[arg(long, value_name = "MS", value_parser = parse_non_negative)]
    pub fail_over: Option<f64>,
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = ProbeFormat::Table)]
    pub format: ProbeFormat,
    /// Also write a report to a file, as FORMAT=PATH (repeatable), e.g. prometheus=probe.prom.
    #[arg(long = "output", value_name = "FORMAT=PATH", value_parser = parse_probe_target)]
    pub outputs: Vec<(ProbeFormat, PathBuf)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeConnections {
    New,
    Reused,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeFormat {
    Table,
    Json,
    Prometheus,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Profile name [default: latency-profile].
    #[arg(value_name = "PROFILE")]
    pub name: Option<String>,
    /// Load the profile from this YAML file instead of by name.
    #[arg(long, value_name = "PATH", conflicts_with = "name")]
    pub file: Option<PathBuf>,
    /// Run only this scenario (repeatable): port-exhaustion, accept-burst, bufferbloat,
    /// keepalive, nodelay, busy-poll. All by default.
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Seconds measured per run (each scenario runs each variant twice: baseline, profile).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = parse_seconds)]
    pub duration: f64,
    /// Seconds of load before measuring starts (not recorded).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS", value_parser = parse_warmup)]
    pub warmup: f64,
    /// Offered requests per second, for every scenario [default: each scenario's own].
    #[arg(long, value_name = "RPS", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Apply only this setting of the profile (repeatable), to see what one key does.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Start every testbed namespace from this per-namespace sysctl (repeatable), e.g.
    /// --sysctl net.core.somaxconn=128; the profile is then applied over it.
    #[arg(long = "sysctl", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub sysctls: Vec<(String, String)>,
    /// Format for standard output.
    #[arg(short = 'o', long = "format", value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    /// Also write the report to a file, as FORMAT=PATH (repeatable), e.g. json=bench.json.
    #[arg(long = "output", value_name = "FORMAT=PATH", value_parser = parse_list_target)]
    pub outputs: Vec<(ListFormat, PathBuf)>,
    /// Write a latency percentile plot per scenario (NAME.svg and NAME.png) into DIR.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Run only the bench HTTP server on ADDR in the current namespace until interrupted
    /// (for comparing the generator with other tools; see bench/loadgen-vs-wrk.sh).
    #[arg(long, value_name = "ADDR", hide = true, conflicts_with = "target")]
    pub serve: Option<std::net::SocketAddrV4>,
    /// Run only the load generator against ADDR (keep-alive, --rate, --duration,
    /// --connections) and print its result.
    #[arg(long, value_name = "ADDR", hide = true)]
    pub target: Option<std::net::SocketAddrV4>,
    /// With --target: connections (workers).
    #[arg(long, default_value_t = 16, hide = true)]
    pub connections: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DocFormat {
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
    Junit,
    Prometheus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnoseFormat {
    Table,
    Json,
    Yaml,
    Prometheus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum FailOn {
    Warn,
    Crit,
}

fn parse_report_target(s: &str) -> Result<(CheckFormat, PathBuf), String> {
    parse_target(s)
}

fn parse_list_target(s: &str) -> Result<(ListFormat, PathBuf), String> {
    parse_target(s)
}

fn parse_diagnose_target(s: &str) -> Result<(DiagnoseFormat, PathBuf), String> {
    parse_target(s)
}

/// A duration such as `90`, `30s`, `10m`, `2h` or `1d` (at most 30 days).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("expected a duration such as 30s, 10m, 2h or 1d, got {s:?}"))?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86400),
        _ => None,
    }
    .filter(|&v| v <= 30 * 86400)
    .ok_or_else(|| {
        format!("expected a duration up to 30d such as 30s, 10m, 2h or 1d, got {s:?}")
    })?;
    Ok(std::time::Duration::from_secs(secs))
}

fn parse_probe_target(s: &str) -> Result<(ProbeFormat, PathBuf), String> {
    parse_target(s)
}

/// A non-negative, finite number (seconds or milliseconds).
fn parse_non_negative(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && (0.0..=86_400_000.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s:?} must be a number from 0 to 86400000"))
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
    let (k, v) = (k.trim(), v.trim());
    if k.is_empty() || v.is_empty() {
        return Err(format!("expected KEY=VALUE, got {s:?}"));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_bounded(s: &str, lo: f64, hi: f64, what: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("expected a number of {what}, got {s:?}"))?;
    if !(lo..=hi).contains(&v) {
        return Err(format!("{what} must be between {lo} and {hi}, got {v}"));
    }
    Ok(v)
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    parse_bounded(s, 0.1, 3600.0, "seconds")
}

fn parse_warmup(s: &str) -> Result<f64, String> {
    parse_bounded(s, 0.0, 600.0, "seconds")
}

fn parse_rate(s: &str) -> Result<f64, String> {
    parse_bounded(s, 0.1, 1_000_000.0, "requests per second")
}

fn parse_target<F: ValueEnum>(s: &str) -> Result<(F, PathBuf), String> {
    let (format, path) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FORMAT=PATH, got {s:?}"))?;
    let format = F::from_str(format, true).map_err(|_| {
        let known: Vec<String> = F::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_string()))
            .collect();
        format!("unknown format {format:?}; known: {}", known.join(", "))
    })?;
    if path.is_empty() {
        return Err(format!("no path after '=' in {s:?}"));
    }
    Ok((format, PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn report_targets_parse() {
        let (f, p) = parse_report_target("junit=out/check.xml").unwrap();
        assert_eq!(f, CheckFormat::Junit);
        assert_eq!(p, PathBuf::from("out/check.xml"));
        assert!(parse_report_target("xml=out").is_err());
        assert!(parse_report_target("json=").is_err());
        assert!(parse_report_target("json").is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("10m").unwrap().as_secs(), 600);
        assert_eq!(parse_duration("2h").unwrap().as_secs(), 7200);
        assert_eq!(parse_duration("1d").unwrap().as_secs(), 86400);
        assert!(parse_duration("31d").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
    }
}
