//! What brings the saved profile back at boot and on hotplug, as installed on a host: the
//! units `hostperf-apply.service` and `hostperf-iface@.service` and the udev rule
//! `90-hostperf.rules` (shipped by the package, not written by `--persist`), whether the
//! boot unit is enabled, and whether systemd runs this host now.
//!
//! Looked up as systemd and udev do, through the Host (so `--root` sees a capture's):
//! unit files in systemd's search path (systemd.unit(5)), rules in udev's (udev(7)).

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

use crate::host::Host;

/// The boot unit: `apply --boot` once per boot, before the network is configured.
pub const APPLY_UNIT: &str = "hostperf-apply.service";
/// The per-interface template the udev rule starts: `apply --boot --iface NAME`.
pub const IFACE_UNIT: &str = "hostperf-iface@.service";
/// The udev rule that starts `hostperf-iface@NAME.service` when an interface appears.
pub const UDEV_RULE: &str = "90-hostperf.rules";
/// The target whose `.wants/` holds the boot unit when it is enabled (its `WantedBy=`).
const WANTED_BY: &str = "sysinit.target.wants";

/// systemd's unit search path for the system manager, highest precedence first.
const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// udev's rule directories, highest precedence first.
const RULE_DIRS: &[&str] = &[
    "/etc/udev/rules.d",
    "/run/udev/rules.d",
    "/usr/local/lib/udev/rules.d",
    "/usr/lib/udev/rules.d",
    "/lib/udev/rules.d",
];

/// Where the boot-time pieces are on a host, and their state.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct BootUnits {
    /// systemd runs this host now (/run/systemd/system exists, as sd_booted(3) checks).
    pub systemd_running: bool,
    /// The boot unit's file, when installed.
    pub apply_unit: Option<PathBuf>,
    /// A `sysinit.target.wants/` link to the boot unit exists.
    pub enabled: bool,
    /// The boot unit is masked (a link to /dev/null, or an empty file, in /etc or /run).
    pub masked: bool,
    pub iface_unit: Option<PathBuf>,
    pub udev_rule: Option<PathBuf>,
    /// The udev rule is masked by a link to /dev/null (or an empty file) in /etc.
    pub udev_rule_masked: bool,
}

impl BootUnits {
    pub fn detect(host: &Host) -> Self {
        let apply_unit = find(host, UNIT_DIRS, APPLY_UNIT);
        let enabled = UNIT_DIRS
            .iter()
            .any(|d| present(host, &Path::new(d).join(WANTED_BY).join(APPLY_UNIT)));
        let udev_rule = find(host, RULE_DIRS, UDEV_RULE);
        BootUnits {
            systemd_running: host.exists("/run/systemd/system")
                && host.read_link("/run/systemd/system").is_err(),
            masked: apply_unit.as_deref().is_some_and(|p| masked(host, p)),
            udev_rule_masked: udev_rule.as_deref().is_some_and(|p| masked(host, p)),
            apply_unit,
            enabled,
            iface_unit: find(host, UNIT_DIRS, IFACE_UNIT),
            udev_rule,
        }
    }

    /// The boot unit will run at the next boot under systemd.
    pub fn runs_at_boot(&self) -> bool {
        self.apply_unit.is_some() && self.enabled && !self.masked
    }

    /// The udev rule will start the per-interface unit.
    pub fn runs_on_hotplug(&self) -> bool {
        self.iface_unit.is_some() && self.udev_rule.is_some() && !self.udev_rule_masked
    }

