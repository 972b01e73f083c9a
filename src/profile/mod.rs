//! Profiles: where they come from (built in, the profile directory, a file), how includes
//! resolve (depth first, later wins, cycles rejected), and the resolved result.

pub mod facts;
pub mod network;
mod schema;
pub mod when;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exit::UsageError;
use crate::host::rlimit::Resource;
use crate::host::sysctl::SysctlKey;
use crate::tune::cpu::IdleLimit;
use crate::tune::sysfs::SysfsKey;

pub use network::Network;
pub use schema::{CpuSection, Item, ProfileDoc, SysctlEntry, UlimitEntry, bad_name};
pub use when::{Conditions, When};

/// Profiles compiled into the binary, from profiles/.
const BUILTIN: &[(&str, &str)] = &[
    ("api-base", include_str!("../../profiles/api-base.yaml")),
    (
        "latency-profile",
        include_str!("../../profiles/latency-profile.yaml"),
    ),
    (
        "throughput-profile",
        include_str!("../../profiles/throughput-profile.yaml"),
    ),
    ("busy-poll", include_str!("../../profiles/busy-poll.yaml")),
    ("edge", include_str!("../../profiles/edge.yaml")),
    ("nat-node", include_str!("../../profiles/nat-node.yaml")),
    ("datacenter", include_str!("../../profiles/datacenter.yaml")),
    ("low-jitter", include_str!("../../profiles/low-jitter.yaml")),
];

/// The names of the built-in profiles, in catalogue order.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type", content = "path")]
pub enum Source {
    Builtin,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Builtin => f.write_str("built-in"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A profile with its includes folded in.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub source: Source,
    /// Every profile that contributed, in the order they were applied (this one last).
    pub resolved_from: Vec<String>,
    pub sysctl: BTreeMap<SysctlKey, SysctlEntry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysfs: BTreeMap<SysfsKey, SysctlEntry>,
    #[serde(skip_serializing_if = "CpuSettings::is_empty")]
    pub cpu: CpuSettings,
    pub ulimits: BTreeMap<Resource, UlimitEntry>,
    #[serde(skip_serializing_if = "Network::is_empty")]
    pub network: Network,
}

/// The resolved `cpu` section: each setting carries its own conditions (the section's and
/// its file's included).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CpuSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub governor: Option<SysctlEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_performance_preference: Option<SysctlEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_idle_latency_us: Option<SysctlEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_limit: Option<IdleLimit>,
}

impl CpuSettings {
    pub fn is_empty(&self) -> bool {
        self.governor.is_none()
            && self.energy_performance_preference.is_none()
            && self.max_idle_latency_us.is_none()
    }

    /// The settings by name, in write order.
    pub fn entries(&self) -> [(&'static str, Option<&SysctlEntry>); 3] {
        [
            (
                "energy_performance_preference",
                self.energy_performance_preference.as_ref(),
            ),
            ("scaling_governor", self.governor.as_ref()),
            ("max_idle_latency_us", self.max_idle_latency_us.as_ref()),
        ]
    }
}
/// One line of `hostperf profiles`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub name: String,
    pub description: String,
    pub source: Source,
}

/// The largest profile file read.
pub const MAX_PROFILE_BYTES: u64 = 1 << 20;

/// Limits on a profile's YAML, checked before it is parsed: libyaml's parser takes time
/// quadratic in nesting depth (100,000 levels took 16 s), and aliases can repeat a large
/// node many times over (a 160 KB file grew to 2 GB).
pub mod limits {
    /// Flow collections (`[`, `{`) in one file; a profile has one per list value.
    pub const FLOW_MAX: usize = 1000;
    /// Block nesting (indentation levels and leading `- ` / `? ` on a line).
    pub const DEPTH_MAX: usize = 32;
    /// What the document may expand to with its aliases: 16 per node plus each scalar's
    /// bytes. The built-in profiles use about 20,000.
    pub const EXPANDED_MAX: u64 = 4 << 20;
}

