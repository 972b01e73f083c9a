//! Which of a profile's settings a network namespace can show, and applying those inside
//! bench's namespaces through hostperf's own plan/apply/rollback.
//!
//! A namespace has its own copy of most net.ipv4.* and some net.core.* sysctls; everything
//! else (vm.*, fs.*, kernel.*, the host-only net.core keys, NIC queues, IRQs, ulimits) is the
//! host's and is never written by bench. A key counts as in effect when it exists inside a
//! fresh namespace and is writable there: the kernel registers per-namespace tables for
//! exactly those, and keeps host-wide values read-only or absent inside.
//!
//! The in-effect keys are written to a profile file of their own and applied by running
//! `hostperf --state-dir DIR apply --file FILE` inside each endpoint namespace (the normal
//! plan/apply path with its journal), and undone with `hostperf rollback`; bench then reads
//! the values back to prove the rollback restored them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde::Serialize;

use super::netns::Netns;
use crate::host::Host;
use crate::host::sysctl::SysctlKey;
use crate::profile::Profile;

/// Longest a `hostperf apply` or `rollback` inside a namespace may take.
const APPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// What bench can do with one setting of the profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// Applied inside the namespaces and measured.
    InEffect,
    /// Host-wide: cannot be changed or shown inside a namespace.
    HostWide,
    /// The namespace refuses this value (e.g. a congestion control not in
    /// tcp_allowed_congestion_control).
    Refused,
    /// Not applied, but a scenario reproduces it per socket or per process.
    Emulated,
    /// Left out with --key.
    Excluded,
}

/// One setting of the profile and what bench does with it.
#[derive(Clone, Debug, Serialize)]
pub struct SettingRow {
    /// The sysctl key, or the profile path of a network/ulimit setting.
    pub key: String,
    pub value: String,
    pub reach: Reach,
    /// Why, in plain words.
    pub note: String,
}

/// The sysctl that `network.congestion_control` sets.
pub const CONGESTION_CONTROL: &str = "net.ipv4.tcp_congestion_control";

/// Sorts the profile's settings by what a namespace can show. `probe` is a namespace made
/// for the purpose (nothing else runs in it). `only` restricts the in-effect keys (--key).
pub fn classify(
    profile: &Profile,
    probe: &Netns,
    only: &[String],
) -> anyhow::Result<Vec<SettingRow>> {
    let json = serde_json::to_value(profile).context("read the profile")?;
    let mut rows = Vec::new();
    let value_of = |v: &serde_json::Value| -> String {
        match v.get("value") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    };
    if let Some(sysctl) = json.get("sysctl").and_then(|s| s.as_object()) {
        let keys: Vec<String> = sysctl.keys().cloned().collect();
        let access = probe.run(move || {
            keys.iter()
                .map(|k| (k.clone(), ns_access(k)))
                .collect::<BTreeMap<_, _>>()
        })?;
        for (key, entry) in sysctl {
            let value = value_of(entry);
            let (reach, note) = match (key.split('.').next(), access.get(key)) {
                (Some("net"), Some(Access::Writable)) => {
                    (Reach::InEffect, "per network namespace".to_string())
                }
                _ if matches!(key.as_str(), "net.core.busy_read" | "net.core.busy_poll") => (
                    Reach::Emulated,
                    format!(
                        "host-wide; the busy-poll scenario sets the same on the server's own {}",
                        if key.ends_with("busy_read") {
                            "sockets (SO_BUSY_POLL)"
                        } else {
                            "epoll instance (EPIOCSPARAMS)"
                        }
                    ),
                ),
                (Some("net"), Some(Access::ReadOnly)) => (
                    Reach::HostWide,
                    "read-only inside a network namespace: the host's value applies there"
                        .to_string(),
                ),
                (Some("net"), _) => (
                    Reach::HostWide,
                    "host-wide (absent inside a network namespace)".to_string(),
                ),
                (Some(top), _) => (
                    Reach::HostWide,
                    format!("{top}.* is global to the host: not measurable in a namespace"),
                ),
                (None, _) => (Reach::HostWide, "not a sysctl key".to_string()),
            };
            rows.push(SettingRow {
                key: key.clone(),
                value,
                reach,
                note,
            });
        }
    }
    let network = json.get("network").cloned().unwrap_or_default();
    if let Some(cc) = network.get("congestion_control") {
        let value = value_of(cc);
        let allowed = allowed_congestion_controls();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        let (reach, note) = if allowed.contains(&value.as_str()) {
            (Reach::InEffect, "per network namespace".to_string())
        } else {
            (
                Reach::Refused,
                format!(
                    "a namespace may only choose an algorithm in tcp_allowed_congestion_control ({})",
                    allowed.join(" ")
                ),
            )
        };
        rows.push(SettingRow {
            key: CONGESTION_CONTROL.into(),
            value,
            reach,
            note,
        });
    }
    if let Some(q) = network.get("default_qdisc") {
        let value = value_of(q);
        let note = match crate::tune::net::qdisc::available(&value) {
            crate::tune::net::qdisc::Availability::No => format!(
                "host-wide (net.core.default_qdisc); this kernel also lacks the {value} qdisc"
            ),
            _ => "host-wide (net.core.default_qdisc): not measurable in a namespace".into(),
        };
        rows.push(SettingRow {
            key: "net.core.default_qdisc".into(),
            value,
            reach: Reach::HostWide,
            note,
        });
    }
    if let Some(r) = network.get("rps_sock_flow_entries") {
        rows.push(SettingRow {
            key: "net.core.rps_sock_flow_entries".into(),
            value: value_of(r),
            reach: Reach::HostWide,
            note: "host-wide RFS table: not measurable in a namespace".into(),
        });
    }
    if let Some(ifaces) = network.get("interfaces").and_then(|i| i.as_object()) {
        for (selector, settings) in ifaces {
            let Some(settings) = settings.as_object() else {
                continue;
            };
            for (name, setting) in settings {
                let leaves: Vec<(String, String)> = if setting.get("value").is_some() {
                    vec![(name.clone(), value_of(setting))]
                } else {
                    setting
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (format!("{name}.{k}"), value_of(v)))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                for (leaf, value) in leaves {
                    rows.push(SettingRow {
                        key: format!("network.interfaces.{selector}.{leaf}"),
                        value,
                        reach: Reach::HostWide,
                        note: "NIC queues, coalescing, steering and IRQs belong to the host's \
                               hardware; a veth has none: not measurable in a namespace"
                            .into(),
                    });
                }
            }
        }
    }
    if let Some(ulimits) = json.get("ulimits").and_then(|u| u.as_object()) {
        for (resource, entry) in ulimits {
            let value = format!(
                "soft {}, hard {}",
                entry.get("soft").map(|v| v.to_string()).unwrap_or_default(),
                entry.get("hard").map(|v| v.to_string()).unwrap_or_default()
            )
            .replace('"', "");
            rows.push(SettingRow {
                key: format!("ulimits.{resource}"),
                value,
                reach: Reach::HostWide,
                note: "per-process limits of the service; bench's server runs with bench's own"
                    .into(),
            });
        }
    }
    for key in only {
        match rows.iter().find(|r| &r.key == key) {
            None => bail!(crate::exit::UsageError(format!(
                "--key {key}: the profile has no such setting"
            ))),
            Some(r) if r.reach != Reach::InEffect && r.reach != Reach::Emulated => {
                bail!(crate::exit::UsageError(format!(
                    "--key {key}: {} ({})",
                    r.note, r.value
                )))
            }
            Some(_) => {}
        }
    }
    if !only.is_empty() {
        for row in &mut rows {
            if (row.reach == Reach::InEffect || row.reach == Reach::Emulated)
                && !only.contains(&row.key)
            {
                row.reach = Reach::Excluded;
                row.note = "left out (--key)".into();
            }
        }
    }
    Ok(rows)
}

