//! The scripted netlink double of a fixture root: what the kernel would answer for the host's
//! NICs (ethtool channels, rings and coalescing; the qdisc tree), read from
//! `ROOT/netlink.yaml`, with every change kept in `ROOT/netlink-state.json` so that
//! `--root ROOT apply`, `check` and `rollback` in separate processes see each other's writes.
//!
//! It answers the way the kernel and drivers do, so the real plan/apply/rollback code runs
//! against it:
//! - a group the device lacks (no `channels:` key, ...) is EOPNOTSUPP, as for a driver
//!   without the ethtool operation; only the parameters listed are reported ("n/a" otherwise);
//! - setting a parameter to its current value succeeds without asking the driver (the
//!   kernel's "nothing to change" shortcut); a listed `set: ERRNO` fails every other value
//!   (a driver that reports a parameter but refuses to set it), `set: ignored` answers
//!   success and keeps the value (what virtio_net does with adaptive-rx when the device lacks
//!   per-queue coalescing); an unlisted coalesce
//!   parameter is EINVAL ("cannot modify an unsupported parameter"); a count above `max` is
//!   EINVAL;
//! - a channels change adds or removes the `queues/rx-N`, `queues/tx-N` directories in the
//!   root's sysfs and the per-queue children under an `mq` root, like the kernel;
//! - `mq`/`mqprio` roots have one child per tx queue (parent `MAJOR:N+1`) created with
//!   `net.core.default_qdisc`; `mq` refuses a single-queue device and any non-root parent
//!   (EOPNOTSUPP); deleting the root attaches the kernel's default (mq on a multi-queue device,
//!   else default_qdisc); a kind missing from `qdisc_kinds` is ENOENT.
//!
//! The file format (see docs/network.md, "Fixture hosts"):
//! ```yaml
//! qdisc_kinds: [pfifo_fast, mq, fq_codel, pfifo, bfifo, noqueue]   # optional: kinds the kernel has
//! interfaces:
//!   eth0:
//!     driver: virtio_net                       # informational
//!     channels: {combined: {value: 1, max: 4}}
//!     rings: {rx: {value: 256, max: 4096}, tx: {value: 256, max: 4096}}
//!     coalesce:
//!       adaptive-rx: {value: off, set: EOPNOTSUPP}   # reported, refused when changed
//!       rx-usecs: 0                                  # short form: value only
//!     qdisc:
//!       root: mq                                 # KIND or KIND(OPTIONS)
//!       children: fq_codel(limit=10240;flows=1024)   # one string for every tx queue, or a list
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::netlink::{NlError, TcQdisc};

/// The description a fixture root carries beside its proc/ and sys/.
pub const DESCRIPTION: &str = "netlink.yaml";
/// Where the double keeps what was set since (absent until the first change).
pub const STATE: &str = "netlink-state.json";

const TC_H_ROOT: u32 = 0xFFFF_FFFF;
/// `set: ignored`: the driver answers success and changes nothing.
const IGNORED: &str = "ignored";

/// A fixture's netlink world: the qdisc kinds its kernel has and its devices.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// Qdisc kinds the kernel has (built in or loadable); absent: every kind is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qdisc_kinds: Option<Vec<String>>,
    #[serde(default)]
    pub interfaces: BTreeMap<String, Device>,
}

/// One NIC: its driver and what each ethtool group reports; absent groups are operations
/// the driver does not implement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<BTreeMap<String, Param>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rings: Option<BTreeMap<String, Param>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coalesce: Option<BTreeMap<String, Param>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qdisc: Option<Qdiscs>,
}

/// One ethtool parameter: its value (flags 0/1), its maximum (channels, rings) and the errno
/// the driver answers when asked to change it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ParamIn")]
pub struct Param {
    pub value: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    /// What the driver answers when asked to change it: an errno name (EOPNOTSUPP, EINVAL,
    /// EBUSY, ...) or number; or `ignored`: it answers success and keeps the value (virtio_net
    /// with adaptive-rx and no per-queue coalescing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ParamIn {
    Long {
        value: Scalar,
        #[serde(default)]
        max: Option<u32>,
        #[serde(default)]
        set: Option<String>,
    },
    Short(Scalar),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Number(u32),
    Bool(bool),
    Text(String),
}

