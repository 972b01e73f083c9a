//! `hostperf profiles`: list the catalog, or show one profile resolved.

use crate::cli::*;
use crate::exit;
use crate::profile::Catalog;
use crate::report::{self, plan as tables};

pub fn run(g: &Global, args: &ProfilesArgs) -> anyhow::Result<u8> {
    let catalog = Catalog::new(&g.profile_dir);
    match &args.action {
        None => {
            let list = catalog.list()?;
            report::print(&match args.format {
                ListFormat::Table => tables::profiles_table(&list),
                ListFormat::Json => report::json(&list),
            })?;
        }
        Some(ProfilesAction::Show { name, format }) => {
            let profile = catalog.load(name)?;
            report::print(&match format {
                DocFormat::Yaml => yaml_serde::to_string(&profile)?,
                DocFormat::Json => report::json(&profile),
            })?;
        }
    }
    Ok(exit::OK)
}
