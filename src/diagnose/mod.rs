//! `hostperf diagnose` and `hostperf snapshot`.
//!
//! Layers, as in below: `sample` reads raw bytes through the Host seam (plus the inet_diag
//! socket dump and the kernel log, which are not files), `checks` are pure functions of one
//! or two samples that return `model::Finding`s, and `render` turns a report into text.
//! `snapshot` stores the two samples in a .tar.gz; `diagnose --from` reads them back through
//! the same sampler, so a capture gives the same findings on another machine.

pub mod checks;
pub mod config;
pub mod model;
pub mod render;
pub mod sample;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::cli::{DiagnoseArgs, DiagnoseFormat, FailOn, Global, SnapshotArgs};
use crate::exit::{self, UsageError};
use crate::host::Host;
use crate::report::Style;
use checks::{Check, Ctx};
use model::{Report, SCHEMA_VERSION, Status};
use sample::{Focus, Needs, Sample};

/// The archive's table of contents.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema_version: u32,
    pub kind: String,
    pub hostperf_version: String,
    /// Seconds between sample0 and sample1 (0 when there is one sample).
    pub interval_secs: f64,
    pub samples: Vec<String>,
    #[serde(default)]
    pub kernel: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub created_unix: Option<u64>,
}

const MANIFEST: &str = "manifest.json";
const SNAPSHOT_KIND: &str = "hostperf-snapshot";

/// The checks named by `--check` (all when none), or a usage error listing the ids.
pub fn select(ids: &[String]) -> anyhow::Result<Vec<&'static Check>> {
    let all = checks::all();
    if ids.is_empty() {
        return Ok(all);
    }
    let mut out = Vec::new();
    for id in ids {
        match all.iter().find(|c| c.info.id == id) {
            Some(c) => {
                if !out.iter().any(|o: &&Check| o.info.id == c.info.id) {
                    out.push(*c);
                }
            }
            None => {
                return Err(UsageError::new(format!(
                    "unknown check {id:?}; known checks: {}",
                    checks::ids().join(", ")
                )));
            }
        }
    }
    Ok(out)
}

fn needs_of(selected: &[&Check]) -> Needs {
    let mut n = Needs::default();
    for c in selected {
        n.merge(&(c.needs)());
    }
    n
}