impl TryFrom<Scalar> for u32 {
    type Error = String;
    fn try_from(s: Scalar) -> Result<u32, String> {
        match s {
            Scalar::Number(n) => Ok(n),
            Scalar::Bool(b) => Ok(u32::from(b)),
            Scalar::Text(t) => match t.as_str() {
                "on" | "true" => Ok(1),
                "off" | "false" => Ok(0),
                other => other
                    .parse()
                    .map_err(|_| format!("{other:?} is not a number or on/off")),
            },
        }
    }
}

impl TryFrom<ParamIn> for Param {
    type Error = String;
    fn try_from(p: ParamIn) -> Result<Param, String> {
        let (value, max, set) = match p {
            ParamIn::Long { value, max, set } => (value, max, set),
            ParamIn::Short(value) => (value, None, None),
        };
        if let Some(name) = &set
            && name != IGNORED
        {
            errno(name)?;
        }
        Ok(Param {
            value: value.try_into()?,
            max,
            set,
        })
    }
}

/// A device's qdiscs: the root and, under mq/mqprio, one child per tx queue, each written
/// `KIND` or `KIND(OPTIONS)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Qdiscs {
    pub root: String,
    /// The root's handle major number (`tc` shows `8001:` for 0x8001); 0 as the kernel
    /// gives its own default roots.
    #[serde(default)]
    pub handle: u16,
    #[serde(default, skip_serializing_if = "Children::is_empty")]
    pub children: Children,
}

/// mq children: a list, or one entry for every tx queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Children {
    Each(Vec<String>),
    All(String),
}

impl Default for Children {
    fn default() -> Self {
        Children::Each(Vec::new())
    }
}

impl Children {
    fn is_empty(&self) -> bool {
        matches!(self, Children::Each(v) if v.is_empty())
    }
}

/// One parameter as a _GET reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthtoolValue {
    pub name: String,
    pub value: u32,
    pub max: Option<u32>,
}

/// The double: the description (or the saved state) in memory, saved on every change.
#[derive(Debug)]
pub struct FixtureNetlink {
    root: PathBuf,
    state: Mutex<Description>,
}

/// The errno for a name such as "EOPNOTSUPP" (or a number).
fn errno(name: &str) -> Result<i32, String> {
    Ok(match name {
        "EOPNOTSUPP" | "ENOTSUP" => libc::EOPNOTSUPP,
        "EINVAL" => libc::EINVAL,
        "EBUSY" => libc::EBUSY,
        "EPERM" => libc::EPERM,
        "EACCES" => libc::EACCES,
        "ERANGE" => libc::ERANGE,
        "EIO" => libc::EIO,
        "ENODEV" => libc::ENODEV,
        "ENOENT" => libc::ENOENT,
        "EAGAIN" => libc::EAGAIN,
        "ENOMEM" => libc::ENOMEM,
        "ENOSPC" => libc::ENOSPC,
        other => match other.parse::<i32>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(format!(
                    "{other:?} is not an errno name (EOPNOTSUPP, EINVAL, ...)"
                ));
            }
        },
    })
}

fn fail(errno: i32, message: impl Into<String>) -> NlError {
    NlError {
        errno,
        message: Some(message.into()),
    }
}

/// `KIND(OPTIONS)` as kind and options.
fn split_node(text: &str) -> (String, Option<String>) {
    match text.split_once('(') {
        Some((kind, rest)) => (
            kind.trim().to_string(),
            Some(rest.trim_end_matches(')').to_string()),
        ),
        None => (text.trim().to_string(), None),
    }
}

fn join_node(kind: &str, options: Option<&str>) -> String {
    match options {
        Some(o) => format!("{kind}({o})"),
        None => kind.to_string(),
    }
}

fn is_multiqueue(kind: &str) -> bool {
    matches!(kind, "mq" | "mqprio")
}

