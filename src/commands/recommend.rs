//! `hostperf recommend`: the profile that fits this host, why, and the plan of applying it.

use crate::cli::*;
use crate::exit;
use crate::plan::{Plan, Purpose, Targets};
use crate::profile::Catalog;
use crate::profile::facts::HostFacts;
use crate::recommend::{self, Signals};
use crate::report::doc::{self, PlanDoc, RecommendDoc};
use crate::report::{self, Style};

use super::{host, tell};

pub fn run(g: &Global, args: &RecommendArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let facts = HostFacts::read(&host);
    let signals = Signals::read(&host);
    let choice = recommend::decide(&facts, &signals);
    tracing::info!(profile = %choice.profile, add_ons = ?choice.add_ons, "recommended");
    let profile = Catalog::new("/nonexistent").compose("recommended", &choice.includes())?;
    let mut plan = Plan::build(&host, &profile, &Targets::default(), Purpose::Apply)?;
    crate::rules::apply(&host, &profile, &mut plan);
    super::plan::log_decisions(&plan);
    report::print(&match args.format {
        ListFormat::Table => report::recommend::recommend_text(&choice, &plan, Style::stdout()),
        ListFormat::Json => report::json(&RecommendDoc {
            schema_version: doc::SCHEMA_VERSION,
            recommendation: &choice,
            facts: &facts,
            signals: &signals,
            plan: PlanDoc::new(&plan, Vec::new(), &[]),
        }),
    })?;
    tell(&plan.warnings, &[]);
    Ok(exit::OK)
}