/// Where profiles are looked up: user directory first (it may override a built-in), then
/// the built-ins. As root, a profile file or directory owned by another (non-root) user,
/// or writable by group or others, is refused, as sudo and sshd refuse such files: its
/// owner could make root write any setting.
pub struct Catalog {
    user_dir: PathBuf,
}

struct Found {
    name: String,
    text: String,
    source: Source,
}

impl Catalog {
    pub fn new(user_dir: impl Into<PathBuf>) -> Self {
        Catalog {
            user_dir: user_dir.into(),
        }
    }

    /// Every profile, by name. A user file that cannot be used is reported as a warning
    /// and left out; it does not hide the others.
    pub fn list(&self) -> anyhow::Result<Vec<Summary>> {
        let (list, problems) = self.list_checked();
        for problem in problems {
            tracing::warn!("{problem}");
        }
        Ok(list)
    }

    /// Every usable profile, and one message per user file that was left out.
    pub fn list_checked(&self) -> (Vec<Summary>, Vec<String>) {
        let mut by_name: BTreeMap<String, Summary> = BTreeMap::new();
        let mut problems = Vec::new();
        let mut found: Vec<Found> = BUILTIN.iter().map(|(n, t)| builtin(n, t)).collect();
        match self.user_files() {
            Ok((files, skipped)) => {
                found.extend(files);
                problems.extend(skipped);
            }
            Err(e) => problems.push(format!("{e:#}")),
        }
        for f in found {
            let doc = match parse(&f.text, &f.source) {
                Ok(doc) => doc,
                Err(e) => {
                    problems.push(format!("{e:#}; left out"));
                    continue;
                }
            };
            let name = doc.name.clone().unwrap_or(f.name);
            if name.contains(char::is_control) {
                problems.push(format!(
                    "profile {}: its file name has a control character; left out",
                    f.source
                ));
                continue;
            }
            by_name.insert(
                name.clone(),
                Summary {
                    name,
                    description: doc.description,
                    source: f.source,
                },
            );
        }
        (by_name.into_values().collect(), problems)
    }

    /// Loads a profile by name, includes resolved.
    pub fn load(&self, name: &str) -> anyhow::Result<Profile> {
        let found = self.find(name)?;
        let profile = self.resolve(found, &mut Vec::new())?;
        check_resolved(&profile)?;
        Ok(profile)
    }

    /// A profile made of `includes` in order (a base profile and add-ons), named `name`:
    /// what `hostperf recommend` plans. One name loads that profile itself.
    pub fn compose(&self, name: &str, includes: &[String]) -> anyhow::Result<Profile> {
        if let [one] = includes {
            return self.load(one);
        }
        if let Some(why) = schema::bad_name(name) {
            return Err(UsageError::new(why));
        }
        for include in includes {
            if let Some(why) = schema::bad_name(include) {
                return Err(UsageError::new(why));
            }
        }
        let text = format!(
            "description: {}\ninclude: [{}]\n",
            includes.join(" + "),
            includes.join(", ")
        );
        let profile = self.resolve(builtin(name, &text), &mut Vec::new())?;
        check_resolved(&profile)?;
        Ok(profile)
    }

    /// Loads a profile from a file; its includes are names, or `./FILE.yaml` below it.
    pub fn load_file(&self, path: &Path) -> anyhow::Result<Profile> {
        let found = read_file(path)?;
        let profile = self.resolve(found, &mut Vec::new())?;
        check_resolved(&profile)?;
        Ok(profile)
    }