fn check_interval(secs: f64) -> anyhow::Result<Duration> {
    if !secs.is_finite() || !(0.0..=3600.0).contains(&secs) {
        return Err(UsageError::new(format!(
            "--interval must be between 0 and 3600 seconds, got {secs}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// What `snapshot` captures: everything every check reads, with the full socket dump.
pub fn snapshot_needs() -> Needs {
    let mut needs = needs_of(&checks::all());
    needs.lazy_port_states = None;
    needs
}

/// Reads the samples of a snapshot archive (or its unpacked directory).
pub fn load_capture(
    from: &Path,
    needs: &Needs,
    focus: &Focus,
) -> anyhow::Result<(Option<Sample>, Sample)> {
    Capture::open(from)?.samples(needs, focus)
}

/// One sample, or two `interval` apart.
pub fn take_samples(
    host: &Host,
    needs: &Needs,
    focus: &Focus,
    interval: Duration,
) -> (Option<Sample>, Sample) {
    let start = Instant::now();
    let s0 = sample::collect(host, needs, focus, start);
    if interval.is_zero() {
        return (None, s0);
    }
    std::thread::sleep(interval);
    let s1 = sample::collect(host, needs, focus, start);
    (Some(s0), s1)
}

/// Evaluates the selected checks over the samples.
pub fn evaluate(
    selected: &[&Check],
    first: Option<&Sample>,
    last: &Sample,
    cfg: &config::Config,
    focus: &Focus,
    source: String,
) -> Report {
    let secs = first.map_or(0.0, |f| (last.secs - f.secs).max(0.0));
    // Two samples with no time between them (a static tree read twice) measure no rate.
    let first = first.filter(|_| secs > 0.0);
    let ctx = Ctx {
        first,
        last,
        secs,
        cfg,
        focus,
    };
    Report {
        schema_version: SCHEMA_VERSION,
        hostperf_version: env!("CARGO_PKG_VERSION"),
        source,
        interval_secs: if first.is_some() { secs } else { 0.0 },
        findings: selected.iter().map(|c| checks::evaluate(c, &ctx)).collect(),
    }
}

/// The exit code for a report: 1 when a finding is at or above `fail_on`, else 3 when a check
/// could not be evaluated, else 0.
pub fn exit_code(report: &Report, fail_on: FailOn) -> u8 {
    let failing = |s: Status| match fail_on {
        FailOn::Warn => matches!(s, Status::Warn | Status::Crit),
        FailOn::Crit => s == Status::Crit,
    };
    if report.findings.iter().any(|f| failing(f.status)) {
        exit::FAILED
    } else if report.findings.iter().any(|f| f.status == Status::Error) {
        exit::NOT_EVALUATED
    } else {
        exit::OK
    }
}

pub fn render(report: &Report, format: DiagnoseFormat, style: Style) -> anyhow::Result<String> {
    Ok(match format {
        DiagnoseFormat::Table => render::table(report, style),
        DiagnoseFormat::Json => crate::report::json(report),
        DiagnoseFormat::Yaml => render::yaml(report)?,
        DiagnoseFormat::Prometheus => render::prometheus(report),
    })
}

pub fn run(global: &Global, args: &DiagnoseArgs) -> anyhow::Result<u8> {
    let interval = check_interval(args.interval)?;
    let selected = select(&args.checks)?;
    let cfg = config::load(args.config.as_deref())?;
    let focus = Focus {
        pids: args.pids.clone(),
        names: args.processes.clone(),
    };
    let mut needs = needs_of(&selected);
    if let Some((states, _)) = needs.lazy_port_states {
        needs.lazy_port_states = Some((states, cfg.port_exhaustion.warn_pct / 100.0));
    }
    let (first, last, source) = match &args.from {
        Some(from) => {
            let capture = Capture::open(from)?;
            let (first, last) = capture.samples(&needs, &focus)?;
            (first, last, format!("capture:{}", from.display()))
        }
        None => {
            let (host, source) = match &global.root {
                Some(root) => (Host::with_root(root), format!("root:{}", root.display())),
                None => (Host::live(), "live".to_string()),
            };
            let (first, last) = take_samples(&host, &needs, &focus, interval);
            (first, last, source)
        }
    };
    let report = evaluate(&selected, first.as_ref(), &last, &cfg, &focus, source);
    for (format, path) in &args.outputs {
        crate::report::write_file(path, &render(&report, *format, Style::FILE)?)?;
    }
    let text = render(&report, args.format, Style::stdout())?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(exit_code(&report, args.fail_on))
}

/// A snapshot archive (or its unpacked directory) opened for reading.
struct Capture {
    dir: PathBuf,
    _temp: Option<TempDir>,
    manifest: Manifest,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl Capture {
    fn open(from: &Path) -> anyhow::Result<Capture> {
        let (dir, temp) = if from.is_dir() {
            (from.to_path_buf(), None)
        } else {
            let file = fs::File::open(from)
                .map_err(|e| UsageError::new(format!("--from {}: {e}", from.display())))?;
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir()
                .join(format!("hostperf-capture-{}-{nanos}", std::process::id()));
            fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
            let temp = TempDir(dir.clone());
            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
            archive.set_preserve_permissions(false);
            archive.set_overwrite(true);
            archive.unpack(&dir).map_err(|e| {
                UsageError::new(format!(
                    "--from {}: not a readable .tar.gz: {e}",
                    from.display()
                ))
            })?;
            (dir, Some(temp))
        };
        let manifest: Manifest = fs::read(dir.join(MANIFEST))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|m: &Manifest| m.kind == SNAPSHOT_KIND)
            .ok_or_else(|| {
                UsageError::new(format!(
                    "--from {}: no {MANIFEST} of a hostperf snapshot",
                    from.display()
                ))
            })?;
        if manifest.schema_version > SCHEMA_VERSION {
            return Err(UsageError::new(format!(
                "--from {}: snapshot schema {} is newer than this hostperf's {SCHEMA_VERSION}",
                from.display(),
                manifest.schema_version
            )));
        }
        Ok(Capture {
            dir,
            _temp: temp,
            manifest,
        })
    }

    fn samples(&self, needs: &Needs, focus: &Focus) -> anyhow::Result<(Option<Sample>, Sample)> {
        let start = Instant::now();
        let mut samples: Vec<Sample> = self
            .manifest
            .samples
            .iter()
            .filter(|s| !s.contains('/') && !s.contains(".."))
            .map(|s| sample::collect(&Host::with_root(self.dir.join(s)), needs, focus, start))
            .collect();
        let last = samples
            .pop()
            .ok_or_else(|| UsageError::new("the snapshot holds no sample"))?;
        Ok((samples.pop(), last))
    }
}

pub fn snapshot(global: &Global, args: &SnapshotArgs) -> anyhow::Result<u8> {
    let interval = check_interval(args.interval)?;
    let host = match &global.root {
        Some(root) => Host::with_root(root),
        None => Host::live(),
    };
    let needs = snapshot_needs();
    let focus = Focus::default();
    let (first, last) = take_samples(&host, &needs, &focus, interval);
    let mut samples: Vec<&Sample> = Vec::new();
    if let Some(f) = &first {
        samples.push(f);
    }
    samples.push(&last);
    let trim = |b: Vec<u8>| String::from_utf8_lossy(&b).trim().to_string();
    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        kind: SNAPSHOT_KIND.to_string(),
        hostperf_version: env!("CARGO_PKG_VERSION").to_string(),
        interval_secs: first.as_ref().map_or(0.0, |f| last.secs - f.secs),
        samples: (0..samples.len()).map(|i| format!("sample{i}")).collect(),
        kernel: host.read("/proc/sys/kernel/osrelease").ok().map(trim),
        hostname: host.read("/proc/sys/kernel/hostname").ok().map(trim),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs()),
    };
    let bytes = write_archive(&manifest, &samples)?;
    crate::host::write_durably(&args.file, &bytes)
        .with_context(|| format!("cannot write {}", args.file.display()))?;
    eprintln!(
        "hostperf: wrote {} ({} samples, {:.2} s apart)",
        args.file.display(),
        samples.len(),
        manifest.interval_secs
    );
    Ok(exit::OK)
}

/// The .tar.gz: manifest.json, then sample0/ and sample1/ trees.
pub fn write_archive(manifest: &Manifest, samples: &[&Sample]) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    sample::add_file(&mut tar, MANIFEST, &serde_json::to_vec_pretty(manifest)?)?;
    for (i, s) in samples.iter().enumerate() {
        s.append_to(&mut tar, &format!("sample{i}"))?;
    }
    let gz = tar.into_inner()?;
    Ok(gz.finish()?)
}
