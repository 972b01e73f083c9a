//! `hostperf show`: current values of sysctls or of every setting the profiles use.

use crate::cli::*;
use crate::exit::{self, UsageError};
use crate::host::sysctl::SysctlKey;
use crate::profile::Catalog;
use crate::report::doc::{self, ShowDoc, ShownValue};
use crate::report::{self, plan as tables};
use crate::tune::Knob;

use super::host;

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
            let (current, error) = match knob.read(&host) {
                Ok(v) => (v.map(|v| knob.normalize(&v)), None),
                Err(e) => {
                    any_error = true;
                    (None, Some(e.message))
                }
            };
            tracing::debug!(setting = %knob, ?current, "read");
            ShownValue {
                setting: knob.to_string(),
                kind: knob.kind().to_string(),
                current,
                error,
            }
        })
        .collect();
    report::print(&match args.format {
        ListFormat::Json => report::json(&ShowDoc {
            schema_version: doc::SCHEMA_VERSION,
            values,
        }),
        ListFormat::Table => tables::values_table(&values, report::Style::stdout()),
    })?;
    // Named keys that cannot be read are the caller's problem; the default list may
    // include keys this kernel lacks.
    Ok(if any_error && !args.keys.is_empty() {
        exit::NOT_EVALUATED
    } else {
        exit::OK
    })
}