    /// Loads a self-contained profile document from text (a profile a snapshot recorded):
    /// the same parser and limits as a profile file; `origin` names it in errors.
    pub fn load_document(&self, origin: &Path, text: &str) -> anyhow::Result<Profile> {
        if text.len() as u64 > MAX_PROFILE_BYTES {
            return Err(UsageError::new(format!(
                "profile {}: {} bytes; profiles are at most {MAX_PROFILE_BYTES} bytes (1 MiB)",
                origin.display(),
                text.len()
            )));
        }
        let found = Found {
            name: String::new(),
            text: text.to_string(),
            source: Source::File(origin.to_path_buf()),
        };
        let profile = self.resolve(found, &mut Vec::new())?;
        check_resolved(&profile)?;
        Ok(profile)
    }

    /// The user profile files, and a message for each entry left out.
    fn user_files(&self) -> anyhow::Result<(Vec<Found>, Vec<String>)> {
        let entries = match std::fs::read_dir(&self.user_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), Vec::new()));
            }
            Err(e) => {
                return Err(UsageError::new(format!(
                    "cannot read the profile directory {}: {e}",
                    self.user_dir.display()
                )));
            }
        };
        check_trusted_dir(&self.user_dir)?;
        let mut paths = Vec::new();
        let mut problems = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_file() => paths.push(path),
                Ok(t) => problems.push(format!(
                    "profile {}: {}; hostperf reads only regular files, left out",
                    path.display(),
                    if t.is_symlink() {
                        "a symbolic link"
                    } else {
                        "not a regular file"
                    }
                )),
                Err(e) => problems.push(format!("profile {}: {e}; left out", path.display())),
            }
        }
        paths.sort();
        let mut files = Vec::new();
        for path in paths {
            match read_file(&path) {
                Ok(found) => files.push(found),
                Err(e) => problems.push(format!("{e:#}; left out")),
            }
        }
        Ok((files, problems))
    }

    /// A profile by name: the user directory first, then the built-ins. A user file that
    /// exists but cannot be used is an error, never silently replaced by the built-in.
    fn find(&self, name: &str) -> anyhow::Result<Found> {
        if let Some(why) = schema::bad_name(name) {
            return Err(UsageError::new(why));
        }
        for ext in ["yaml", "yml"] {
            let path = self.user_dir.join(format!("{name}.{ext}"));
            if std::fs::symlink_metadata(&path).is_ok() {
                check_trusted_dir(&self.user_dir)?;
                return read_file(&path);
            }
        }
        if let Some((n, t)) = BUILTIN.iter().find(|(n, _)| *n == name) {
            return Ok(builtin(n, t));
        }
        let known: Vec<String> = self.list()?.into_iter().map(|s| s.name).collect();
        Err(UsageError::new(format!(
            "no profile named {name:?}; known profiles: {} (user profiles go in {} as NAME.yaml)",
            known.join(", "),
            self.user_dir.display()
        )))
    }

    /// An include: a name (user directory, then built-ins), or `./FILE.yaml` resolved
    /// against the including file's directory.
    fn find_include(&self, include: &str, from: &Source) -> anyhow::Result<Found> {
        let Some(rel) = include.strip_prefix("./") else {
            return self.find(include);
        };
        match from {
            Source::File(path) => {
                let dir = path.parent().unwrap_or(Path::new("."));
                read_file(&dir.join(rel))
            }
            Source::Builtin => Err(UsageError::new(
                "a built-in profile cannot include a file".to_string(),
            )),
        }
    }

    fn resolve(&self, found: Found, stack: &mut Vec<String>) -> anyhow::Result<Profile> {
        let doc = parse(&found.text, &found.source)?;
        // A name from the file (not `name:`) is only shown and written in comments: any
        // file name will do, but a control character would start a new line.
        let name = match doc.name.clone() {
            Some(name) => name,
            None if found.name.is_empty() || found.name.contains(char::is_control) => {
                return Err(UsageError::new(format!(
                    "profile {}: the file's name gives the profile name, and {:?} is empty or has a control character; add `name: ...` to the file or rename it",
                    found.source, found.name
                )));
            }
            None => found.name,
        };
        if stack.contains(&name) {
            stack.push(name);
            return Err(UsageError::new(format!(
                "profile include cycle: {}; remove one of these includes",
                stack.join(" -> ")
            )));
        }
        if stack.len() >= 32 {
            return Err(UsageError::new(format!(
                "profile includes nest more than 32 deep: {}",
                stack.join(" -> ")
            )));
        }
        stack.push(name.clone());
        let mut profile = Profile {
            name: name.clone(),
            description: doc.description,
            source: found.source.clone(),
            resolved_from: Vec::new(),
            sysctl: BTreeMap::new(),
            sysfs: BTreeMap::new(),
            cpu: CpuSettings::default(),
            ulimits: BTreeMap::new(),
            network: Network::default(),
        };
        for include in &doc.include {
            let inner = self.find_include(include, &found.source).map_err(|e| {
                UsageError::new(format!(
                    "profile {name} ({}): include {include:?}: {e:#}",
                    found.source
                ))
            })?;
            let included = self.resolve(inner, stack)?;
            profile.absorb(included);
        }
        let (sysctl, sysctl_drops) = split(doc.sysctl);
        let (sysfs, sysfs_drops) = split(doc.sysfs);
        let (ulimits, ulimit_drops) = split(doc.ulimits);
        let dropped = |what: String| {
            UsageError::new(format!(
                "profile {name} ({}): {what}: drop: true, but no included profile sets it; remove the line",
                found.source
            ))
        };
        for key in sysctl_drops {
            if profile.sysctl.remove(&key).is_none() {
                return Err(dropped(format!("sysctl {key}")));
            }
        }
        for key in sysfs_drops {
            if profile.sysfs.remove(&key).is_none() {
                return Err(dropped(format!("sysfs {key}")));
            }
        }
        for resource in ulimit_drops {
            if profile.ulimits.remove(&resource).is_none() {
                return Err(dropped(format!("ulimit {resource}")));
            }
        }
        let outer = &doc.when;
        let sysctl = stamp(sysctl, &name, |e, n| {
            e.from = n.to_string();
            e.when.and(outer);
        });
        let sysfs = stamp(sysfs, &name, |e, n| {
            e.from = n.to_string();
            e.when.and(outer);
        });
        let ulimits = stamp(ulimits, &name, |e, n| {
            e.from = n.to_string();
            e.when.and(outer);
        });
        let mut network = doc.network.unwrap_or_default();
        for entry in network_entries(&mut network) {
            entry.when.and(outer);
        }
        let cpu = match doc.cpu {
            Some(section) => profile.cpu.fold(section, &name, outer).map_err(|what| {
                UsageError::new(format!(
                    "profile {name} ({}): {what}: drop: true, but no included profile sets it; remove the line",
                    found.source
                ))
            })?,
            None => CpuSettings::default(),
        };
        let own = Profile {
            name: name.clone(),
            description: String::new(),
            source: found.source,
            resolved_from: vec![name.clone()],
            sysctl,
            sysfs,
            cpu,
            ulimits,
            network,
        };
        profile.absorb(own);
        stack.pop();
        Ok(profile)
    }
}

