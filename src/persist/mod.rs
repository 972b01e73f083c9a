//! `apply --persist`: the files that make settings survive a reboot. They are journaled as
//! file knobs, so rollback restores or removes them like any other setting.
//!
//! - `/etc/sysctl.d/90-hostperf.conf`: every sysctl whose value sysctl.d can hold, the
//!   profile's value (never a value read from the host). A bound (`>=8192`, or a field of
//!   one) has no sysctl.d form: the file says so in a comment, and the boot unit applies it.
//! - `/etc/hostperf/applied.yaml` ([`saved`]): the resolved profile. hostperf-apply.service
//!   plans and applies it at every boot (bounds, qdiscs, NIC queues, coalescing, steering,
//!   IRQ affinity, every kind sysctl.d cannot hold), hostperf-iface@.service applies its
//!   interface settings when an interface appears (udev rule 90-hostperf.rules).
//! - limits.d and systemd `Limit*=` drop-ins for `ulimits`.
//!
//! Nothing a profile says can add a line: names and reasons are one line without control
//! characters (checked at load, with line and column), values are checked per kind, and
//! every generated line is checked again here. The files are written by the one writer
//! (`host::write_durably`); sysctl.d and limits.d must exist, systemd drop-in directories
//! and /etc/hostperf are created when absent (their parent must exist).

pub mod saved;
pub mod sysctl_d;
pub mod units;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::exit::UsageError;
use crate::host::Host;
use crate::host::rlimit::Resource;
use crate::journal::Change;
use crate::plan::{Action, Plan, PlanItem};
use crate::profile::{Profile, UlimitEntry};
use crate::tune::{Knob, Want};

pub use crate::tune::file::{APPLIED_FILE, LIMITS_FILE, SYSCTL_FILE, SYSTEMD_MANAGER_FILE};
pub use sysctl_d::{boot_overrides, parse_sysctl_conf};

/// One file to write, and whom it affects.
#[derive(Debug, Serialize)]
pub struct PersistFile {
    pub path: PathBuf,
    pub content: String,
    pub applies_to: String,
}

/// How a sysctl row of a plan persists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysctlPersist {
    /// A `key = value` line in sysctl.d (`-key` when optional).
    SysctlD,
    /// A bound: sysctl.d has no "at least", so the boot unit applies it.
    BootUnit,
}

/// Whether the plan row of a sysctl persists as a sysctl.d line or through the boot unit:
/// a value of exact fields is a sysctl.d line; one with a bound is not, since writing the
/// bound's number would lower a host that boots above it.
pub fn sysctl_persist(item: &PlanItem) -> SysctlPersist {
    if item
        .desired
        .fields
        .iter()
        .all(|f| matches!(f, Want::Exact(_)))
    {
        SysctlPersist::SysctlD
    } else {
        SysctlPersist::BootUnit
    }
}

/// Settings of the plan that are (or will be) in place and that only the boot unit brings
/// back: everything but exact sysctls (in sysctl.d) and live process limits.
pub fn boot_unit_rows(plan: &Plan) -> impl Iterator<Item = &PlanItem> {
    plan.items.iter().filter(|item| {
        matches!(item.action, Action::Change | Action::AlreadySet)
            && match &item.knob {
                Some(Knob::Sysctl { .. }) => sysctl_persist(item) == SysctlPersist::BootUnit,
                Some(Knob::Rlimit { .. } | Knob::File { .. }) | None => false,
                Some(_) => true,
            }
    })
}

