//! `hostperf profiles`: list the catalog, show one profile resolved, or compare two.

use crate::cli::*;
use crate::exit;
use crate::profile::Catalog;
use crate::report::doc::{self, ProfileSummary, ProfilesDoc};
use crate::report::{self, Style, plan as tables, profile as text};

use super::tell;

pub fn run(g: &Global, args: &ProfilesArgs) -> anyhow::Result<u8> {
    let catalog = Catalog::new(&g.profile_dir);
    match &args.action {
        None => {
            let (mut list, mut problems) = catalog.list_checked();
            // A file that parses may still not load (a missing or cyclic include, a `drop`
            // of nothing, keys the kernel keeps only one of): resolved here, so the list
            // holds only profiles plan and apply can use.
            list.retain(|summary| match catalog.load(&summary.name) {
                Ok(_) => true,
                Err(e) => {
                    problems.push(format!("{e:#}; {} left out", summary.source));
                    false
                }
            });
            report::print(&match args.format {
                ListFormat::Table => tables::profiles_table(&list, Style::stdout()),
                ListFormat::Json => report::json(&ProfilesDoc {
                    schema_version: doc::SCHEMA_VERSION,
                    warnings: problems.clone(),
                    profiles: list
                        .iter()
                        .map(|p| ProfileSummary {
                            name: p.name.clone(),
                            description: p.description.clone(),
                            source: p.source.to_string(),
                        })
                        .collect(),
                }),
            })?;
            tell(&problems, &[]);
            Ok(exit::OK)
        }
        Some(ProfilesAction::Show { name, format }) => {
            let profile = catalog.load(name)?;
            report::print(&match format {
                DocFormat::Yaml => text::yaml(&profile)?,
                DocFormat::Json => report::json(&doc::ProfileShowDoc {
                    schema_version: doc::SCHEMA_VERSION,
                    profile: &profile,
                }),
            })?;
            Ok(exit::OK)
        }
        Some(ProfilesAction::Diff { a, b, format }) => {
            let doc = text::diff(&catalog.load(a)?, &catalog.load(b)?)?;
            report::print(&match format {
                ListFormat::Table => tables::diff_table(&doc, Style::stdout()),
                ListFormat::Json => report::json(&doc),
            })?;
            Ok(if doc.differences.is_empty() {
                exit::OK
            } else {
                exit::FAILED
            })
        }
    }
}
