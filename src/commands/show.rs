//! `hostperf show`: current values of sysctls or of every setting the profiles use.

use serde::Serialize;

use crate::cli::*;
use crate::exit::{self, UsageError};
use crate::host::sysctl::SysctlKey;
use crate::profile::Catalog;
use crate::report::{self, plan as tables};
use crate::tune::Knob;

use super::host;

#[derive(Serialize)]
struct ShownValue {
    kind: &'static str,
    setting: String,
    value: Option<String>,
    error: Option<String>,
}

pub fn run(g: &Global, args: &ShowArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let mut knobs: Vec<Knob> = Vec::new();
    if args.keys.is_empty() {
        let catalog = Catalog::new(&g.profile_dir);
        for summary in catalog.list()? {
            let profile = catalog.load(&summary.name)?;
            knobs.extend(profile.sysctl.keys().cloned().map(Knob::sysctl));
            if let Ok(settings) = profile.network.expand(&host) {
                knobs.extend(settings.into_iter().map(|s| s.knob));
            }
        }
    } else {
        for key in &args.keys {
            let key = SysctlKey::parse(key).map_err(|e| UsageError::new(e.to_string()))?;
            knobs.push(Knob::sysctl(key));
        }
    }
    knobs.sort();
    knobs.dedup();
    let mut any_error = false;
    let values: Vec<ShownValue> = knobs
        .iter()
        .map(|knob| {
            let (value, error) = match knob.read(&host) {
                Ok(v) => (v.map(|v| knob.normalize(&v)), None),
                Err(e) => {
                    any_error = true;
                    (None, Some(e.message))
                }
            };
            ShownValue {
                kind: knob.kind(),
                setting: knob.to_string(),
                value,
                error,
            }
        })
        .collect();
    report::print(&match args.format {
        ListFormat::Json => report::json(&values),
        ListFormat::Table => {
            let rows: Vec<(String, String, String)> = values
                .iter()
                .map(|v| {
                    let shown = match (&v.value, &v.error) {
                        (Some(value), _) => value.clone(),
                        (None, Some(e)) => format!("({e})"),
                        (None, None) => "(absent)".into(),
                    };
                    (v.kind.to_string(), v.setting.clone(), shown)
                })
                .collect();
            tables::values_table(&rows)
        }
    })?;
    // Named keys that cannot be read are the caller's problem; the default list may
    // include keys this kernel lacks.
    Ok(if any_error && !args.keys.is_empty() {
        exit::NOT_EVALUATED
    } else {
        exit::OK
    })
}