/// The settings of a section, and the keys it drops.
fn split<K: Ord, V>(items: BTreeMap<K, Item<V>>) -> (BTreeMap<K, V>, Vec<K>) {
    let mut set = BTreeMap::new();
    let mut drops = Vec::new();
    for (key, item) in items {
        match item {
            Item::Set(v) => {
                set.insert(key, v);
            }
            Item::Drop => drops.push(key),
        }
    }
    (set, drops)
}

/// Sysctls of which the kernel keeps one: writing either zeroes the other
/// (mm/page-writeback.c, dirty_bytes_handler and dirty_ratio_handler).
pub const EXCLUSIVE: &[(&str, &str)] = &[
    ("vm.dirty_bytes", "vm.dirty_ratio"),
    ("vm.dirty_background_bytes", "vm.dirty_background_ratio"),
];

/// Rules over the whole resolved profile: no two mutually exclusive keys.
fn check_resolved(profile: &Profile) -> anyhow::Result<()> {
    for (a, b) in EXCLUSIVE {
        let key = |k: &str| SysctlKey::parse(k).expect("valid key");
        if let (Some(ea), Some(eb)) = (profile.sysctl.get(&key(a)), profile.sysctl.get(&key(b))) {
            return Err(UsageError::new(format!(
                "profile {} sets both {a} (from {}) and {b} (from {}): writing one makes the kernel zero the other, so both cannot hold. Keep one; to remove an inherited one, write `{b}: {{drop: true}}` (or `{a}: {{drop: true}}`) in {}",
                profile.name, ea.from, eb.from, profile.name
            )));
        }
    }
    // The file when the setting is the profile's own; else the included profile's name.
    let fail = |what: String, e: &SysctlEntry, why: String| {
        let from = if e.from == profile.name {
            profile.source.to_string()
        } else {
            format!("included profile {}", e.from)
        };
        Err(UsageError::new(format!(
            "profile {} ({what}, in {from}): {why}; fix the value there",
            profile.name
        )))
    };
    for (key, e) in &profile.sysctl {
        let listeners = e.value.to_string() == crate::tune::ports::LISTENERS;
        if listeners && key.to_string() != crate::tune::ports::KEY {
            return fail(
                format!("sysctl {key}"),
                e,
                format!(
                    "`listeners` is a value only {} takes (the ports this host listens on)",
                    crate::tune::ports::KEY
                ),
            );
        }
    }
    for (key, e) in &profile.sysfs {
        if let Err(why) = key.attr.check_value(&e.value.to_string()) {
            return fail(format!("sysfs {key}"), e, why);
        }
    }
    let word = |v: &str| {
        !v.is_empty()
            && v.len() <= 32
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    for (name, entry) in profile.cpu.entries() {
        let Some(e) = entry else { continue };
        let value = e.value.to_string();
        let ok = match name {
            "max_idle_latency_us" => matches!(
                e.value.fields.as_slice(),
                [crate::tune::Want::Exact(v)] if v.parse::<u32>().is_ok_and(|n| n <= i32::MAX as u32)
            ),
            _ => e.value.fields.len() == 1 && word(&value),
        };
        if !ok {
            let why = match name {
                "max_idle_latency_us" => format!(
                    "{value:?} is not a latency: microseconds from 0 to 2147483647 (0 leaves only polling)"
                ),
                _ => format!("{value:?} is not a single word such as performance"),
            };
            return fail(format!("cpu {name}"), e, why);
        }
    }
    Ok(())
}

impl Profile {
    /// Folds `later` over this profile: its keys win.
    fn absorb(&mut self, later: Profile) {
        for n in later.resolved_from {
            if !self.resolved_from.contains(&n) {
                self.resolved_from.push(n);
            }
        }
        self.sysctl.extend(later.sysctl);
        self.sysfs.extend(later.sysfs);
        self.cpu.extend(later.cpu);
        self.ulimits.extend(later.ulimits);
        let from = later.name;
        self.network.merge(later.network, &from);
    }

    /// Whether any setting carries a condition (then the host's facts are read).
    pub fn has_conditions(&self) -> bool {
        let entries = self
            .sysctl
            .values()
            .chain(self.sysfs.values())
            .chain(self.cpu.entries().into_iter().filter_map(|(_, e)| e));
        entries.into_iter().any(|e| !e.when.is_empty())
            || self.ulimits.values().any(|e| !e.when.is_empty())
            || network_entries(&mut self.network.clone())
                .iter()
                .any(|e| !e.when.is_empty())
    }

    /// Whether applying this profile writes kernel settings (and so needs root).
    pub fn writes_kernel_settings(&self) -> bool {
        !self.sysctl.is_empty()
            || !self.sysfs.is_empty()
            || !self.cpu.is_empty()
            || !self.network.is_empty()
    }
}

impl CpuSettings {
    /// This profile's own section over the inherited settings (`self`): fields it sets win,
    /// `{drop: true}` removes an inherited one. The section's and file's conditions go onto
    /// each of its settings. Returns only the section's own settings, to be absorbed.
    fn fold(
        &mut self,
        section: CpuSection,
        from: &str,
        outer: &Conditions,
    ) -> Result<CpuSettings, String> {
        let mut when = section.when.clone();
        when.and(outer);
        let mut own = CpuSettings {
            cpus: section.cpus,
            idle_limit: section.idle_limit,
            ..CpuSettings::default()
        };
        for (name, item, mine, inherited) in [
            (
                "governor",
                section.governor,
                &mut own.governor,
                &mut self.governor,
            ),
            (
                "energy_performance_preference",
                section.energy_performance_preference,
                &mut own.energy_performance_preference,
                &mut self.energy_performance_preference,
            ),
            (
                "max_idle_latency_us",
                section.max_idle_latency_us,
                &mut own.max_idle_latency_us,
                &mut self.max_idle_latency_us,
            ),
        ] {
            match item {
                Some(Item::Set(mut e)) => {
                    e.from = from.to_string();
                    e.when.and(&when);
                    *mine = Some(e);
                }
                Some(Item::Drop) if inherited.take().is_none() => {
                    return Err(format!("cpu {name}"));
                }
                Some(Item::Drop) => {}
                None => {}
            }
        }
        Ok(own)
    }

    /// A later profile's settings over these, field by field.
    fn extend(&mut self, later: CpuSettings) {
        if later.cpus.is_some() {
            self.cpus = later.cpus;
        }
        if later.idle_limit.is_some() {
            self.idle_limit = later.idle_limit;
        }
        for (mine, theirs) in [
            (&mut self.governor, later.governor),
            (
                &mut self.energy_performance_preference,
                later.energy_performance_preference,
            ),
            (&mut self.max_idle_latency_us, later.max_idle_latency_us),
        ] {
            if theirs.is_some() {
                *mine = theirs;
            }
        }
    }
}

/// Every leaf of a network section, for attaching conditions and reading them.
pub fn network_entries(net: &mut Network) -> Vec<&mut SysctlEntry> {
    let mut out: Vec<&mut SysctlEntry> = Vec::new();
    out.extend(net.congestion_control.as_mut());
    out.extend(net.default_qdisc.as_mut());
    out.extend(net.rps_sock_flow_entries.as_mut());
    for iface in net.interfaces.values_mut() {
        out.extend(iface.root_qdisc.as_mut());
        out.extend(iface.txqueuelen.as_mut());
        out.extend(iface.channels.values_mut());
        out.extend(iface.rings.values_mut());
        out.extend(iface.coalesce.values_mut());
        out.extend(iface.rps_cpus.as_mut());
        out.extend(iface.rps_flow_cnt.as_mut());
        out.extend(iface.xps_cpus.as_mut());
        out.extend(iface.irq_affinity.as_mut());
    }
    out
}

fn stamp<K: Ord, V>(map: BTreeMap<K, V>, name: &str, set: impl Fn(&mut V, &str)) -> BTreeMap<K, V> {
    map.into_iter()
        .map(|(k, mut v)| {
            set(&mut v, name);
            (k, v)
        })
        .collect()
}

fn builtin(name: &str, text: &str) -> Found {
    Found {
        name: name.to_string(),
        text: text.to_string(),
        source: Source::Builtin,
    }
}

/// Whether this process runs as root, when profile ownership is enforced.
fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// As root: refuses a file or directory owned by a non-root user, or writable by group or
/// others (what sudo does with sudoers and sshd with authorized_keys).
fn check_trusted(meta: &std::fs::Metadata, path: &Path, what: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if !running_as_root() {
        return Ok(());
    }
    if meta.uid() != 0 {
        return Err(UsageError::new(format!(
            "refusing {what} {}: it is owned by uid {}, and hostperf runs as root, so its owner could make root write any setting. Fix: read it, then `chown root {}`",
            path.display(),
            meta.uid(),
            path.display()
        )));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(UsageError::new(format!(
            "refusing {what} {}: it is writable by group or others (mode {:04o}), so any of them could make root write any setting. Fix: read it, then `chmod go-w {}`",
            path.display(),
            meta.mode() & 0o7777,
            path.display()
        )));
    }
    Ok(())
}

fn check_trusted_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) => check_trusted(&meta, dir, "profile directory"),
        Err(e) => Err(UsageError::new(format!(
            "cannot read the profile directory {}: {e}",
            dir.display()
        ))),
    }
}