    /// What stops the saved profile from coming back, each with its fix; empty when it
    /// will.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.apply_unit.is_none() {
            out.push(format!(
                "{APPLY_UNIT} is not installed (looked in {}), so what sysctl.d cannot hold does not come back at boot; install the hostperf package, or copy contrib/systemd/{APPLY_UNIT} and {IFACE_UNIT} to /etc/systemd/system/ and contrib/udev/{UDEV_RULE} to /etc/udev/rules.d/, then `systemctl enable {APPLY_UNIT}`",
                UNIT_DIRS.join(", ")
            ));
        } else if self.masked {
            out.push(format!(
                "{APPLY_UNIT} is masked, so it does not run at boot; `systemctl unmask {APPLY_UNIT}`"
            ));
        } else if !self.enabled {
            out.push(format!(
                "{APPLY_UNIT} is installed but not enabled, so it does not run at boot; `systemctl enable {APPLY_UNIT}`"
            ));
        }
        if self.apply_unit.is_some() && (self.iface_unit.is_none() || self.udev_rule.is_none()) {
            out.push(format!(
                "{} is not installed, so an interface that appears after boot (hotplug, a driver reload, a bond or VLAN made later) does not get its settings; install the hostperf package",
                if self.iface_unit.is_none() {
                    IFACE_UNIT
                } else {
                    UDEV_RULE
                }
            ));
        } else if self.udev_rule_masked {
            out.push(format!(
                "the udev rule {UDEV_RULE} is masked in /etc/udev/rules.d, so interfaces that appear later do not get their settings"
            ));
        }
        out
    }

    /// Said when systemd does not run this host now (a container, a chroot): what was
    /// written takes effect at the next boot under systemd, nothing ran now.
    pub fn not_running_note(&self) -> Option<String> {
        (!self.systemd_running).then(|| {
            let later = if self.runs_at_boot() {
                format!("{APPLY_UNIT} applies the saved profile at the next boot under systemd")
            } else {
                format!(
                    "{APPLY_UNIT} is not installed and enabled here; once it is, it applies the saved profile at boots under systemd"
                )
            };
            format!(
                "systemd is not running here (a container or a host booted another way): nothing was started now; {later}"
            )
        })
    }
}

/// The first `name` in `dirs`, as systemd and udev pick it.
fn find(host: &Host, dirs: &[&str], name: &str) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| present(host, p))
}

/// A file or a link (whose target may be outside a capture's root) at `path`.
fn present(host: &Host, path: &Path) -> bool {
    host.exists(path) || host.read_link(path).is_ok()
}

/// A unit or rule masked in /etc or /run: a link to /dev/null, or an empty file.
fn masked(host: &Host, path: &Path) -> bool {
    if !(path.starts_with("/etc") || path.starts_with("/run")) {
        return false;
    }
    if let Ok(target) = host.read_link(path) {
        return target == Path::new("/dev/null");
    }
    matches!(host.read_optional(path), Ok(Some(bytes)) if bytes.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_enabled_masked_and_missing_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        let host = Host::with_root(r);
        let none = BootUnits::detect(&host);
        assert!(!none.systemd_running && none.apply_unit.is_none());
        assert!(
            none.problems()[0].contains("is not installed"),
            "{:?}",
            none.problems()
        );

        let lib = r.join("lib/systemd/system");
        std::fs::create_dir_all(lib.join(WANTED_BY)).unwrap();
        std::fs::write(lib.join(APPLY_UNIT), "[Unit]\n").unwrap();
        std::fs::write(lib.join(IFACE_UNIT), "[Unit]\n").unwrap();
        std::fs::create_dir_all(r.join("lib/udev/rules.d")).unwrap();
        std::fs::write(r.join("lib/udev/rules.d").join(UDEV_RULE), "#\n").unwrap();
        let off = BootUnits::detect(&host);
        assert!(!off.enabled && off.runs_on_hotplug());
        assert!(
            off.problems()[0].contains("systemctl enable"),
            "{:?}",
            off.problems()
        );

        let wants = r.join("etc/systemd/system").join(WANTED_BY);
        std::fs::create_dir_all(&wants).unwrap();
        std::os::unix::fs::symlink(lib.join(APPLY_UNIT), wants.join(APPLY_UNIT)).unwrap();
        std::fs::create_dir_all(r.join("run/systemd/system")).unwrap();
        let on = BootUnits::detect(&host);
        assert!(on.runs_at_boot() && on.systemd_running, "{on:?}");
        assert!(on.problems().is_empty(), "{:?}", on.problems());
        assert!(on.not_running_note().is_none());

        std::os::unix::fs::symlink("/dev/null", r.join("etc/systemd/system").join(APPLY_UNIT))
            .unwrap();
        let masked = BootUnits::detect(&host);
        assert!(masked.masked && !masked.runs_at_boot());
        assert!(
            masked.problems()[0].contains("unmask"),
            "{:?}",
            masked.problems()
        );
    }
}
