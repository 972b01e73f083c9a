//! `hostperf plan`: what applying a profile would change.

use crate::cli::*;
use crate::exit;
use crate::host::Host;
use crate::plan::{Action, Plan, Purpose};
use crate::report::doc::PlanDoc;
use crate::report::{self, plan as tables};

use super::{deliver, host, interrupted_warnings, journal, load_profile, targets, tell};

pub fn run(g: &Global, args: &PlanArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let profile = load_profile(g, &args.profile)?;
    let mut plan = Plan::build(&host, &profile, &targets(&args.targets), Purpose::Apply)?;
    crate::rules::apply(&host, &profile, &mut plan);
    plan.warnings.extend(interrupted_warnings(&journal(g)));
    let notes: Vec<String> = without_root(&host, &mut plan).into_iter().collect();
    log_decisions(&plan);
    deliver(args.format, &args.outputs, |format, style| {
        Ok(match format {
            ListFormat::Table => tables::plan_table(&plan, style),
            ListFormat::Json => report::json(&PlanDoc::new(&plan, Vec::new(), &notes)),
        })
    })?;
    tell(&plan.warnings, &notes);
    // Like `apply --dry-run`: a plan that apply would refuse is a configuration error.
    let blocking = plan.blockers().count();
    if blocking > 0 {
        report::warn(format!(
            "apply would refuse {}: {blocking} setting(s) block it (the rows marked so above); nothing can be applied until the profile or the host changes",
            plan.profile
        ));
        return Ok(exit::USAGE);
    }
    Ok(exit::OK)
}

/// Run by a user other than root on a live host, the plan shows what apply (as root)
/// would change: rows blocked only because this user may not write them are changes, and
/// one note says that apply needs root. Rows whose value could not even be read stay
/// "needs privilege".
fn without_root(host: &Host, plan: &mut Plan) -> Option<String> {
    if !host.is_live() || rustix::process::geteuid().is_root() {
        return None;
    }
    for item in &mut plan.items {
        if matches!(item.action, Action::NeedsPrivilege(_)) && item.target.is_some() {
            tracing::debug!(setting = %item.setting, "writable by root only; shown as a change");
            item.action = Action::Change;
        }
    }
    let changes = plan.changes().count();
    (changes > 0).then(|| {
        format!(
            "apply needs root: only root may write {changes} of these settings (/proc/sys, network devices, limits); run `hostperf apply` with sudo"
        )
    })
}

/// `-v`: what was decided for each setting, and why.
pub(crate) fn log_decisions(plan: &Plan) {
    for item in &plan.items {
        tracing::info!(
            setting = %item.setting,
            current = %item.current.as_deref().unwrap_or("-"),
            desired = %item.desired,
            action = %item.action.label(),
            "decided"
        );
    }
}