/// The persistence files for a plan: sysctl.d for exact sysctls that are (or will be)
/// set, the saved profile for the boot unit, and ulimits.
pub fn files(
    host: &Host,
    plan: &Plan,
    profile: &Profile,
    units: &[String],
) -> anyhow::Result<Vec<PersistFile>> {
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
        if !matches!(item.action, Action::Change | Action::AlreadySet) {
            continue;
        }
        let value = item.desired.to_string();
        one_line(&item.setting, &item.reason)?;
        one_line(&item.setting, &value)?;
        match sysctl_persist(item) {
            // An empty value (no port to reserve) is left out: sysctl.d files are read in
            // order, so an empty line here would clear what an earlier file sets at boot.
            SysctlPersist::SysctlD if value.trim().is_empty() => {
                let _ = writeln!(
                    sysctl,
                    "# {key}: nothing to set (the profile's value is empty here), so this file leaves it alone"
                );
            }
            SysctlPersist::SysctlD => {
                any = true;
                // sysctl.d(5): a leading '-' ignores a failure to set it (an optional key).
                let dash = if item.optional { "-" } else { "" };
                let _ = writeln!(sysctl, "# {}\n{dash}{key} = {value}", item.reason);
            }
            SysctlPersist::BootUnit => {
                let _ = writeln!(
                    sysctl,
                    "# {key} {value}: a bound has no sysctl.d form; hostperf-apply.service applies it at boot ({APPLIED_FILE})"
                );
            }
        }
    }
    if any {
        files.push(PersistFile {
            path: SYSCTL_FILE.into(),
            content: sysctl,
            applies_to: "sysctls at every boot (systemd-sysctl, or `sysctl --system`)".into(),
        });
    }
    files.extend(limit_files(&header, profile, units)?);
    files.push(PersistFile {
        path: APPLIED_FILE.into(),
        content: saved::document(host, profile)?,
        applies_to: applied_applies_to(plan, &units::BootUnits::detect(host)),
    });
    Ok(files)
}

/// Who applies the saved profile, and when.
fn applied_applies_to(plan: &Plan, boot: &units::BootUnits) -> String {
    let rows: Vec<&PlanItem> = boot_unit_rows(plan).collect();
    let interface = rows
        .iter()
        .filter(|i| i.knob.as_ref().and_then(Knob::iface).is_some())
        .count();
    if rows.is_empty() {
        return format!(
            "nothing now (sysctl.d holds every setting this host takes); {} re-plans it at every boot, and `hostperf status` reads it",
            units::APPLY_UNIT
        );
    }
    let mut text = format!(
        "{} setting(s) sysctl.d cannot hold, at every boot by {} (`hostperf apply --boot`)",
        rows.len(),
        units::APPLY_UNIT
    );
    if interface > 0 {
        let _ = write!(
            text,
            ", and the {interface} interface setting(s) again whenever a matching interface appears ({} starts {})",
            units::UDEV_RULE,
            units::IFACE_UNIT
        );
    }
    if !boot.runs_at_boot() {
        text.push_str("; NOT at boot on this host as installed (see the warning)");
    }
    text
}

