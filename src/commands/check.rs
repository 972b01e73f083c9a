//! `hostperf check`: does the host match a profile?

use crate::check::CheckReport;
use crate::cli::*;
use crate::plan::{Plan, Purpose};
use crate::report;

use super::{deliver, host, load_profile, targets, tell};

pub fn run(g: &Global, args: &CheckArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let mut plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Check)?;
    crate::rules::apply(&host, &profile, &mut plan);
    super::plan::log_decisions(&plan);
    let report = CheckReport::from_plan(&plan, host.root());
    let shown = if args.failures_only {
        report.failures_only()
    } else {
        report.clone()
    };
    for (format, path) in &args.outputs {
        report::write_file(
            path,
            &report::check::render(&report, *format, report::Style::FILE),
        )?;
    }
    deliver(args.format, &[], |format, style| {
        Ok(report::check::render(&shown, format, style))
    })?;
    tell(&report.warnings, &[]);
    Ok(report.exit_code())
}
