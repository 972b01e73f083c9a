//! `hostperf recommend`: the profile that fits this host, why, and the plan of applying it.

use serde::Serialize;

use crate::cli::*;
use crate::exit;
use crate::plan::{Plan, Purpose, Targets};
use crate::profile::Catalog;
use crate::profile::facts::HostFacts;
use crate::recommend::{self, Recommendation, Signals};
use crate::report;

use super::host;

#[derive(Serialize)]
struct Output<'a> {
    recommendation: &'a Recommendation,
    facts: &'a HostFacts,
    signals: &'a Signals,
    plan: &'a Plan,
}

pub fn run(g: &Global, args: &RecommendArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let facts = HostFacts::read(&host);
    let signals = Signals::read(&host);
    let choice = recommend::decide(&facts, &signals);
    let profile = Catalog::new("/nonexistent").compose("recommended", &choice.includes())?;
    let mut plan = Plan::build(&host, &profile, &Targets::default(), Purpose::Apply)?;
    crate::rules::apply(&host, &profile, &mut plan);
    report::print(&match args.format {
        ListFormat::Table => report::recommend::recommend_text(&choice, &plan),
        ListFormat::Json => report::json(&Output {
            recommendation: &choice,
            facts: &facts,
            signals: &signals,
            plan: &plan,
        }),
    })?;
    Ok(exit::OK)
}