/// `net.ipv4.tcp_allowed_congestion_control`: what a namespace may choose (global, readable
/// anywhere).
pub fn allowed_congestion_controls() -> Vec<String> {
    Host::live()
        .read_string("/proc/sys/net/ipv4/tcp_allowed_congestion_control")
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

enum Access {
    Writable,
    ReadOnly,
    Absent,
}

/// Whether the calling thread's namespace has `key`, and may write it.
fn ns_access(key: &str) -> Access {
    let Ok(k) = SysctlKey::parse(key) else {
        return Access::Absent;
    };
    let path = k.proc_path();
    if !path.exists() {
        return Access::Absent;
    }
    match nix::unistd::access(&path, nix::unistd::AccessFlags::W_OK) {
        Ok(()) => Access::Writable,
        Err(_) => Access::ReadOnly,
    }
}

/// The in-effect settings as a profile file hostperf can apply (no includes, values as the
/// profile wrote them, bounds such as `>=4096` kept).
pub fn profile_yaml(name: &str, rows: &[SettingRow]) -> String {
    let mut out = format!(
        "description: {}\n",
        yaml_quote(&format!(
            "{name}: the settings a network namespace can show, for hostperf bench"
        ))
    );
    let sysctl: Vec<&SettingRow> = rows
        .iter()
        .filter(|r| r.reach == Reach::InEffect && r.key != CONGESTION_CONTROL)
        .collect();
    if !sysctl.is_empty() {
        out.push_str("sysctl:\n");
        for r in sysctl {
            out.push_str(&format!("  {}: {}\n", r.key, yaml_quote(&r.value)));
        }
    }
    if let Some(cc) = rows
        .iter()
        .find(|r| r.reach == Reach::InEffect && r.key == CONGESTION_CONTROL)
    {
        out.push_str(&format!(
            "network:\n  congestion_control: {}\n",
            yaml_quote(&cc.value)
        ));
    }
    out
}

fn yaml_quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serializes")
}

/// An apply made inside one namespace, to roll back later.
#[derive(Debug)]
pub struct Applied {
    state_dir: PathBuf,
    /// Key -> value before the apply, read inside the namespace.
    before: BTreeMap<String, String>,
    /// Whether anything was changed (an apply that found everything set made no snapshot).
    changed: bool,
}

