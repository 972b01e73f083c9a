//! Rules across the rows of one plan, which no single knob can check on its own. Called by
//! plan, apply and check right after `Plan::build`.
//!
//! - A nofile hard limit above fs.nr_open is refused by the kernel (setrlimit and prlimit
//!   return EPERM even for root, fs/file.c `sysctl_nr_open`), and a persisted one makes
//!   pam_limits refuse logins. It blocks, unless the same profile raises fs.nr_open, which
//!   is then written before any limit.

use crate::host::Host;
use crate::host::rlimit::Resource;
use crate::host::sysctl::SysctlKey;
use crate::plan::{Action, Plan};
use crate::profile::Profile;
use crate::tune::{Knob, Want};

/// The sysctl that caps every nofile limit.
pub const NR_OPEN: &str = "fs.nr_open";

/// Applies the cross-row rules to `plan` in place.
pub fn apply(host: &Host, profile: &Profile, plan: &mut Plan) {
    nr_open_first(plan);
    nofile_within_nr_open(host, profile, plan);
}

/// Moves a change of fs.nr_open ahead of every other row, so it is written first.
fn nr_open_first(plan: &mut Plan) {
    let is_nr_open =
        |k: &Option<Knob>| matches!(k, Some(Knob::Sysctl { key }) if key.to_string() == NR_OPEN);
    if let Some(index) = plan.items.iter().position(|i| is_nr_open(&i.knob))
        && index > 0
    {
        let item = plan.items.remove(index);
        plan.items.insert(0, item);
    }
}

/// fs.nr_open as it will be once the plan is applied: the plan's target for it, else the
/// host's current value. `None` when neither is known (then no rule applies).
fn nr_open_after(host: &Host, plan: &Plan) -> Option<u64> {
    let row = plan.items.iter().find(|i| i.setting == NR_OPEN);
    let value = match row {
        Some(row) => match &row.action {
            Action::Change => row.target.clone(),
            _ => row.current.clone(),
        },
        None => host
            .sysctl_read(&SysctlKey::parse(NR_OPEN).expect("valid key"))
            .ok(),
    };
    value?.trim().parse().ok()
}

fn nofile_within_nr_open(host: &Host, profile: &Profile, plan: &mut Plan) {
    let Some(entry) = profile.ulimits.get(&Resource::Nofile) else {
        return;
    };
    let Some(nr_open) = nr_open_after(host, plan) else {
        return;
    };
    let sets_nr_open = plan.items.iter().any(|i| i.setting == NR_OPEN);
    for item in plan.items.iter_mut() {
        let hard = match &item.knob {
            Some(Knob::Rlimit {
                resource: Resource::Nofile,
                ..
            }) => item
                .target
                .as_deref()
                .and_then(|t| t.split_whitespace().nth(1))
                .map(|h| h.parse::<u64>().unwrap_or(u64::MAX)),
            None if item.kind == "ulimit" && item.setting == Resource::Nofile.name() => {
                match &entry.hard {
                    Want::Exact(v) => Some(v.parse::<u64>().unwrap_or(u64::MAX)),
                    Want::AtLeast(n) | Want::AtMost(n) => u64::try_from(*n).ok(),
                }
            }
            _ => None,
        };
        let Some(hard) = hard.filter(|&h| h > nr_open) else {
            continue;
        };
        let fix = if sets_nr_open {
            format!("raise {NR_OPEN} in the profile to at least {hard}")
        } else {
            format!(
                "lower the nofile limit, or set `{NR_OPEN}: {hard}` (or more) in the same profile: it is written before any limit"
            )
        };
        item.action = Action::Invalid(format!(
            "nofile hard limit {hard} is above {NR_OPEN} ({nr_open}{}): the kernel refuses it, even for root, and a persisted one makes logins fail; {fix}",
            if sets_nr_open {
                " as the profile sets it"
            } else {
                " on this host"
            }
        ));
    }
}
