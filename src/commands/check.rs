//! `hostperf check`: does the host match a profile?

use crate::check::CheckReport;
use crate::cli::*;
use crate::plan::{Plan, Purpose};
use crate::report;

use super::{host, load_profile, targets};

pub fn run(g: &Global, args: &CheckArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let mut plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Check)?;
    crate::rules::apply(&host, &profile, &mut plan);
    let report = CheckReport::from_plan(&plan, host.root());
    for (format, path) in &args.outputs {
        report::write_file(
            path,
            &report::check::render(&report, *format, report::Style::FILE),
        )?;
    }
    report::print(&report::check::render(
        &report,
        args.format,
        report::Style::stdout(),
    ))?;
    Ok(report.exit_code())
}