/// Reads one profile file: opened with O_NOFOLLOW and O_NONBLOCK (a link is refused, a
/// FIFO cannot hang the read), only a regular file of at most 1 MiB, and as root only one
/// owned by root in a directory owned by root, neither writable by group or others.
fn read_file(path: &Path) -> anyhow::Result<Found> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let refuse = |why: String| UsageError::new(format!("profile {}: {why}", path.display()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refuse(
                "is a symbolic link; hostperf reads profiles only from regular files (pass the real path, `readlink -f`)".into(),
            ),
            _ => refuse(format!("cannot read it: {e}")),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| refuse(format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(refuse(
            "is not a regular file (a FIFO, device or directory); left alone".into(),
        ));
    }
    if meta.len() > MAX_PROFILE_BYTES {
        return Err(refuse(format!(
            "is {} bytes; profiles are at most {} bytes (1 MiB)",
            meta.len(),
            MAX_PROFILE_BYTES
        )));
    }
    check_trusted(&meta, path, "profile")?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir_meta = std::fs::metadata(dir).map_err(|e| refuse(format!("its directory: {e}")))?;
    check_trusted(&dir_meta, dir, "profile directory")?;
    let mut bytes = Vec::new();
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(format!("cannot read it: {e}")))?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(refuse("grew past 1 MiB while being read".into()));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        refuse(format!(
            "is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Found {
        name,
        text,
        source: Source::File(path.to_path_buf()),
    })
}

