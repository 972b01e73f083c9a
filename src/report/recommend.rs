//! The text of `hostperf recommend`: the choice, the facts behind it, then the plan.

use std::fmt::Write as _;

use crate::plan::Plan;
use crate::recommend::Recommendation;

use super::{render, table};

pub fn recommend_text(r: &Recommendation, plan: &Plan) -> String {
    let mut t = table(&["FACT", "THIS HOST", "DECISION"]);
    for reason in &r.reasons {
        t.add_row(vec![
            reason.fact.as_str(),
            reason.value.as_str(),
            reason.decision.as_str(),
        ]);
    }
    let mut out = format!(
        "recommended: {}\n\n{}\n",
        r.includes().join(" + "),
        render(&t)
    );
    for note in &r.notes {
        let _ = writeln!(out, "also consider {note}");
    }
    let apply = if r.add_ons.is_empty() {
        format!("hostperf apply {}", r.profile)
    } else {
        format!(
            "a profile with `include: [{}]`, then hostperf apply --file it",
            r.includes().join(", ")
        )
    };
    let _ = writeln!(out, "\nThe plan of applying it ({apply}):\n");
    out.push_str(&super::plan::plan_table(plan, &[]));
    out
}
