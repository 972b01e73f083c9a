//! The saved profile: the resolved profile `apply --persist` writes to
//! /etc/hostperf/applied.yaml, and what `apply --boot` (the boot unit, the udev rule) makes
//! of it.
//!
//! The file is an ordinary profile document with its includes resolved, so it loads with
//! the same parser, limits and ownership checks as any profile file, and needs none of the
//! files it came from. It holds every section of the profile, whatever knob kinds they
//! make: `apply --boot` plans it again on the host as it booted (interface names, IRQ
//! numbers and CPU counts may differ from persist time), so every kind persists without
//! code of its own here.
//!
//! `default-route` is pinned to the interfaces that carried the default route when it was
//! saved: at boot the unit runs before any network is configured, when no route exists.

use std::path::Path;

use yaml_serde::Value;

use crate::host::Host;
use crate::profile::network::{Network, SelectorKey};
use crate::profile::{Catalog, Profile};
use crate::tune::net::iface::{self, Selector};

use super::{APPLIED_FILE, one_line};

/// The document saved for `profile` on `host` (also recorded in each snapshot for
/// `status`). Fails only on text that would not stay on its line in the header.
pub fn document(host: &Host, profile: &Profile) -> anyhow::Result<String> {
    let mut profile = profile.clone();
    let pinned = pin_default_route(host, &mut profile.network);
    let mut value = yaml_serde::to_value(&profile)?;
    if let Value::Mapping(map) = &mut value {
        // Where it was read from and what it included: not fields of a profile document.
        map.remove("source");
        map.remove("resolved_from");
    }
    strip_origins(&mut value);
    let mut text = format!(
        "# The profile `hostperf apply --persist {}` applied, includes resolved. At every boot\n\
         # hostperf-apply.service applies it (`hostperf apply --boot`), and hostperf-iface@.service\n\
         # applies its interface settings to each interface that appears later\n\
         # (`hostperf apply --boot --iface NAME`). Written by hostperf: `apply --persist`\n\
         # replaces it, `hostperf rollback` removes it.\n",
        profile.name
    );
    if !pinned.is_empty() {
        let line = format!(
            "# default-route: pinned to {}, which carried the default route when this was saved\n# (no route exists yet when the boot unit runs).\n",
            pinned.join(", ")
        );
        one_line("default-route", line.trim_end().replace('\n', " ").as_str())?;
        text.push_str(&line);
    }
    text.push_str(&yaml_serde::to_string(&value)?);
    Ok(text)
}

/// Replaces the `default-route` selector with the interfaces it picks now; an explicit
/// block for the same interface wins key by key. Nothing changes when no interface
/// carries the default route. Returns the interfaces pinned.
fn pin_default_route(host: &Host, network: &mut Network) -> Vec<String> {
    let key = SelectorKey("default-route".into());
    let Some(block) = network.interfaces.get(&key).cloned() else {
        return Vec::new();
    };
    let names = match Selector::DefaultRoute.resolve(host) {
        Ok((names, _)) if !names.is_empty() => names,
        _ => return Vec::new(),
    };
    network.interfaces.remove(&key);
    for name in &names {
        let name_key = SelectorKey(name.clone());
        let mut merged = Network::default();
        merged.interfaces.insert(name_key.clone(), block.clone());
        if let Some(explicit) = network.interfaces.remove(&name_key) {
            let mut over = Network::default();
            over.interfaces.insert(name_key.clone(), explicit);
            merged.merge(over, "");
        }
        network.interfaces.extend(merged.interfaces);
    }
    names
}

/// Removes `from` (which profile an entry came from) from every entry: a profile document
/// does not have it.
fn strip_origins(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            let is_entry = ["value", "soft", "hard"]
                .iter()
                .any(|k| map.contains_key(*k));
            if is_entry {
                map.remove("from");
            }
            for (_, v) in map.iter_mut() {
                strip_origins(v);
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(strip_origins),
        Value::Tagged(tagged) => strip_origins(&mut tagged.value),
        _ => {}
    }
}

/// The saved profile of `host`, or None when nothing is persisted. Loaded as a profile
/// file: same parser and limits, and as root it must be owned by root and writable by
/// nobody else, like every profile.
pub fn load(catalog: &Catalog, host: &Host) -> anyhow::Result<Option<Profile>> {
    if !host.exists(APPLIED_FILE) {
        return Ok(None);
    }
    catalog.load_file(&host.path(APPLIED_FILE)).map(Some)
}

