//! `hostperf plan`: what applying a profile would change.

use crate::cli::*;
use crate::exit;
use crate::plan::{Plan, Purpose};
use crate::report::{self, plan as tables};

use super::{host, interrupted_warnings, journal, load_profile, targets};

pub fn run(g: &Global, args: &PlanArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let mut plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Apply)?;
    crate::rules::apply(&host, &profile, &mut plan);
    plan.warnings.extend(interrupted_warnings(&journal(g)));
    report::print(&match args.format {
        ListFormat::Table => tables::plan_table(&plan, &[]),
        ListFormat::Json => report::json(&plan),
    })?;
    Ok(exit::OK)
}