impl FixtureNetlink {
    /// The double of `root`, or `None` when the root has no `netlink.yaml`. The saved state,
    /// when present, is where the last process left the devices.
    pub fn load(root: &Path) -> Result<Option<FixtureNetlink>, String> {
        let description = root.join(DESCRIPTION);
        let text = match std::fs::read_to_string(&description) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", description.display())),
        };
        let state_path = root.join(STATE);
        let mut state: Description = match std::fs::read_to_string(&state_path) {
            Ok(saved) => serde_json::from_str(&saved)
                .map_err(|e| format!("{}: {e}", state_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => yaml_serde::from_str(&text)
                .map_err(|e| format!("{}: {e}", description.display()))?,
            Err(e) => return Err(format!("{}: {e}", state_path.display())),
        };
        let double = FixtureNetlink {
            root: root.to_path_buf(),
            state: Mutex::new(Description::default()),
        };
        for (name, device) in state.interfaces.iter_mut() {
            if let Some(q) = &mut device.qdisc
                && let Children::All(child) = &q.children
            {
                let n = double.tx_queues(name).max(1);
                q.children = Children::Each(vec![child.clone(); n]);
            }
        }
        *double
            .state
            .lock()
            .map_err(|_| "fixture state lock poisoned")? = state;
        Ok(Some(double))
    }

    /// The devices as they are now (what the state file holds after a change).
    pub fn state(&self) -> Description {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Whether the kernel has qdisc `kind`; `None` when the description does not say.
    pub fn knows_qdisc(&self, kind: &str) -> Option<bool> {
        let state = self.state.lock().ok()?;
        state
            .qdisc_kinds
            .as_ref()
            .map(|kinds| kinds.iter().any(|k| k == kind))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Description>, NlError> {
        self.state
            .lock()
            .map_err(|_| fail(libc::EIO, "fixture netlink state lock poisoned"))
    }

    fn save(&self, state: &Description) -> Result<(), NlError> {
        let path = self.root.join(STATE);
        let mut text = serde_json::to_vec_pretty(state)
            .map_err(|e| fail(libc::EIO, format!("{}: {e}", path.display())))?;
        text.push(b'\n');
        let tmp = self
            .root
            .join(format!(".{STATE}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, &text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| NlError {
                errno: e.raw_os_error().unwrap_or(libc::EIO),
                message: Some(format!("saving the fixture state {}", path.display())),
            })
    }

    fn sys_net(&self, iface: &str) -> PathBuf {
        self.root.join("sys/class/net").join(iface)
    }

    /// The interface, described or merely present in the root's sysfs (then with no
    /// ethtool operations and no qdiscs); ENODEV when it is neither.
    fn device<'a>(
        &self,
        state: &'a mut Description,
        iface: &str,
    ) -> Result<&'a mut Device, NlError> {
        if !state.interfaces.contains_key(iface) && !self.sys_net(iface).exists() {
            return Err(fail(
                libc::ENODEV,
                format!("no interface named {iface} in this network namespace"),
            ));
        }
        Ok(state.interfaces.entry(iface.to_string()).or_default())
    }

    fn tx_queues(&self, iface: &str) -> usize {
        self.queue_indexes(iface, "tx").len()
    }

    fn queue_indexes(&self, iface: &str, prefix: &str) -> Vec<u32> {
        let mut q: Vec<u32> = std::fs::read_dir(self.sys_net(iface).join("queues"))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_prefix(prefix)?
                            .strip_prefix('-')?
                            .parse()
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        q.sort_unstable();
        q
    }

    /// ETHTOOL_MSG_{CHANNELS,RINGS,COALESCE}_GET: the parameters the device reports.
    pub fn ethtool_get(&self, iface: &str, group: &str) -> Result<Vec<EthtoolValue>, NlError> {
        let mut state = self.lock()?;
        let device = self.device(&mut state, iface)?;
        let params = group_of(device, group)?;
        Ok(params
            .iter()
            .map(|(name, p)| EthtoolValue {
                name: name.clone(),
                value: p.value,
                max: p.max,
            })
            .collect())
    }

    /// ETHTOOL_MSG_*_SET of one parameter, answered as the driver would.
    pub fn ethtool_set(
        &self,
        iface: &str,
        group: &str,
        param: &str,
        value: u32,
    ) -> Result<(), NlError> {
        let mut state = self.lock()?;
        let device = self.device(&mut state, iface)?;
        let params = group_of_mut(device, group)?;
        let Some(p) = params.get_mut(param) else {
            return Err(match group {
                "coalesce" => fail(libc::EINVAL, "cannot modify an unsupported parameter"),
                "channels" => fail(libc::EINVAL, "requested channel count exceeds maximum"),
                _ => fail(libc::EINVAL, "requested ring size exceeds maximum"),
            });
        };
        if p.value == value {
            return Ok(()); // nothing to change: the kernel does not call the driver
        }
        if p.set.as_deref() == Some(IGNORED) {
            return Ok(());
        }
        if let Some(name) = &p.set {
            let errno = errno(name).unwrap_or(libc::EOPNOTSUPP);
            return Err(fail(
                errno,
                format!("the driver refuses to change {param} (fixture: set {name})"),
            ));
        }
        if let Some(max) = p.max
            && value > max
        {
            return Err(fail(
                libc::EINVAL,
                format!("requested {param} {value} exceeds maximum {max}"),
            ));
        }
        p.value = value;
        if group == "channels" {
            let count = |name: &str| params.get(name).map(|p| p.value).unwrap_or(0);
            let combined = count("combined");
            let (rx, tx) = (count("rx") + combined, count("tx") + combined);
            if rx == 0 || tx == 0 {
                return Err(fail(libc::EINVAL, "no rx or no tx channels would be left"));
            }
            self.resize_queues(iface, rx, tx)?;
            let default = self.default_qdisc();
            if let Some(q) = &mut device.qdisc
                && is_multiqueue(&split_node(&q.root).0)
                && let Children::Each(children) = &mut q.children
            {
                children.resize(tx as usize, default);
            }
        }
        self.save(&state)
    }

    /// Adds or removes `queues/rx-N` and `queues/tx-N` as the kernel does when the queue
    /// count changes. New queues copy queue 0's files with the kernel's initial values (empty
    /// masks, no flow table).
    fn resize_queues(&self, iface: &str, rx: u32, tx: u32) -> Result<(), NlError> {
        let dir = self.sys_net(iface).join("queues");
        if !dir.exists() {
            return Ok(());
        }
        let io = |e: std::io::Error| NlError {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            message: Some(format!(
                "resizing the fixture queues under {}",
                dir.display()
            )),
        };
        for (prefix, want) in [("rx", rx), ("tx", tx)] {
            let have = self.queue_indexes(iface, prefix);
            for q in have.iter().filter(|q| **q >= want) {
                std::fs::remove_dir_all(dir.join(format!("{prefix}-{q}"))).map_err(io)?;
            }
            let template = dir.join(format!("{prefix}-0"));
            for q in 0..want {
                let new = dir.join(format!("{prefix}-{q}"));
                if new.exists() {
                    continue;
                }
                std::fs::create_dir_all(&new).map_err(io)?;
                for entry in std::fs::read_dir(&template).map_err(io)? {
                    let entry = entry.map_err(io)?;
                    if !entry.file_type().map_err(io)?.is_file() {
                        continue;
                    }
                    let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                    let name = entry.file_name();
                    let initial = match name.to_str() {
                        Some("rps_cpus") | Some("xps_cpus") => {
                            text.replace(|c: char| c.is_ascii_hexdigit(), "0")
                        }
                        Some("rps_flow_cnt") | Some("tx_maxrate") => "0\n".to_string(),
                        _ => text,
                    };
                    std::fs::write(new.join(name), initial).map_err(io)?;
                }
            }
        }
        Ok(())
    }

    /// net.core.default_qdisc of the root (what the kernel attaches to new queues).
    fn default_qdisc(&self) -> String {
        std::fs::read_to_string(self.root.join("proc/sys/net/core/default_qdisc"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "pfifo_fast".to_string())
    }

    /// RTM_GETQDISC for one device: the root, then the mq children in queue order.
    pub fn qdisc_dump(&self, iface: &str) -> Result<Vec<TcQdisc>, NlError> {
        let mut state = self.lock()?;
        let device = self.device(&mut state, iface)?;
        let Some(q) = &device.qdisc else {
            return Ok(Vec::new());
        };
        let major = u32::from(q.handle) << 16;
        let (kind, options) = split_node(&q.root);
        let mut out = vec![TcQdisc {
            handle: major,
            parent: TC_H_ROOT,
            kind,
            options,
        }];
        if let Children::Each(children) = &q.children {
            for (i, child) in children.iter().enumerate() {
                let (kind, options) = split_node(child);
                out.push(TcQdisc {
                    handle: 0,
                    parent: major | (i as u32 + 1),
                    kind,
                    options,
                });
            }
        }
        Ok(out)
    }

    /// RTM_NEWQDISC with NLM_F_CREATE | NLM_F_REPLACE at `parent`.
    pub fn qdisc_replace(
        &self,
        iface: &str,
        parent: u32,
        kind: &str,
        options: Option<&str>,
    ) -> Result<(), NlError> {
        if self.knows_qdisc(kind) == Some(false) {
            return Err(fail(libc::ENOENT, "Specified qdisc kind is unknown"));
        }
        let default = self.default_qdisc();
        let tx = self.tx_queues(iface);
        let mut state = self.lock()?;
        let device = self.device(&mut state, iface)?;
        let node = join_node(kind, options);
        if parent == TC_H_ROOT {
            let handle = device
                .qdisc
                .as_ref()
                .map(|q| q.handle.max(0x8000).wrapping_add(1))
                .unwrap_or(0x8001);
            let children = if is_multiqueue(kind) {
                if tx < 2 {
                    return Err(fail(
                        libc::EOPNOTSUPP,
                        format!("{kind} needs a multi-queue device"),
                    ));
                }
                vec![default; tx]
            } else {
                Vec::new()
            };
            device.qdisc = Some(Qdiscs {
                root: node,
                handle,
                children: Children::Each(children),
            });
        } else {
            if is_multiqueue(kind) {
                return Err(fail(libc::EOPNOTSUPP, format!("{kind} can only be a root")));
            }
            let Some(q) = &mut device.qdisc else {
                return Err(fail(libc::ENOENT, "Failed to find specified qdisc"));
            };
            let minor = (parent & 0xFFFF) as usize;
            match &mut q.children {
                Children::Each(children)
                    if parent >> 16 == u32::from(q.handle)
                        && (1..=children.len()).contains(&minor) =>
                {
                    children[minor - 1] = node;
                }
                _ => return Err(fail(libc::ENOENT, "Failed to find specified qdisc")),
            }
        }
        self.save(&state)
    }

    /// RTM_DELQDISC of the root: the kernel attaches the device's default again.
    pub fn qdisc_delete(&self, iface: &str, parent: u32) -> Result<(), NlError> {
        if parent != TC_H_ROOT {
            return Err(fail(
                libc::EINVAL,
                "only the root qdisc can be deleted here",
            ));
        }
        let default = self.default_qdisc();
        let tx = self.tx_queues(iface);
        let mut state = self.lock()?;
        let device = self.device(&mut state, iface)?;
        device.qdisc = Some(if tx > 1 {
            Qdiscs {
                root: "mq".into(),
                handle: 0,
                children: Children::Each(vec![default; tx]),
            }
        } else {
            Qdiscs {
                root: default,
                handle: 0,
                children: Children::default(),
            }
        });
        self.save(&state)
    }
}

/// A driver without the ethtool operation: EOPNOTSUPP, as the kernel answers (no text).
fn no_op(_group: &str) -> NlError {
    NlError {
        errno: libc::EOPNOTSUPP,
        message: None,
    }
}

fn group_of<'a>(device: &'a Device, group: &str) -> Result<&'a BTreeMap<String, Param>, NlError> {
    match group {
        "channels" => device.channels.as_ref(),
        "rings" => device.rings.as_ref(),
        "coalesce" => device.coalesce.as_ref(),
        _ => None,
    }
    .ok_or_else(|| no_op(group))
}