/// Prepares the saved profile for the host as it is now: a network block that names an
/// interface that does not exist (yet) is left out — the udev rule applies it when the
/// interface appears. Returns a note per interface left out.
pub fn for_boot(host: &Host, profile: &mut Profile) -> Vec<String> {
    let mut notes = Vec::new();
    profile.network.interfaces.retain(|key, _| {
        let keep = match Selector::parse(&key.0) {
            Ok(Selector::Name(name)) => iface::exists(host, &name),
            _ => true,
        };
        if !keep {
            notes.push(format!(
                "interface {} is not present now; its settings are applied when it appears (90-hostperf.rules)",
                key.0
            ));
        }
        keep
    });
    notes
}

/// Whether the saved file is in place (cheap: one stat).
pub fn exists(host: &Host) -> bool {
    host.exists(APPLIED_FILE)
}

/// The path of the saved file below the host's root, for messages.
pub fn path(host: &Host) -> std::path::PathBuf {
    host.path(Path::new(APPLIED_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A captured host whose eth0 (virtio) carries the default route.
    const VM: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/hosts/virtio-2vcpu"
    );

    /// Every built-in profile saves to a document that loads back to the same profile: the
    /// same settings, values, reasons and optional flags, every section included.
    #[test]
    fn every_builtin_profile_round_trips_through_its_saved_document() {
        let catalog = Catalog::new("/nonexistent");
        let host = Host::with_root("/nonexistent-root");
        for summary in catalog.list().unwrap() {
            let profile = catalog.load(&summary.name).unwrap();
            let text = document(&host, &profile).unwrap();
            let back = catalog
                .load_document(Path::new("applied.yaml"), &text)
                .unwrap_or_else(|e| panic!("{}: {e:#}\n{text}", summary.name));
            let plain = |p: &Profile| {
                let mut v = yaml_serde::to_value(p).unwrap();
                strip_origins(&mut v);
                if let Value::Mapping(m) = &mut v {
                    m.remove("source");
                    m.remove("resolved_from");
                }
                yaml_serde::to_string(&v).unwrap()
            };
            assert_eq!(plain(&back), plain(&profile), "{}", summary.name);
            assert!(!text.contains("\ninclude:"), "{text}");
        }
    }

    #[test]
    fn default_route_is_pinned_and_an_explicit_block_wins() {
        let catalog = Catalog::new("/nonexistent");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(
            &file,
            "include: [latency-profile]\nnetwork:\n  interfaces:\n    eth0:\n      rps_flow_cnt: {value: 1024, reason: mine}\n",
        )
        .unwrap();
        let profile = catalog.load_file(&file).unwrap();
        let host = Host::with_root(VM);
        let text = document(&host, &profile).unwrap();
        assert!(text.contains("pinned to eth0"), "{text}");
        let back = catalog
            .load_document(Path::new("applied.yaml"), &text)
            .unwrap();
        let keys: Vec<&str> = back
            .network
            .interfaces
            .keys()
            .map(|k| k.0.as_str())
            .collect();
        assert_eq!(keys, ["eth0"]);
        let eth0 = &back.network.interfaces[&SelectorKey("eth0".into())];
        assert_eq!(
            eth0.rps_flow_cnt.as_ref().unwrap().value.to_string(),
            "1024"
        );
        assert!(
            eth0.irq_affinity.is_some(),
            "the default-route block's keys stay"
        );
        // No default route (a namespace before its network is up): left as it is.
        let text = document(&Host::with_root("/nonexistent-root"), &profile).unwrap();
        assert!(text.contains("default-route:"), "{text}");
    }

    #[test]
    fn absent_named_interfaces_are_left_to_the_udev_rule() {
        let catalog = Catalog::new("/nonexistent");
        let text = "name: t\nnetwork:\n  interfaces:\n    eth0: {txqueuelen: 2000}\n    eth9: {txqueuelen: 2000}\n    \"en*\": {txqueuelen: 2000}\n";
        let mut profile = catalog
            .load_document(Path::new("applied.yaml"), text)
            .unwrap();
        let notes = for_boot(&Host::with_root(VM), &mut profile);
        let keys: Vec<&str> = profile
            .network
            .interfaces
            .keys()
            .map(|k| k.0.as_str())
            .collect();
        assert_eq!(keys, ["en*", "eth0"]);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("eth9"), "{notes:?}");
    }
}