/// Parses one profile document; errors name the file, line and column. Files (not the
/// built-ins) are first held to [`limits`].
pub fn parse(text: &str, source: &Source) -> anyhow::Result<ProfileDoc> {
    let fail = |e: String| UsageError::new(format!("profile {source}: {}", plain_error(&e)));
    if *source != Source::Builtin {
        if text.len() as u64 > MAX_PROFILE_BYTES {
            return Err(fail(format!(
                "{} bytes; profiles are at most 1 MiB",
                text.len()
            )));
        }
        prescan(text).map_err(fail)?;
        let budget = std::cell::Cell::new(limits::EXPANDED_MAX);
        serde::de::DeserializeSeed::deserialize(
            Budget(&budget),
            yaml_serde::Deserializer::from_str(text),
        )
        .map_err(|e| fail(e.to_string()))?;
    }
    yaml_serde::from_str::<Option<ProfileDoc>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| fail(e.to_string()))
}

/// The parser's words for a type, in the words of a profile file.
fn plain_error(e: &str) -> String {
    e.replace(
        "expected struct ProfileDoc",
        "expected a profile: a mapping of sections such as `sysctl:` and `network:`",
    )
    .replace("expected a map", "expected a mapping of `key: value` lines")
    .replace("expected struct ", "expected the section ")
    .replace(
        "repetition limit exceeded",
        "YAML aliases repeat too much (a profile may expand to at most 4 MiB; write the values out instead)",
    )
}

