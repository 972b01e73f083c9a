//! `hostperf check`: does the host match a profile? One result per setting.

use serde::Serialize;

use crate::exit;
use crate::plan::{Action, Plan};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
    Error,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CheckResult {
    pub setting: String,
    pub kind: &'static str,
    pub status: Status,
    pub current: Option<String>,
    pub expected: String,
    /// Why it failed, was skipped or could not be evaluated.
    pub detail: Option<String>,
    /// Why the profile sets it.
    pub reason: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
    pub error: usize,
}

/// The documented JSON shape of `hostperf check -o json` (see docs/check.md).
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub schema_version: u32,
    pub profile: String,
    pub root: String,
    /// UTC, RFC 3339.
    pub checked_at: String,
    pub summary: Summary,
    pub results: Vec<CheckResult>,
    pub warnings: Vec<String>,
}

impl CheckReport {
    pub fn from_plan(plan: &Plan, root: &std::path::Path) -> Self {
        let mut summary = Summary::default();
        let results: Vec<CheckResult> = plan
            .items
            .iter()
            .map(|item| {
                let (status, detail) = match &item.action {
                    Action::AlreadySet => (Status::Pass, None),
                    Action::Change => (
                        Status::Fail,
                        Some(format!(
                            "is {}, profile wants {}",
                            item.current.as_deref().unwrap_or("(absent)"),
                            item.desired
                        )),
                    ),
                    Action::Skipped(why) | Action::UnsupportedByDriver(why) => {
                        (Status::Skip, Some(why.clone()))
                    }
                    Action::Unsupported(why)
                    | Action::NeedsPrivilege(why)
                    | Action::Invalid(why) => (Status::Error, Some(why.clone())),
                };
                match status {
                    Status::Pass => summary.pass += 1,
                    Status::Fail => summary.fail += 1,
                    Status::Skip => summary.skip += 1,
                    Status::Error => summary.error += 1,
                }
                CheckResult {
                    setting: item.setting.clone(),
                    kind: item.kind,
                    status,
                    current: item.current.clone(),
                    expected: item.desired.to_string(),
                    detail,
                    reason: item.reason.clone(),
                }
            })
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        CheckReport {
            schema_version: SCHEMA_VERSION,
            profile: plan.profile.clone(),
            root: root.display().to_string(),
            checked_at: crate::journal::rfc3339(now),
            summary,
            results,
            warnings: plan.warnings.clone(),
        }
    }

    /// 1 on drift, else 3 when something could not be evaluated, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.summary.fail > 0 {
            exit::FAILED
        } else if self.summary.error > 0 {
            exit::NOT_EVALUATED
        } else {
            exit::OK
        }
    }
}
