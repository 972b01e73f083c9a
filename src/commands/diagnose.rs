//! `hostperf diagnose`: sample the host (or read a capture), evaluate the checks, render,
//! pick the exit code.

use crate::cli::{DiagnoseArgs, DiagnoseFormat, FailOn, Global};
use crate::diagnose::{
    self, LogWindow, capture, config, model::Status, render, sample::Focus, source::Files,
};
use std::borrow::Cow;

use crate::diagnose::model::Finding;
use crate::exit::UsageError;
use crate::probe::finding::{self, FindingStatus};
use crate::probe::options::{ConnectionMode, ProbeOptions};
use crate::report::{self, Style};

use super::host;

pub(crate) fn format(f: DiagnoseFormat) -> render::Format {
    match f {
        DiagnoseFormat::Table => render::Format::Table,
        DiagnoseFormat::Json => render::Format::Json,
        DiagnoseFormat::Yaml => render::Format::Yaml,
        DiagnoseFormat::Prometheus => render::Format::Prometheus,
    }
}

pub fn run(g: &Global, args: &DiagnoseArgs) -> anyhow::Result<u8> {
    let interval = diagnose::check_interval(args.interval)?;
    let selected = diagnose::select(&args.checks)?;
    let cfg = config::load(args.config.as_deref())?;
    let focus = Focus {
        pids: args.pids.clone(),
        names: args.processes.clone(),
    };
    let window = LogWindow {
        lookback: args.since,
    };
    let (first, last, source) = match &args.from {
        Some(from) => {
            let cap = capture::open(from).map_err(UsageError::new)?;
            let two = cap.samples.len() > 1;
            let mut needs = diagnose::needs_of(&selected, two, &cfg);
            needs.procs |= !focus.is_empty();
            let (first, last) = diagnose::capture_samples(&cap, &needs, &focus, window);
            (first, last, format!("capture:{}", from.display()))
        }
        None => {
            let host = host(g);
            let source = match &g.root {
                Some(root) => format!("root:{}", root.display()),
                None => "live".to_string(),
            };
            check_focus(&host, &focus)?;
            let needs = diagnose::needs_of(&selected, !interval.is_zero(), &cfg);
            let (first, last) = diagnose::take_samples(&host, &needs, &focus, interval, window);
            (first, last, source)
        }
    };
    if let Some(procs) = &last.procs
        && args.from.is_some()
    {
        let missing = diagnose::missing_focus(&focus, procs);
        if !missing.is_empty() {
            return Err(UsageError::new(format!(
                "{} in the capture",
                missing.join("; ")
            )));
        }
    }
    let mut report = diagnose::evaluate(&selected, first.as_ref(), &last, &cfg, &focus, source);
    report.findings.extend(probe_findings(&args.urls)?);
    for (f, path) in &args.outputs {
        report::write_file(path, &render::render(&report, format(*f), Style::FILE)?)?;
    }
    report::print(&render::render(
        &report,
        format(args.format),
        Style::stdout(),
    )?)?;
    let fail_on = match args.fail_on {
        FailOn::Warn => Status::Warn,
        FailOn::Crit => Status::Crit,
    };
    Ok(diagnose::exit_code(&report, fail_on))
}

/// `--url`: probes each URL (three requests on new connections, as `hostperf probe -n 3
/// --connections new` would) and turns the probe's verdicts into findings beside the
/// host's own. A malformed URL is a usage error before anything is sent.
fn probe_findings(urls: &[String]) -> anyhow::Result<Vec<Finding>> {
    if urls.is_empty() {
        return Ok(Vec::new());
    }
    let opts = ProbeOptions {
        urls: urls.to_vec(),
        count: 3,
        connections: ConnectionMode::New,
        ..ProbeOptions::default()
    };
    let probed = crate::probe::run(&opts)?;
    let mut out = Vec::new();
    for target in &probed.targets {
        for pf in finding::findings(target) {
            let Some(words) = finding::row_words(pf.id) else {
                continue;
            };
            let mut notes: Vec<String> = vec![format!("probed {}", target.url)];
            notes.extend(pf.evidence);
            out.push(Finding {
                id: pf.id,
                title: words.title,
                status: match pf.status {
                    FindingStatus::Pass => Status::Pass,
                    FindingStatus::Warn => Status::Warn,
                    FindingStatus::Crit => Status::Crit,
                    FindingStatus::Error => Status::Error,
                },
                partial: None,
                summary: format!("{}: {}", target.url, pf.summary),
                symptom: words.symptom,
                question: words.question,
                observed: Vec::new(),
                evidence: Vec::new(),
                kernel_log: Vec::new(),
                confirm: Cow::Owned(pf.confirm),
                log: Cow::Borrowed(words.log),
                remediation: Cow::Owned(pf.remedy),
                notes,
            });
        }
    }
    Ok(out)
}

/// A `--pid` or `--process` that names no process is a usage error, before any sampling.
fn check_focus(files: &dyn Files, focus: &Focus) -> anyhow::Result<()> {
    if focus.is_empty() {
        return Ok(());
    }
    let needs = diagnose::sample::Needs {
        procs: true,
        ..Default::default()
    };
    let procs = diagnose::procs::collect(
        &diagnose::source::Reader {
            files,
            errors: Default::default(),
        },
        &needs,
        &Focus::default(),
    );
    let missing = diagnose::missing_focus(focus, &procs);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(UsageError::new(missing.join("; ")))
    }
}