/// Counts what the YAML nests before the parser sees it: flow collections and block
/// depth, with margins (a `[` in a quoted string counts too), so the check is never less
/// than the parser's own nesting.
fn prescan(text: &str) -> Result<(), String> {
    let flows = text.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    if flows > limits::FLOW_MAX {
        return Err(format!(
            "{flows} flow collections ('[' or '{{'); a profile may have at most {}",
            limits::FLOW_MAX
        ));
    }
    let mut indents: Vec<usize> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let rest = line.trim_start_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            continue;
        }
        let indent = line.len() - rest.len();
        while indents.last().is_some_and(|&top| top > indent) {
            indents.pop();
        }
        if indents.last() != Some(&indent) {
            indents.push(indent);
        }
        let mut depth = indents.len();
        let mut rest = rest;
        while let Some(next) = ["- ", "-\t", "? ", "?\t"]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
        {
            depth += 1;
            rest = next.trim_start_matches([' ', '\t']);
        }
        if depth > limits::DEPTH_MAX {
            return Err(format!(
                "line {}: nested {depth} levels deep; a profile may nest at most {}",
                number + 1,
                limits::DEPTH_MAX
            ));
        }
    }
    Ok(())
}

/// A mapping key for [`Budget`]: its text when it is a scalar (charged like any scalar),
/// `None` for a collection (walked and charged by [`Budget`]).
struct KeyText<'a>(&'a std::cell::Cell<u64>);

