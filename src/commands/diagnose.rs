//! `hostperf diagnose`: sample the host (or read a capture), evaluate the checks, render,
//! pick the exit code.

use crate::cli::{DiagnoseArgs, DiagnoseFormat, FailOn, Global};
use crate::diagnose::{
    self, LogWindow, capture, config, model::Status, render, sample::Focus, source::Files,
};
use crate::exit::UsageError;
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
    let report = diagnose::evaluate(&selected, first.as_ref(), &last, &cfg, &focus, source);
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