/// Applies `file` inside `ns` with `hostperf apply`, journaling under `state_dir`.
pub fn apply(
    ns: &Netns,
    file: &Path,
    state_dir: &Path,
    keys: &[String],
) -> anyhow::Result<Applied> {
    let before = read_values(ns, keys)?;
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("create {}", state_dir.display()))?;
    let out = hostperf(
        ns,
        &[
            "--state-dir",
            &state_dir.to_string_lossy(),
            "apply",
            "--file",
            &file.to_string_lossy(),
            "-o",
            "json",
        ],
    )?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "hostperf apply in the {} namespace printed no JSON: {}",
            ns.role,
            String::from_utf8_lossy(&out.stdout)
        )
    })?;
    let changed = json.get("snapshot_id").is_some_and(|v| !v.is_null());
    Ok(Applied {
        state_dir: state_dir.to_path_buf(),
        before,
        changed,
    })
}

/// Undoes an apply with `hostperf rollback` and checks every key is back.
pub fn rollback(ns: &Netns, applied: &Applied) -> anyhow::Result<()> {
    if applied.changed {
        hostperf(
            ns,
            &[
                "--state-dir",
                &applied.state_dir.to_string_lossy(),
                "rollback",
                "-o",
                "json",
            ],
        )?;
    }
    let keys: Vec<String> = applied.before.keys().cloned().collect();
    let now = read_values(ns, &keys)?;
    for (key, was) in &applied.before {
        let is = now.get(key).map(String::as_str).unwrap_or("(absent)");
        if is != was {
            bail!(
                "after rollback {key} in the {} namespace is {is}, not {was} as before the apply",
                ns.role
            );
        }
    }
    Ok(())
}

/// Reads sysctls inside `ns` (absent keys are left out).
pub fn read_values(ns: &Netns, keys: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let keys = keys.to_vec();
    ns.run(move || {
        let host = Host::live();
        keys.iter()
            .filter_map(|k| {
                let key = SysctlKey::parse(k).ok()?;
                host.sysctl_read(&key).ok().map(|v| (k.clone(), v))
            })
            .collect()
    })
}

/// Writes sysctls inside `ns` (the testbed's starting point).
pub fn write_values(ns: &Netns, values: &[(String, String)]) -> anyhow::Result<()> {
    let values = values.to_vec();
    let role = ns.role;
    ns.run(move || -> anyhow::Result<()> {
        let host = Host::live();
        for (k, v) in &values {
            let key = SysctlKey::parse(k).map_err(|e| anyhow!("{k}: {e}"))?;
            host.sysctl_write(&key, v)
                .with_context(|| format!("set {k} = {v} in the {role} namespace"))?;
        }
        Ok(())
    })?
}

/// Runs this binary inside `ns`, bounded by `APPLY_TIMEOUT`; an exit other than 0 is an error
/// carrying its stderr.
fn hostperf(ns: &Netns, args: &[&str]) -> anyhow::Result<Output> {
    let exe = std::env::current_exe().context("find the hostperf binary")?;
    let child = ns
        .command(&exe.to_string_lossy())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("run {}", exe.display()))?;
    let out = bounded(child, APPLY_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "`hostperf {}` in the {} namespace failed ({}): {}",
            args.join(" "),
            ns.role,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// Waits for a child with a deadline; kills it when the deadline passes.
pub fn bounded(child: std::process::Child, timeout: Duration) -> anyhow::Result<Output> {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let started = Instant::now();
    match rx.recv_timeout(timeout) {
        Ok(out) => Ok(out?),
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = rx.recv_timeout(Duration::from_secs(5));
            bail!(
                "a child process (pid {pid}) did not finish within {} s; killed",
                started.elapsed().as_secs()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, value: &str, reach: Reach) -> SettingRow {
        SettingRow {
            key: key.into(),
            value: value.into(),
            reach,
            note: String::new(),
        }
    }

    #[test]
    fn the_namespace_profile_holds_only_in_effect_settings() {
        let rows = vec![
            row("net.core.somaxconn", ">=4096", Reach::InEffect),
            row("net.ipv4.tcp_rmem", "4096 87380 6291456", Reach::InEffect),
            row("vm.swappiness", "10", Reach::HostWide),
            row("net.core.busy_read", "50", Reach::Emulated),
            row(CONGESTION_CONTROL, "bbr", Reach::InEffect),
            row("net.ipv4.tcp_tw_reuse", "1", Reach::Excluded),
        ];
        let yaml = profile_yaml("latency-profile", &rows);
        assert!(
            yaml.contains("  net.core.somaxconn: \">=4096\"\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("  net.ipv4.tcp_rmem: \"4096 87380 6291456\"\n"),
            "{yaml}"
        );
        assert!(
            yaml.contains("network:\n  congestion_control: \"bbr\"\n"),
            "{yaml}"
        );
        for absent in [
            "vm.swappiness",
            "busy_read",
            "tcp_tw_reuse",
            "sysctl:\n  net.ipv4.tcp_congestion",
        ] {
            assert!(!yaml.contains(absent), "{absent} in {yaml}");
        }
        // It parses as a profile.
        crate::profile::parse(&yaml, &crate::profile::Source::Builtin).unwrap();
    }
}
