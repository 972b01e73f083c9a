//! `hostperf status`: what is applied, what persists it, drift now, other owners.

use crate::cli::*;
use crate::profile::Catalog;
use crate::report::{self, Style};
use crate::status::{self, Sources};

use super::{host, journal};

pub fn run(g: &Global, args: &StatusArgs) -> anyhow::Result<u8> {
    let host = host(g);
    let journal = journal(g);
    let catalog = Catalog::new(&g.profile_dir);
    let status = status::build(&Sources {
        host: &host,
        journal: &journal,
        catalog: &catalog,
    })?;
    report::print(&status::render::render(
        &status,
        args.format,
        Style::stdout(),
    ))?;
    Ok(status.exit_code())
}
