//! What a check returns: a finding with its status, observed values, evidence and advice.
//! Renderers (`render.rs`) turn these into text; nothing here reads the machine.

use std::borrow::Cow;

use std::collections::BTreeMap;

use serde::Serialize;

/// Ordered from best to worst for `--fail-on`; `skip` and `error` sort separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Error,
    Crit,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Error => "error",
            Status::Crit => "crit",
        }
    }

    /// Worst first in reports: crit, error, warn, skip, pass.
    pub fn rank(self) -> u8 {
        match self {
            Status::Crit => 4,
            Status::Error => 3,
            Status::Warn => 2,
            Status::Skip => 1,
            Status::Pass => 0,
        }
    }

    pub const ALL: [Status; 5] = [
        Status::Pass,
        Status::Warn,
        Status::Crit,
        Status::Skip,
        Status::Error,
    ];
}

/// Units of an observed value; values are stored in base units (ratios, not percent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    Ratio,
    PerSecond,
    Bytes,
    Seconds,
}

/// A measured value with the thresholds it was judged against.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    /// Metric stem (snake_case, unit suffix included), e.g. `ephemeral_port_use_ratio`.
    pub name: String,
    pub value: f64,
    pub unit: Unit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit: Option<f64>,
    /// Labels that identify what was measured (`cpu`, `device`, `port`, `pid`), never a
    /// measured value, e.g. `{"destination": "10.0.0.5:5432"}` or `{"pid": "1234"}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Where the thresholds come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_source: Option<&'static str>,
    /// True when a value at or BELOW the thresholds is bad (e.g. MemAvailable).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lower_is_worse: bool,
}

impl Observed {
    pub fn new(name: &str, value: f64, unit: Unit) -> Self {
        Observed {
            name: name.to_string(),
            value,
            unit,
            warn: None,
            crit: None,
            labels: BTreeMap::new(),
            threshold_source: None,
            lower_is_worse: false,
        }
    }

    pub fn lower_is_worse(mut self) -> Self {
        self.lower_is_worse = true;
        self
    }

    pub fn thresholds(mut self, warn: f64, crit: f64, source: &'static str) -> Self {
        self.warn = Some(warn);
        self.crit = Some(crit);
        self.threshold_source = Some(source);
        self
    }

    pub fn warn_only(mut self, warn: f64, source: &'static str) -> Self {
        self.warn = Some(warn);
        self.threshold_source = Some(source);
        self
    }

    pub fn label(mut self, k: &str, v: impl Into<String>) -> Self {
        self.labels.insert(k.to_string(), v.into());
        self
    }

    /// The status this value earns against its thresholds (>= comparisons).
    pub fn judge(&self) -> Status {
        if self.lower_is_worse {
            return match (self.warn, self.crit) {
                (_, Some(c)) if self.value <= c => Status::Crit,
                (Some(w), _) if self.value <= w => Status::Warn,
                _ => Status::Pass,
            };
        }
        match (self.warn, self.crit) {
            (_, Some(c)) if self.value >= c => Status::Crit,
            (Some(w), _) if self.value >= w => Status::Warn,
            _ => Status::Pass,
        }
    }
}

/// Where a number came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// A file (`/proc/net/netstat`) or `netlink:inet_diag`.
    pub source: String,
    /// The field, e.g. `TcpExt:ListenOverflows`.
    pub field: String,
    /// The value in the last sample.
    pub value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_secs: Option<f64>,
    /// True for a kernel counter that only grows (exported as `_total`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub counter: bool,
}

impl Evidence {
    pub fn value(source: &str, field: &str, value: f64) -> Self {
        Evidence {
            source: source.to_string(),
            field: field.to_string(),
            value,
            delta: None,
            rate_per_sec: None,
            interval_secs: None,
            counter: false,
        }
    }

    /// A counter read in both samples (`before` is None with one sample).
    pub fn counter(source: &str, field: &str, before: Option<f64>, after: f64, secs: f64) -> Self {
        let delta = before.map(|b| after - b);
        Evidence {
            source: source.to_string(),
            field: field.to_string(),
            value: after,
            delta,
            rate_per_sec: delta.filter(|_| secs > 0.0).map(|d| d / secs),
            interval_secs: before.map(|_| secs),
            counter: true,
        }
    }
}

/// Everything a check says about one cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    /// The cause in a few words, e.g. "Ephemeral ports running out".
    pub title: &'static str,
    pub status: Status,
    /// Set when part of what the check reads could not be read (processes of other users,
    /// an unreadable socket table): what is missing and how much. A partial finding is
    /// never a plain pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial: Option<String>,
    pub summary: String,
    /// What a user of the service sees when this cause is at work.
    pub symptom: &'static str,
    /// The troubleshooting question this check answers.
    pub question: &'static str,
    pub observed: Vec<Observed>,
    pub evidence: Vec<Evidence>,
    /// Kernel log messages of the window that name this cause, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kernel_log: Vec<String>,
    /// The command a human runs to confirm.
    pub confirm: Cow<'static, str>,
    /// The log to look at.
    pub log: Cow<'static, str>,
    pub remediation: Cow<'static, str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Static facts about a check: its id, the words a user would use for it, and advice.
#[derive(Debug, Clone, Copy)]
pub struct CheckInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub symptom: &'static str,
    pub question: &'static str,
    pub confirm: &'static str,
    pub log: &'static str,
    pub remediation: &'static str,
}

impl CheckInfo {
    pub fn finding(&self, status: Status, summary: impl Into<String>) -> Finding {
        Finding {
            id: self.id,
            title: self.title,
            status,
            partial: None,
            summary: summary.into(),
            symptom: self.symptom,
            question: self.question,
            observed: Vec::new(),
            evidence: Vec::new(),
            kernel_log: Vec::new(),
            confirm: Cow::Borrowed(self.confirm),
            log: Cow::Borrowed(self.log),
            remediation: Cow::Borrowed(self.remediation),
            notes: Vec::new(),
        }
    }
}

impl Finding {
    /// Raises the status to the worst of the observed values' judgements.
    pub fn judge_observed(&mut self) {
        for o in &self.observed {
            let s = o.judge();
            if s.rank() > self.status.rank() {
                self.status = s;
            }
        }
    }

    pub fn raise(&mut self, s: Status) {
        if s.rank() > self.status.rank() {
            self.status = s;
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub hostperf_version: &'static str,
    /// `live`, `root:DIR` or `capture:FILE`.
    pub source: String,
    /// Seconds between the two samples; 0 with one sample.
    pub interval_secs: f64,
    pub findings: Vec<Finding>,
}

/// The version of the report's JSON/YAML layout (2: `symptom`, `question`, `partial`,
/// `kernel_log`).
pub const SCHEMA_VERSION: u32 = 2;
