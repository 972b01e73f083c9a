//! `hostperf diagnose` and `hostperf snapshot`.

use crate::cli::{DiagnoseArgs, Global, SnapshotArgs};

pub fn run(_global: &Global, _args: &DiagnoseArgs) -> anyhow::Result<u8> {
    anyhow::bail!("diagnose is not implemented yet")
}

pub fn snapshot(_global: &Global, _args: &SnapshotArgs) -> anyhow::Result<u8> {
    anyhow::bail!("snapshot is not implemented yet")
}
