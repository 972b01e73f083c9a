//! Profiles: where they come from (built in, the profile directory, a file), how includes
//! resolve (depth first, later wins, cycles rejected), and the resolved result.

pub mod network;
mod schema;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exit::UsageError;
use crate::host::rlimit::Resource;
use crate::host::sysctl::SysctlKey;

pub use network::Network;
pub use schema::{ProfileDoc, SysctlEntry, UlimitEntry};

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
];

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
    pub ulimits: BTreeMap<Resource, UlimitEntry>,
    #[serde(skip_serializing_if = "Network::is_empty")]
    pub network: Network,
}

/// One line of `hostperf profiles`.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub name: String,
    pub description: String,
    pub source: Source,
}

/// Where profiles are looked up: user directory first (it may override a built-in), then
/// the built-ins.
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

    pub fn list(&self) -> anyhow::Result<Vec<Summary>> {
        let mut by_name: BTreeMap<String, Summary> = BTreeMap::new();
        let mut found: Vec<Found> = BUILTIN.iter().map(|(n, t)| builtin(n, t)).collect();
        found.extend(self.user_files()?);
        for f in found {
            let doc = parse(&f.text, &f.source)?;
            let name = doc.name.clone().unwrap_or(f.name);
            by_name.insert(
                name.clone(),
                Summary {
                    name,
                    description: doc.description,
                    source: f.source,
                },
            );
        }
        Ok(by_name.into_values().collect())
    }

    /// Loads a profile by name, includes resolved.
    pub fn load(&self, name: &str) -> anyhow::Result<Profile> {
        let found = self.find(name, None)?;
        self.resolve(found, &mut Vec::new())
    }

    /// Loads a profile from a file; its includes are names, or files beside it.
    pub fn load_file(&self, path: &Path) -> anyhow::Result<Profile> {
        let found = read_file(path)?;
        self.resolve(found, &mut Vec::new())
    }

    fn user_files(&self) -> anyhow::Result<Vec<Found>> {
        let entries = match std::fs::read_dir(&self.user_dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(UsageError::new(format!(
                    "cannot read the profile directory {}: {e}",
                    self.user_dir.display()
                )));
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        paths.sort();
        paths.iter().map(|p| read_file(p)).collect()
    }

    fn find(&self, name: &str, beside: Option<&Path>) -> anyhow::Result<Found> {
        for dir in beside.into_iter().chain([self.user_dir.as_path()]) {
            for ext in ["yaml", "yml"] {
                let path = dir.join(format!("{name}.{ext}"));
                if path.is_file() {
                    return read_file(&path);
                }
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

    fn resolve(&self, found: Found, stack: &mut Vec<String>) -> anyhow::Result<Profile> {
        let doc = parse(&found.text, &found.source)?;
        let name = doc.name.clone().unwrap_or(found.name);
        if stack.contains(&name) {
            stack.push(name);
            return Err(UsageError::new(format!(
                "profile include cycle: {}; remove one of these includes",
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
            ulimits: BTreeMap::new(),
            network: Network::default(),
        };
        let beside = match &found.source {
            Source::File(path) => path.parent(),
            Source::Builtin => None,
        };
        for include in &doc.include {
            let inner = self.find(include, beside).map_err(|e| {
                UsageError::new(format!(
                    "profile {name} ({}): include {include:?}: {e}",
                    found.source
                ))
            })?;
            let included = self.resolve(inner, stack)?;
            profile.absorb(included);
        }
        let own = Profile {
            name: name.clone(),
            description: String::new(),
            source: found.source,
            resolved_from: vec![name.clone()],
            sysctl: stamp(doc.sysctl, &name, |e, n| e.from = n.to_string()),
            ulimits: stamp(doc.ulimits, &name, |e, n| e.from = n.to_string()),
            network: doc.network.unwrap_or_default(),
        };
        profile.absorb(own);
        stack.pop();
        Ok(profile)
    }
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
        self.ulimits.extend(later.ulimits);
        let from = later.name;
        self.network.merge(later.network, &from);
    }
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

fn read_file(path: &Path) -> anyhow::Result<Found> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError::new(format!("cannot read profile {}: {e}", path.display())))?;
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

/// Parses one profile document; errors name the file, line and column.
pub fn parse(text: &str, source: &Source) -> anyhow::Result<ProfileDoc> {
    yaml_serde::from_str::<Option<ProfileDoc>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| UsageError::new(format!("profile {source}: {e}")))
}

#[cfg(test)]
mod tests;