/// limits.d and the systemd drop-ins for a profile's ulimits.
fn limit_files(
    header: &str,
    profile: &Profile,
    units: &[String],
) -> anyhow::Result<Vec<PersistFile>> {
    let mut files = Vec::new();
    if profile.ulimits.is_empty() {
        return Ok(files);
    }
    let mut limits = header.to_string();
    for (resource, entry) in &profile.ulimits {
        let (soft, hard) = persisted_values(entry);
        let reason = entry.reason.as_deref().unwrap_or("");
        for text in [reason, &soft, &hard] {
            one_line(resource.name(), text)?;
        }
        let _ = writeln!(limits, "# {reason}");
        // `*` does not match root in limits.conf, so root gets its own lines.
        for who in ["*", "root"] {
            if *resource == Resource::Nofile {
                // Every session: only the hard limit (see NOFILE_DEFAULT_SOFT).
                let _ = writeln!(limits, "{who} hard {resource} {hard}");
            } else {
                let _ = writeln!(
                    limits,
                    "{who} soft {resource} {soft}\n{who} hard {resource} {hard}"
                );
            }
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
            content: systemd_limits(header, "Manager", "Default", &profile.ulimits, true),
            applies_to: "every systemd service without its own Limit*=, after `systemctl daemon-reexec` and a restart of the service".into(),
        });
    }
    for unit in units {
        let unit = unit_name(unit)?;
        files.push(PersistFile {
            path: crate::tune::file::unit_drop_in(&unit),
            content: systemd_limits(header, "Service", "", &profile.ulimits, false),
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

/// The nofile soft limit every session and service keeps: select(2) cannot watch a
/// descriptor above 1023 (FD_SETSIZE), so systemd keeps the soft limit at 1024 and raises
/// only the hard one (524288 since systemd 240), and advises services that need more to
/// raise their own soft limit, or to be given LimitNOFILE= (systemd.exec(5), LimitNOFILE=).
/// hostperf follows that: system-wide files raise the hard limit only; the soft limit is
/// raised for the units named with `--unit` and the processes named with `--pid`/`--process`.
pub const NOFILE_DEFAULT_SOFT: &str = "1024";

/// `[Manager]` DefaultLimit*= (`every_service`: nofile soft kept at 1024) or a unit's
/// `[Service]` Limit*= lines.
fn systemd_limits(
    header: &str,
    section: &str,
    prefix: &str,
    ulimits: &BTreeMap<Resource, UlimitEntry>,
    every_service: bool,
) -> String {
    let mut out = format!("{header}[{section}]\n");
    for (resource, entry) in ulimits {
        let (soft, hard) = persisted_values(entry);
        let soft = if every_service && *resource == Resource::Nofile {
            NOFILE_DEFAULT_SOFT.to_string()
        } else {
            soft
        };
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
    let full = if unit.contains('.') {
        unit.to_string()
    } else {
        format!("{unit}.service")
    };
    if unit.starts_with('.') || !crate::tune::file::is_unit_name(&full) {
        return Err(UsageError::new(format!(
            "--unit {unit:?}: not a systemd unit name (letters, digits and :-_.@ only)"
        )));
    }
    Ok(full)
}

/// Refuses text that would not stay on its one line of a generated file. Profile text is
/// checked at load already; this holds for every value that reaches a file, whatever its
/// source (a kernel value, a bound).
pub(crate) fn one_line(setting: &str, text: &str) -> anyhow::Result<()> {
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(UsageError::new(format!(
            "{setting}: {text:?} has a control character ({c:?}); nothing was persisted"
        )));
    }
    Ok(())
}

/// Checks, before anything is written, that every file can be written where it belongs:
/// /etc/sysctl.d and /etc/security/limits.d must exist (hostperf does not create them), a
/// systemd drop-in directory may be created, but its parent must exist.
pub fn check_targets(host: &Host, files: &[PersistFile]) -> anyhow::Result<()> {
    for file in files {
        let needed = match crate::tune::file::creatable_dir(&file.path) {
            Some(dir) => dir.parent(),
            None => file.path.parent(),
        };
        if let Some(dir) = needed
            && !host.exists(dir)
        {
            let why = if dir.starts_with("/etc/systemd") {
                "systemd is not installed here"
            } else if dir == std::path::Path::new("/etc") {
                "a host has one; this root is not a host tree with /etc"
            } else if dir.starts_with("/etc/security") {
                "PAM's pam_limits (libpam-modules) is not installed here"
            } else {
                "procps or systemd creates it"
            };
            return Err(UsageError::new(format!(
                "cannot persist {}: the directory {} does not exist ({why}); hostperf does not create it. Nothing was changed",
                file.path.display(),
                host.path(dir).display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Purpose, Targets};
    use crate::profile::Catalog;
    use std::path::Path;

    const VM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hosts/vm-6.18");

    fn plan_of(host: &Host, text: Option<&str>, name: &str) -> (Plan, Profile) {
        let catalog = Catalog::new("/nonexistent");
        let profile = match text {
            Some(text) => catalog.load_document(Path::new("t.yaml"), text).unwrap(),
            None => catalog.load(name).unwrap(),
        };
        let plan = Plan::build(host, &profile, &Targets::default(), Purpose::Check).unwrap();
        (plan, profile)
    }

    fn file<'a>(files: &'a [PersistFile], path: &str) -> &'a str {
        &files
            .iter()
            .find(|f| f.path == Path::new(path))
            .unwrap()
            .content
    }

    #[test]
    fn persist_files_cover_sysctls_sessions_services_and_the_saved_profile() {
        let host = Host::with_root(VM);
        let (plan, profile) = plan_of(&host, None, "latency-profile");
        let files = files(&host, &plan, &profile, &[]).unwrap();
        let sysctl = file(&files, SYSCTL_FILE);
        assert!(sysctl.contains("\nvm.swappiness = 10\n"), "{sysctl}");
        assert!(sysctl.contains("vm.dirty_bytes = 268435456"), "{sysctl}");
        // No listener to reserve: no line that would clear an earlier file's reservations.
        assert!(
            !sysctl.contains("\nnet.ipv4.ip_local_reserved_ports ="),
            "{sysctl}"
        );
        // Optional keys may be absent at boot: systemd-sysctl ignores them with '-'.
        assert!(
            sysctl.contains("\n-kernel.timer_migration = 0\n"),
            "{sysctl}"
        );
        let limits = file(&files, LIMITS_FILE);
        // Sessions get a high hard limit only; the soft one stays (select() needs < 1024).
        assert!(!limits.contains("soft nofile"), "{limits}");
        assert!(limits.contains("* hard nofile 1048576"));
        assert!(limits.contains("root hard nofile 1048576"));
        assert!(
            file(&files, SYSTEMD_MANAGER_FILE)
                .contains("[Manager]\nDefaultLimitNOFILE=1024:1048576")
        );
        let saved = file(&files, APPLIED_FILE);
        let back = Catalog::new("/nonexistent")
            .load_document(Path::new(APPLIED_FILE), saved)
            .unwrap();
        assert_eq!(back.name, "latency-profile");
        let plain = |p: &Profile| {
            let mut s = p.sysctl.clone();
            s.values_mut().for_each(|e| e.from.clear());
            s
        };
        assert_eq!(plain(&back), plain(&profile));

        let per_unit = super::files(&host, &plan, &profile, &["nginx".into()]).unwrap();
        assert!(per_unit.iter().any(|f| f.path
            == Path::new("/etc/systemd/system/nginx.service.d/90-hostperf.conf")
            && f.content.contains("[Service]\nLimitNOFILE=1048576:1048576")));
        assert!(
            !per_unit
                .iter()
                .any(|f| f.path == Path::new(SYSTEMD_MANAGER_FILE))
        );
        assert!(super::files(&host, &plan, &profile, &["../../etc/passwd".into()]).is_err());
    }

    /// A bound is persisted as the bound (in the saved profile, for the boot unit), never
    /// as the value the host has now, whether the host is above it or below.
    #[test]
    fn a_bound_is_persisted_as_the_bound_not_the_current_value() {
        let host = Host::with_root(VM);
        let somaxconn =
            std::fs::read_to_string(format!("{VM}/proc/sys/net/core/somaxconn")).unwrap();
        let current: i64 = somaxconn.trim().parse().unwrap();
        let text = format!(
            "name: b\nsysctl:\n  net.core.somaxconn: \">={}\"\n  net.core.netdev_max_backlog: \">=2097152\"\n  net.ipv4.tcp_wmem: [4096, 16384, \">=4194304\"]\n  vm.swappiness: 10\n",
            current - 1
        );
        let (plan, profile) = plan_of(&host, Some(&text), "b");
        let files = files(&host, &plan, &profile, &[]).unwrap();
        let sysctl = file(&files, SYSCTL_FILE);
        let lines = parse_sysctl_conf(sysctl);
        assert_eq!(
            lines,
            [("vm.swappiness".to_string(), "10".to_string())],
            "{sysctl}"
        );
        assert!(
            sysctl.contains(&format!("# net.core.somaxconn >={}: a bound", current - 1))
                && sysctl.contains("# net.core.netdev_max_backlog >=2097152: a bound")
                && sysctl.contains("# net.ipv4.tcp_wmem 4096 16384 >=4194304: a bound"),
            "{sysctl}"
        );
        let saved = file(&files, APPLIED_FILE);
        assert!(
            saved.contains(">=2097152") && !saved.contains(&format!(": {current}\n")),
            "{saved}"
        );
        assert_eq!(boot_unit_rows(&plan).count(), 3);
    }
}