fn group_of_mut<'a>(
    device: &'a mut Device,
    group: &str,
) -> Result<&'a mut BTreeMap<String, Param>, NlError> {
    match group {
        "channels" => device.channels.as_mut(),
        "rings" => device.rings.as_mut(),
        "coalesce" => device.coalesce.as_mut(),
        _ => None,
    }
    .ok_or_else(|| no_op(group))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(yaml: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DESCRIPTION), yaml).unwrap();
        for q in ["rx-0", "rx-1", "tx-0", "tx-1"] {
            let d = dir.path().join("sys/class/net/eth0/queues").join(q);
            std::fs::create_dir_all(&d).unwrap();
            let file = if q.starts_with("rx") {
                "rps_cpus"
            } else {
                "xps_cpus"
            };
            std::fs::write(d.join(file), "00000003\n").unwrap();
        }
        dir
    }

    const YAML: &str = "qdisc_kinds: [mq, pfifo_fast, fq_codel]\ninterfaces:\n  eth0:\n    channels: {combined: {value: 2, max: 4}}\n    coalesce:\n      adaptive-rx: {value: off, set: EOPNOTSUPP}\n      rx-usecs: 0\n    qdisc: {root: mq, children: fq_codel(limit=10240)}\n";

    #[test]
    fn reports_refuses_and_keeps_state_across_loads() {
        let dir = root(YAML);
        let nl = FixtureNetlink::load(dir.path()).unwrap().unwrap();
        let got = nl.ethtool_get("eth0", "coalesce").unwrap();
        assert_eq!(got.len(), 2);
        // Same value: fine; another: the driver's errno; unknown: EINVAL; no rings: EOPNOTSUPP.
        nl.ethtool_set("eth0", "coalesce", "adaptive-rx", 0)
            .unwrap();
        let e = nl
            .ethtool_set("eth0", "coalesce", "adaptive-rx", 1)
            .unwrap_err();
        assert_eq!(e.errno, libc::EOPNOTSUPP);
        assert_eq!(
            nl.ethtool_set("eth0", "coalesce", "tx-usecs", 8)
                .unwrap_err()
                .errno,
            libc::EINVAL
        );
        assert_eq!(
            nl.ethtool_get("eth0", "rings").unwrap_err().errno,
            libc::EOPNOTSUPP
        );
        assert_eq!(
            nl.ethtool_get("eth9", "rings").unwrap_err().errno,
            libc::ENODEV
        );
        nl.ethtool_set("eth0", "coalesce", "rx-usecs", 8).unwrap();
        assert!(dir.path().join(STATE).exists());
        let again = FixtureNetlink::load(dir.path()).unwrap().unwrap();
        let rx = again.ethtool_get("eth0", "coalesce").unwrap();
        assert!(rx.iter().any(|v| v.name == "rx-usecs" && v.value == 8));
    }

    #[test]
    fn channels_resize_queues_and_mq_children() {
        let dir = root(YAML);
        let nl = FixtureNetlink::load(dir.path()).unwrap().unwrap();
        assert_eq!(
            nl.qdisc_dump("eth0").unwrap().len(),
            3,
            "mq and two children"
        );
        assert_eq!(
            nl.ethtool_set("eth0", "channels", "combined", 8)
                .unwrap_err()
                .errno,
            libc::EINVAL
        );
        nl.ethtool_set("eth0", "channels", "combined", 4).unwrap();
        let q = dir.path().join("sys/class/net/eth0/queues");
        assert_eq!(
            std::fs::read_to_string(q.join("rx-3/rps_cpus")).unwrap(),
            "00000000\n"
        );
        let dump = nl.qdisc_dump("eth0").unwrap();
        assert_eq!(dump.len(), 5);
        assert_eq!(dump[4].kind, "pfifo_fast", "new queues get default_qdisc");
        assert_eq!(dump[1].options.as_deref(), Some("limit=10240"));
        nl.ethtool_set("eth0", "channels", "combined", 2).unwrap();
        assert!(!q.join("rx-3").exists());
        assert_eq!(nl.qdisc_dump("eth0").unwrap().len(), 3);
    }

    #[test]
    fn qdisc_replace_and_delete_follow_the_kernel() {
        let dir = root(YAML);
        let nl = FixtureNetlink::load(dir.path()).unwrap().unwrap();
        let e = nl.qdisc_replace("eth0", TC_H_ROOT, "fq", None).unwrap_err();
        assert_eq!(e.errno, libc::ENOENT);
        nl.qdisc_replace("eth0", 2, "pfifo_fast", None).unwrap();
        assert_eq!(nl.qdisc_dump("eth0").unwrap()[2].kind, "pfifo_fast");
        assert_eq!(
            nl.qdisc_replace("eth0", 2, "mq", None).unwrap_err().errno,
            libc::EOPNOTSUPP
        );
        nl.qdisc_replace("eth0", TC_H_ROOT, "pfifo_fast", None)
            .unwrap();
        assert_eq!(nl.qdisc_dump("eth0").unwrap().len(), 1);
        nl.qdisc_delete("eth0", TC_H_ROOT).unwrap();
        let dump = nl.qdisc_dump("eth0").unwrap();
        assert_eq!((dump[0].kind.as_str(), dump.len()), ("mq", 3));
    }

    #[test]
    fn bad_descriptions_are_errors_with_the_file() {
        let dir = root("interfaces:\n  eth0:\n    coalesce: {rx-usecs: {value: 1, set: EWHAT}}\n");
        let e = FixtureNetlink::load(dir.path()).unwrap_err();
        assert!(e.contains("netlink.yaml"), "{e}");
        let none = tempfile::tempdir().unwrap();
        assert!(FixtureNetlink::load(none.path()).unwrap().is_none());
    }
}