impl<'de> serde::de::DeserializeSeed<'de> for KeyText<'_> {
    type Value = Option<String>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyText<'_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Budget(self.0).charge(0).map(|()| Some(v.to_string()))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Budget(self.0).charge(0).map(|()| Some(v.to_string()))
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Budget(self.0).charge(0).map(|()| Some(v.to_string()))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Budget(self.0).charge(0).map(|()| Some(v.to_string()))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Budget(self.0).charge(v.len()).map(|()| Some(v.to_string()))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Budget(self.0).charge(0).map(|()| Some("null".into()))
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Budget(self.0).visit_some(d).map(|()| None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Budget(self.0).visit_seq(seq).map(|()| None)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Budget(self.0).visit_map(map).map(|()| None)
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        Budget(self.0).visit_enum(data).map(|()| None)
    }
}

/// Walks the document as the deserializer will, aliases expanded, charging 16 per node
/// plus each scalar's bytes, and stops when the budget is spent.
struct Budget<'a>(&'a std::cell::Cell<u64>);

impl Budget<'_> {
    fn charge<E: serde::de::Error>(&self, bytes: usize) -> Result<(), E> {
        let cost = 16 + bytes as u64;
        match self.0.get().checked_sub(cost) {
            Some(left) => {
                self.0.set(left);
                Ok(())
            }
            None => Err(E::custom(format!(
                "the document expands past {} MiB (YAML aliases repeat what they name); a profile needs far less",
                limits::EXPANDED_MAX >> 20
            ))),
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Budget<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Budget<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML")
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.charge(v.len())
    }
    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<(), E> {
        self.charge(v.len())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.charge(0)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.charge::<D::Error>(0)?;
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.charge::<A::Error>(0)?;
        while seq.next_element_seed(Budget(self.0))?.is_some() {}
        Ok(())
    }
    /// Also refuses a key given twice in one mapping: YAML forbids it, and the parser would
    /// keep the last silently, so the earlier line would look applied but not be.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.charge::<A::Error>(0)?;
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key_seed(KeyText(self.0))? {
            if let Some(key) = key
                && !seen.insert(key.clone())
            {
                return Err(serde::de::Error::custom(format!(
                    "{key:?} is given twice (YAML would keep only the last; remove one) in the mapping that starts"
                )));
            }
            map.next_value_seed(Budget(self.0))?;
        }
        Ok(())
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use serde::de::VariantAccess;
        self.charge::<A::Error>(0)?;
        let ((), variant) = data.variant_seed(Budget(self.0))?;
        variant.newtype_variant_seed(Budget(self.0))
    }
}

#[cfg(test)]
mod tests;
