//! The text of `hostperf recommend`: the choice, the facts behind it, then the plan.

use crate::plan::Plan;
use crate::recommend::Recommendation;

use super::Style;
use super::table::{Cell, Grid, Role, prose};

/// The choice, a FACT / THIS HOST / DECISION table, the add-ons worth considering, and
/// the plan of applying the choice, laid out for `style`.
pub fn recommend_text(r: &Recommendation, plan: &Plan, style: Style) -> String {
    let mut t = Grid::new(&[
        ("FACT", Role::Name),
        ("THIS HOST", Role::Value),
        ("DECISION", Role::Detail),
    ]);
    for reason in &r.reasons {
        t.row(vec![
            Cell::from(&reason.fact),
            Cell::from(&reason.value),
            Cell::from(&reason.decision),
        ]);
    }
    let mut out = format!("recommended: {}\n\n", r.includes().join(" + "));
    out.push_str(&t.render(style));
    out.push('\n');
    for note in &r.notes {
        out.push_str(&prose(&format!("also consider {note}\n"), style));
    }
    let apply = if r.add_ons.is_empty() {
        format!("hostperf apply {}", r.profile)
    } else {
        format!(
            "a profile with `include: [{}]`, then hostperf apply --file it",
            r.includes().join(", ")
        )
    };
    out.push_str(&prose(
        &format!("\nThe plan of applying it ({apply}):\n\n"),
        style,
    ));
    out.push_str(&super::plan::plan_table(plan, style));
    out
}
