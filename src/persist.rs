//! `apply --persist`: the files that make settings survive a reboot. They are journaled as
//! file knobs, so rollback restores or removes them like any other setting.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::exit::UsageError;
use crate::host::Host;
use crate::host::rlimit::Resource;
use crate::journal::Change;
use crate::plan::{Action, Plan};
use crate::profile::{Profile, UlimitEntry};
use crate::tune::{Knob, Want};

pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-hostperf.conf";
pub const LIMITS_FILE: &str = "/etc/security/limits.d/90-hostperf.conf";
pub const SYSTEMD_MANAGER_FILE: &str = "/etc/systemd/system.conf.d/90-hostperf.conf";

/// One file to write, and whom it affects.
#[derive(Debug, Serialize)]
pub struct PersistFile {
    pub path: PathBuf,
    pub content: String,
    pub applies_to: String,
}

/// The persistence files for a plan: sysctls that are (or will be) set, and ulimits.
pub fn files(plan: &Plan, profile: &Profile, units: &[String]) -> anyhow::Result<Vec<PersistFile>> {
    let mut files = Vec::new();
    let header = format!(
        "# Written by `hostperf apply --persist {}`; `hostperf rollback` removes it.\n",
        profile.name
    );
    let mut sysctl = header.clone();
    let mut any = false;
    for item in &plan.items {
        let Some(Knob::Sysctl { key }) = &item.knob else {
            continue;
        };
        let value = match &item.action {
            Action::Change => item.target.as_deref(),
            Action::AlreadySet => item.current.as_deref(),
            _ => None,
        };
        if let Some(value) = value {
            any = true;
            let _ = writeln!(sysctl, "# {}\n{key} = {value}", item.reason);
        }
    }
    if any {
        files.push(PersistFile {
            path: SYSCTL_FILE.into(),
            content: sysctl,
            applies_to: "sysctls at every boot (systemd-sysctl, or `sysctl --system`)".into(),
        });
    }
    if profile.ulimits.is_empty() {
        return Ok(files);
    }
    let mut limits = header.clone();
    for (resource, entry) in &profile.ulimits {
        let (soft, hard) = persisted_values(entry);
        let _ = writeln!(limits, "# {}", entry.reason.as_deref().unwrap_or(""));
        // `*` does not match root in limits.conf, so root gets its own lines.
        for who in ["*", "root"] {
            let _ = writeln!(
                limits,
                "{who} soft {resource} {soft}\n{who} hard {resource} {hard}"
            );
        }
    }
    files.push(PersistFile {
        path: LIMITS_FILE.into(),
        content: limits,
        applies_to: "new PAM login sessions (ssh, su, login); NOT systemd services".into(),
    });
    if units.is_empty() {
        files.push(PersistFile {
            path: SYSTEMD_MANAGER_FILE.into(),
            content: systemd_limits(&header, "Manager", "Default", &profile.ulimits),
            applies_to: "every systemd service without its own Limit*=, after `systemctl daemon-reexec` and a restart of the service".into(),
        });
    }
    for unit in units {
        let unit = unit_name(unit)?;
        files.push(PersistFile {
            path: PathBuf::from(format!("/etc/systemd/system/{unit}.d/90-hostperf.conf")),
            content: systemd_limits(&header, "Service", "", &profile.ulimits),
            applies_to: format!(
                "{unit}, after `systemctl daemon-reload && systemctl restart {unit}`"
            ),
        });
    }
    Ok(files)
}

/// The journal changes for the files whose content differs from what is on disk.
pub fn changes(host: &Host, files: &[PersistFile]) -> anyhow::Result<Vec<Change>> {
    let mut changes = Vec::new();
    for file in files {
        let knob = Knob::File {
            path: file.path.clone(),
        };
        let previous = knob.read(host)?;
        if previous.as_deref() != Some(file.content.as_str()) {
            changes.push(Change {
                knob,
                previous,
                applied: Some(file.content.clone()),
            });
        }
    }
    Ok(changes)
}

/// A bound has no current value to compare with in a config file: persist the bound itself.
fn persisted_values(entry: &UlimitEntry) -> (String, String) {
    let text = |w: &Want| match w {
        Want::Exact(v) => v.clone(),
        Want::AtLeast(n) | Want::AtMost(n) => n.to_string(),
    };
    (text(&entry.soft), text(&entry.hard))
}

fn systemd_limits(
    header: &str,
    section: &str,
    prefix: &str,
    ulimits: &BTreeMap<Resource, UlimitEntry>,
) -> String {
    let mut out = format!("{header}[{section}]\n");
    for (resource, entry) in ulimits {
        let (soft, hard) = persisted_values(entry);
        let infinity = |v: String| {
            if v == "unlimited" {
                "infinity".to_string()
            } else {
                v
            }
        };
        let _ = writeln!(
            out,
            "{prefix}{}={}:{}",
            resource.systemd_name(),
            infinity(soft),
            infinity(hard)
        );
    }
    out
}

/// A systemd unit name, `.service` added when no type is given; no path tricks.
fn unit_name(unit: &str) -> anyhow::Result<String> {
    let valid = !unit.is_empty()
        && !unit.starts_with('.')
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c));
    if !valid {
        return Err(UsageError::new(format!(
            "--unit {unit:?}: not a systemd unit name (letters, digits and :-_.@ only)"
        )));
    }
    Ok(if unit.contains('.') {
        unit.to_string()
    } else {
        format!("{unit}.service")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Purpose, Targets};
    use crate::profile::Catalog;
    use std::path::Path;

    #[test]
    fn persist_files_cover_sysctls_sessions_and_services() {
        let host = Host::with_root(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/hosts/vm-6.18"
        ));
        let profile = Catalog::new("/nonexistent")
            .load("latency-profile")
            .unwrap();
        let plan = Plan::build(&host, &profile, &Targets::default(), Purpose::Check).unwrap();
        let files = files(&plan, &profile, &[]).unwrap();
        let sysctl = files
            .iter()
            .find(|f| f.path == Path::new(SYSCTL_FILE))
            .unwrap();
        assert!(
            sysctl.content.contains("\nvm.swappiness = 10\n"),
            "{}",
            sysctl.content
        );
        assert!(
            sysctl
                .content
                .contains("net.ipv4.tcp_rmem = 4096 87380 6291456")
        );
        let limits = files
            .iter()
            .find(|f| f.path == Path::new(LIMITS_FILE))
            .unwrap();
        assert!(limits.content.contains("* soft nofile 1048576"));
        assert!(limits.content.contains("root hard nofile 1048576"));
        let manager = files
            .iter()
            .find(|f| f.path == Path::new(SYSTEMD_MANAGER_FILE))
            .unwrap();
        assert!(
            manager
                .content
                .contains("[Manager]\nDefaultLimitNOFILE=1048576:1048576")
        );

        let per_unit = super::files(&plan, &profile, &["nginx".into()]).unwrap();
        assert!(per_unit.iter().any(|f| f.path
            == Path::new("/etc/systemd/system/nginx.service.d/90-hostperf.conf")
            && f.content.contains("[Service]\nLimitNOFILE=1048576:1048576")));
        assert!(
            !per_unit
                .iter()
                .any(|f| f.path == Path::new(SYSTEMD_MANAGER_FILE))
        );
        assert!(super::files(&plan, &profile, &["../../etc/passwd".into()]).is_err());
    }
}
