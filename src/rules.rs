//! Rules across the rows of one plan, which no single knob can check on its own. Called by
//! plan, apply and check right after `Plan::build`.
//!
//! - A limit whose soft value would end above its hard value (a `>=` soft bound over a
//!   process's current soft limit that is above the profile's hard limit) is refused by
//!   the kernel (EINVAL): it blocks with both values named.
//! - A nofile hard limit above fs.nr_open is refused by the kernel (setrlimit and prlimit
//!   return EPERM even for root, fs/file.c `sysctl_nr_open`), and a persisted one makes
//!   pam_limits refuse logins. It blocks, unless the same profile raises fs.nr_open, which
//!   is then written before any limit.
//! - net.ipv4.ip_local_port_range is refused by the kernel (EINVAL) when its first port is
//!   above its last, or below net.ipv4.ip_unprivileged_port_start as it will be
//!   (net/ipv4/sysctl_net_ipv4.c, ipv4_local_port_range): it blocks before any write, so
//!   `plan` and `apply --dry-run` say so instead of apply undoing itself.

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
    soft_within_hard(plan);
    nofile_within_nr_open(host, profile, plan);
    port_range_valid(host, plan);
}

/// The port range and the first unprivileged port.
const PORT_RANGE: &str = "net.ipv4.ip_local_port_range";
const UNPRIVILEGED_PORT_START: &str = "net.ipv4.ip_unprivileged_port_start";

fn port_range_valid(host: &Host, plan: &mut Plan) {
    let changes_range =
        |i: &crate::plan::PlanItem| i.setting == PORT_RANGE && i.action == Action::Change;
    // Read only when the plan changes the range: plan and check run this on every call.
    if !plan.items.iter().any(changes_range) {
        return;
    }
    let start =
        after(host, plan, UNPRIVILEGED_PORT_START).and_then(|v| v.trim().parse::<u32>().ok());
    for item in plan.items.iter_mut().filter(|i| changes_range(i)) {
        let ports: Vec<u32> = item
            .target
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        let [first, last] = ports[..] else {
            continue;
        };
        let why = if first > last {
            Some(format!(
                "the first port {first} is above the last {last}; give the lower port first"
            ))
        } else {
            start.filter(|&s| first < s).map(|s| {
                format!(
                    "the first port {first} is below {UNPRIVILEGED_PORT_START} ({s}); start the range at {s} or above, or lower {UNPRIVILEGED_PORT_START} in the same profile"
                )
            })
        };
        if let Some(why) = why {
            item.action = Action::Invalid(format!(
                "the kernel refuses the range {first}-{last} (EINVAL): {why}"
            ));
        }
    }
}

/// A sysctl as it will be once the plan is applied: the plan's target for it, else its
/// current value, else the host's. `None` when unknown.
fn after(host: &Host, plan: &Plan, key: &str) -> Option<String> {
    match plan.items.iter().find(|i| i.setting == key) {
        Some(row) => match &row.action {
            Action::Change => row.target.clone(),
            _ => row.current.clone(),
        },
        None => host.sysctl_read(&SysctlKey::parse(key).ok()?).ok(),
    }
}

/// A limit as a number for comparing; `unlimited` is above every number.
fn limit_rank(v: &str) -> u128 {
    v.parse::<u128>().unwrap_or(u128::MAX)
}

fn soft_within_hard(plan: &mut Plan) {
    for item in plan.items.iter_mut() {
        if !matches!(item.knob, Some(Knob::Rlimit { .. })) || item.action != Action::Change {
            continue;
        }
        let Some((soft, hard)) = item.target.as_deref().and_then(|t| t.split_once(' ')) else {
            continue;
        };
        if limit_rank(soft) > limit_rank(hard) {
            item.action = Action::Invalid(format!(
                "{}: the soft limit would be {soft}, above the hard limit {hard}, which the kernel refuses; give an exact soft limit or raise the hard one",
                item.setting
            ));
        }
    }
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
    after(host, plan, NR_OPEN)?.trim().parse().ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PlanItem;
    use crate::tune::Desired;

    fn row(knob: Knob, target: &str) -> PlanItem {
        PlanItem {
            setting: knob.to_string(),
            kind: knob.kind(),
            knob: Some(knob),
            desired: Desired::exact(target),
            current: Some("1 1".into()),
            target: Some(target.into()),
            action: Action::Change,
            reason: String::new(),
            optional: false,
        }
    }

    #[test]
    fn a_soft_limit_that_would_pass_the_hard_one_blocks() {
        let knob = |r| Knob::Rlimit {
            pid: 1,
            comm: "init".into(),
            resource: r,
        };
        let mut plan = Plan {
            profile: "p".into(),
            items: vec![
                row(knob(Resource::Nproc), "8192 4096"),
                row(knob(Resource::Core), "0 unlimited"),
                row(knob(Resource::Stack), "unlimited 4096"),
            ],
            warnings: vec![],
        };
        soft_within_hard(&mut plan);
        assert!(
            matches!(&plan.items[0].action, Action::Invalid(m) if m.contains("8192, above the hard limit 4096"))
        );
        assert_eq!(plan.items[1].action, Action::Change);
        assert!(matches!(plan.items[2].action, Action::Invalid(_)));
    }

    #[test]
    fn a_port_range_the_kernel_would_refuse_blocks() {
        let sysctl = |k: &str| Knob::sysctl(SysctlKey::parse(k).unwrap());
        let host = Host::with_root("/nonexistent");
        let plan_of = |items| Plan {
            profile: "p".into(),
            items,
            warnings: vec![],
        };
        let mut inverted = plan_of(vec![row(sysctl(PORT_RANGE), "60000 1024")]);
        port_range_valid(&host, &mut inverted);
        assert!(
            matches!(&inverted.items[0].action, Action::Invalid(m) if m.contains("the first port 60000 is above the last 1024")),
            "{:?}",
            inverted.items[0].action
        );
        let mut below = plan_of(vec![
            row(sysctl(UNPRIVILEGED_PORT_START), "2000"),
            row(sysctl(PORT_RANGE), "1024 65535"),
        ]);
        port_range_valid(&host, &mut below);
        assert!(
            matches!(&below.items[1].action, Action::Invalid(m) if m.contains("below net.ipv4.ip_unprivileged_port_start (2000)"))
        );
        let mut fine = plan_of(vec![
            row(sysctl(UNPRIVILEGED_PORT_START), "1024"),
            row(sysctl(PORT_RANGE), "10240 65535"),
        ]);
        port_range_valid(&host, &mut fine);
        assert_eq!(fine.items[1].action, Action::Change);
    }

    #[test]
    fn fs_nr_open_moves_to_the_front() {
        let sysctl = |k: &str| Knob::sysctl(SysctlKey::parse(k).unwrap());
        let mut plan = Plan {
            profile: "p".into(),
            items: vec![
                row(sysctl("fs.file-max"), "1"),
                row(sysctl("fs.nr_open"), "2"),
            ],
            warnings: vec![],
        };
        nr_open_first(&mut plan);
        assert_eq!(plan.items[0].setting, "fs.nr_open");
    }
}
