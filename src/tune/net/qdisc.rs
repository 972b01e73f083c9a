//! A device's qdisc tree — the root and, under a multiqueue root (mq, mqprio), one child
//! per tx queue — read and changed over rtnetlink (RTM_GETQDISC / RTM_NEWQDISC /
//! RTM_DELQDISC) or through a fixture root's double; and whether the kernel has a qdisc at
//! all, probed in a throwaway network namespace so the real interfaces are never touched.
//!
//! A tree is written as text: `pfifo_fast` (a root), `mq:fq_codel` (an mq root whose
//! children are all fq_codel), `mq:fq,fq,pfifo` (children differ), `default` (no root
//! listed). Each kind may carry its options, `fq_codel(0800...)`: the bytes of TCA_OPTIONS
//! in hex on a live host (the description's text on a fixture), replayed as they were read,
//! so rollback restores parameters too. A multiqueue device keeps its mq root: a profile's
//! `root_qdisc: fq` there changes the per-queue children.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use crate::host::netlink::{self as nl, Msg, NlError, Socket, TcQdisc};
use crate::host::{Host, NetlinkBackend};

const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_GETQDISC: u16 = 38;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
pub const TC_H_ROOT: u32 = 0xFFFF_FFFF;
/// Parents of ingress and clsact qdiscs: not part of the egress tree.
const TC_H_INGRESS: u32 = 0xFFFF_FFF1;

/// What read shows for a device that has no root qdisc listed (a device that is down has
/// only the built-in noop): writing it deletes the root so the kernel attaches its default.
pub const DEFAULT: &str = "default";

/// One qdisc of a tree: its kind and, when known, its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: String,
    pub options: Option<String>,
}

/// A device's egress qdiscs as hostperf compares and restores them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Tree {
    /// `None`: no root listed (reads as [`DEFAULT`]).
    pub root: Option<Node>,
    /// The per-queue children of an mq/mqprio root, in queue order; for a wanted tree, one
    /// child means "every queue".
    pub children: Vec<Node>,
    /// Qdiscs below a classful root other than mq (htb, prio, ...): hostperf cannot restore
    /// their classes, so it will not replace such a root.
    pub foreign: usize,
}

/// Kinds whose children are one qdisc per tx queue.
pub fn is_multiqueue(kind: &str) -> bool {
    matches!(kind, "mq" | "mqprio")
}

fn valid_kind(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() < 16
        && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn valid_options(options: &str) -> bool {
    options.len() <= 8192
        && options
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_=.;+-".contains(&b))
}

impl Node {
    fn parse(text: &str) -> Result<Node, String> {
        let (kind, options) = match text.split_once('(') {
            Some((kind, rest)) => {
                let Some(options) = rest.strip_suffix(')') else {
                    return Err(format!("{text:?}: options end with ')'"));
                };
                (kind, Some(options.to_string()))
            }
            None => (text, None),
        };
        if !valid_kind(kind) {
            return Err(format!("{kind:?} is not a qdisc name"));
        }
        if let Some(o) = &options
            && !valid_options(o)
        {
            return Err(format!(
                "{text:?}: options hold letters, digits and _=.;+- only"
            ));
        }
        Ok(Node {
            kind: kind.to_string(),
            options,
        })
    }

    fn full(&self) -> String {
        match &self.options {
            Some(o) => format!("{}({o})", self.kind),
            None => self.kind.clone(),
        }
    }

    /// Same kind, and same options where `wanted` names them.
    fn satisfies(&self, wanted: &Node) -> bool {
        self.kind == wanted.kind && (wanted.options.is_none() || self.options == wanted.options)
    }
}

impl Tree {
    /// Parses the text form (see the module docs).
    pub fn parse(text: &str) -> Result<Tree, String> {
        let text = text.trim();
        if text == DEFAULT {
            return Ok(Tree::default());
        }
        let (root, children) = match text.split_once(':') {
            Some((root, children)) => (root, Some(children)),
            None => (text, None),
        };
        let root = Node::parse(root)?;
        let children = match children {
            Some(list) => {
                if !is_multiqueue(&root.kind) {
                    return Err(format!(
                        "{text:?}: only an mq or mqprio root has per-queue children"
                    ));
                }
                list.split(',').map(Node::parse).collect::<Result<_, _>>()?
            }
            None => Vec::new(),
        };
        Ok(Tree {
            root: Some(root),
            children,
            foreign: 0,
        })
    }

    /// The kinds only, as plan and check compare and show them ("mq:fq_codel").
    pub fn kinds(&self) -> String {
        self.text(|n| n.kind.clone())
    }

    /// Kinds and options, as a rollback restores them.
    pub fn full(&self) -> String {
        self.text(Node::full)
    }

    fn text(&self, node: impl Fn(&Node) -> String) -> String {
        let Some(root) = &self.root else {
            return DEFAULT.to_string();
        };
        let mut out = node(root);
        if !self.children.is_empty() {
            let shown: Vec<String> = self.children.iter().map(&node).collect();
            out.push(':');
            if shown.iter().all(|c| *c == shown[0]) {
                out.push_str(&shown[0]);
            } else {
                out.push_str(&shown.join(","));
            }
        }
        out
    }

    pub fn is_multiqueue(&self) -> bool {
        self.root.as_ref().is_some_and(|r| is_multiqueue(&r.kind))
    }

    /// Does this (read) tree give what `wanted` asks for? Kinds must match, options where
    /// `wanted` names them; wanted children absent means "any", one child means "every
    /// queue".
    pub fn satisfies(&self, wanted: &Tree) -> bool {
        let Some(want_root) = &wanted.root else {
            return true; // the kernel's default, whatever it attached
        };
        let Some(root) = &self.root else {
            return false;
        };
        if !root.satisfies(want_root) {
            return false;
        }
        match wanted.children.len() {
            0 => true,
            1 => self
                .children
                .iter()
                .all(|c| c.satisfies(&wanted.children[0])),
            _ => {
                self.children.len() == wanted.children.len()
                    && self
                        .children
                        .iter()
                        .zip(&wanted.children)
                        .all(|(c, w)| c.satisfies(w))
            }
        }
    }

    /// The tree to ask for when a profile wants `kind` and the device has `self`: the current
    /// tree itself when it already gives that (so plan and check compare equal text); on a
    /// multiqueue root, the same root with every child `kind`; else `kind` as the root.
    pub fn wanted(&self, kind: &str) -> Result<Tree, String> {
        let asked = Tree::parse(kind)?;
        let plain = asked.children.is_empty()
            && asked.root.as_ref().is_some_and(|r| !is_multiqueue(&r.kind));
        let target = match &self.root {
            Some(root) if plain && is_multiqueue(&root.kind) => Tree {
                root: Some(Node {
                    kind: root.kind.clone(),
                    options: None,
                }),
                children: asked.root.into_iter().collect(),
                foreign: 0,
            },
            _ => asked,
        };
        Ok(if self.satisfies(&target) {
            Tree {
                foreign: 0,
                ..self.clone()
            }
        } else {
            target
        })
    }

    /// Builds the tree of one device from a dump.
    pub fn from_dump(qdiscs: &[TcQdisc]) -> Tree {
        let Some(root) = qdiscs.iter().find(|q| q.parent == TC_H_ROOT) else {
            return Tree::default();
        };
        let major = root.handle >> 16;
        let node = |q: &TcQdisc| Node {
            kind: q.kind.clone(),
            options: q.options.clone().filter(|o| !o.is_empty()),
        };
        let mut children: Vec<&TcQdisc> = Vec::new();
        let mut foreign = 0;
        for q in qdiscs {
            if q.parent == TC_H_ROOT || q.parent == TC_H_INGRESS || q.parent >> 16 == 0xFFFF {
                continue;
            }
            if is_multiqueue(&root.kind) && q.parent >> 16 == major {
                children.push(q);
            } else {
                foreign += 1;
            }
        }
        children.sort_by_key(|q| q.parent & 0xFFFF);
        Tree {
            root: Some(node(root)),
            children: children.into_iter().map(node).collect(),
            foreign,
        }
    }
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kinds())
    }
}

fn tcmsg(ifindex: i32, parent: u32) -> [u8; 20] {
    let mut b = [0u8; 20];
    b[0] = libc::AF_UNSPEC as u8;
    b[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    b[12..16].copy_from_slice(&parent.to_ne_bytes());
    b
}

pub fn ifindex(iface: &str) -> Result<i32, NlError> {
    let name = std::ffi::CString::new(iface).map_err(|_| NlError {
        errno: libc::EINVAL,
        message: Some("interface name has a NUL byte".into()),
    })?;
    // SAFETY: a valid NUL-terminated string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(NlError {
            errno: libc::ENODEV,
            message: Some(format!(
                "no interface named {iface} in this network namespace"
            )),
        });
    }
    Ok(index as i32)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, NlError> {
    let bad = || NlError {
        errno: libc::EINVAL,
        message: Some(format!("qdisc options {text:?} are not hex bytes")),
    };
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect()
}

/// Every qdisc of the namespace by interface index, from one dump per run (the kernel
/// ignores the interface in a qdisc dump request and sends every device's qdiscs anyway).
fn live_dump(host: &Host) -> Result<Arc<HashMap<i32, Vec<TcQdisc>>>, NlError> {
    if let Some(all) = &host.net_cache().qdiscs {
        return Ok(Arc::clone(all));
    }
    let mut sock = host.netlink(libc::NETLINK_ROUTE)?;
    let mut msg = Msg::dump(RTM_GETQDISC, &tcmsg(0, 0));
    let mut all: HashMap<i32, Vec<TcQdisc>> = HashMap::new();
    sock.dump(&mut msg, |_, p| {
        if p.len() < 20 {
            return Ok(());
        }
        let index = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
        let handle = u32::from_ne_bytes([p[8], p[9], p[10], p[11]]);
        let parent = u32::from_ne_bytes([p[12], p[13], p[14], p[15]]);
        let mut kind = String::new();
        let mut options = None;
        for (k, v) in nl::attrs(&p[20..]) {
            match k {
                TCA_KIND => kind = nl::cstr(v),
                TCA_OPTIONS => options = Some(hex(v)),
                _ => {}
            }
        }
        all.entry(index).or_default().push(TcQdisc {
            handle,
            parent,
            kind,
            options,
        });
        Ok(())
    })?;
    let all = Arc::new(all);
    host.net_cache().qdiscs = Some(Arc::clone(&all));
    Ok(all)
}

/// The qdiscs of one device, from the run's dump or the fixture's double.
fn dump(host: &Host, iface: &str) -> Result<Vec<TcQdisc>, NlError> {
    match host.netlink_backend()? {
        NetlinkBackend::Fixture(double) => double.qdisc_dump(iface),
        _ => {
            let index = cached_ifindex(host, iface)?;
            Ok(live_dump(host)?.get(&index).cloned().unwrap_or_default())
        }
    }
}

/// [`ifindex`], looked up once per interface and run.
fn cached_ifindex(host: &Host, iface: &str) -> Result<i32, NlError> {
    if let Some(index) = host.net_cache().ifindex.get(iface) {
        return Ok(*index);
    }
    let index = ifindex(iface)?;
    host.net_cache().ifindex.insert(iface.to_string(), index);
    Ok(index)
}

/// The tree of `iface`.
pub fn read(host: &Host, iface: &str) -> Result<Tree, NlError> {
    Ok(Tree::from_dump(&dump(host, iface)?))
}

/// `tc qdisc replace dev IFACE parent PARENT KIND [options]`.
fn replace(host: &Host, iface: &str, parent: u32, node: &Node) -> Result<(), NlError> {
    let result = match host.netlink_backend()? {
        NetlinkBackend::Fixture(double) => {
            double.qdisc_replace(iface, parent, &node.kind, node.options.as_deref())
        }
        _ => {
            let index = ifindex(iface)?;
            let mut sock = host.netlink(libc::NETLINK_ROUTE)?;
            replace_on(&mut sock, index, parent, node)
        }
    };
    host.net_cache().qdiscs = None;
    result
}

fn replace_on(sock: &mut Socket, index: i32, parent: u32, node: &Node) -> Result<(), NlError> {
    let flags = nl::NLM_F_ACK | nl::NLM_F_CREATE | nl::NLM_F_REPLACE;
    let mut msg = Msg::new(RTM_NEWQDISC, flags, &tcmsg(index, parent));
    msg.str(TCA_KIND, &node.kind);
    if let Some(options) = &node.options {
        msg.attr(TCA_OPTIONS, &unhex(options)?);
    }
    sock.ack(&mut msg)
}

/// `tc qdisc del dev IFACE root`: the kernel re-attaches the device's default qdisc.
pub fn delete_root(host: &Host, iface: &str) -> Result<(), NlError> {
    let result = match host.netlink_backend()? {
        NetlinkBackend::Fixture(double) => double.qdisc_delete(iface, TC_H_ROOT),
        _ => {
            let index = ifindex(iface)?;
            let mut sock = host.netlink(libc::NETLINK_ROUTE)?;
            let mut msg = Msg::new(RTM_DELQDISC, nl::NLM_F_ACK, &tcmsg(index, TC_H_ROOT));
            sock.ack(&mut msg)
        }
    };
    host.net_cache().qdiscs = None;
    match result {
        // Nothing to delete (already the default): fine.
        Err(e) if e.errno == libc::ENOENT || e.errno == libc::EINVAL => Ok(()),
        other => other,
    }
}

/// Makes `iface`'s tree give `target`: the root replaced only when it differs; on a
/// multiqueue root, each child that differs replaced at its own parent, so the mq root and
/// the other queues stay. A root the kernel will not attach explicitly (mq, pfifo_fast,
/// noqueue on some devices) is restored by deleting the root, which attaches the default.
pub fn write(host: &Host, iface: &str, target: &Tree) -> Result<(), NlError> {
    let Some(root) = &target.root else {
        return delete_root(host, iface);
    };
    let current = read(host, iface)?;
    let root_ok = current.root.as_ref().is_some_and(|r| r.satisfies(root));
    if !root_ok && let Err(e) = replace(host, iface, TC_H_ROOT, root) {
        if !matches!(root.kind.as_str(), "mq" | "pfifo_fast" | "noqueue") {
            return Err(e);
        }
        delete_root(host, iface)?;
        if read(host, iface)?.root.is_none_or(|r| r.kind != root.kind) {
            return Err(e);
        }
    }
    if target.children.is_empty() || !is_multiqueue(&root.kind) {
        return Ok(());
    }
    let now = dump(host, iface)?;
    let Some(major) = now
        .iter()
        .find(|q| q.parent == TC_H_ROOT)
        .map(|q| q.handle >> 16)
    else {
        return Ok(());
    };
    let mut children: Vec<&TcQdisc> = now
        .iter()
        .filter(|q| q.parent != TC_H_ROOT && q.parent >> 16 == major)
        .collect();
    children.sort_by_key(|q| q.parent & 0xFFFF);
    for (i, child) in children.iter().enumerate() {
        let want = match target.children.len() {
            1 => &target.children[0],
            _ => match target.children.get(i) {
                Some(w) => w,
                None => break,
            },
        };
        let have = Node {
            kind: child.kind.clone(),
            options: child.options.clone(),
        };
        if !have.satisfies(want) {
            replace(host, iface, child.parent, want)?;
        }
    }
    Ok(())
}

/// Does this kernel have qdisc `kind`?
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    Yes,
    No,
    /// The probe could not run (no privilege to create a namespace); the reason.
    Unknown(String),
}

/// Whether the host's kernel has `kind`: the fixture's `qdisc_kinds` below a fixture root
/// (unknown when it does not list them); on a live host yes when it is the current
/// net.core.default_qdisc (the kernel checked it when it was set), else the probe.
pub fn available_on(host: &Host, kind: &str) -> Availability {
    match host.netlink_backend() {
        Ok(NetlinkBackend::Live) => {
            if let Some(known) = probed(kind) {
                return known;
            }
            let current = host.read_string("/proc/sys/net/core/default_qdisc");
            if current.is_ok_and(|c| c.trim() == kind) {
                remember(kind, Availability::Yes);
                return Availability::Yes;
            }
            available(kind)
        }
        Ok(NetlinkBackend::Fixture(double)) => match double.knows_qdisc(kind) {
            Some(true) => Availability::Yes,
            Some(false) => Availability::No,
            None => Availability::Unknown("the fixture does not list its qdisc kinds".into()),
        },
        _ => Availability::Unknown("a fixture root without a device description".into()),
    }
}

/// Probes once per process and kind: a thread unshares into a new network namespace and
/// asks the kernel to attach `kind` as root of that namespace's `lo`. "Unknown kind"
/// (ENOENT) means the kernel lacks it; any other answer (e.g. mq refusing a single-queue
/// device) means the kind exists. The namespace dies with the thread.
pub fn available(kind: &str) -> Availability {
    if let Some(known) = probed(kind) {
        return known;
    }
    let owned = kind.to_string();
    let result = std::thread::spawn(move || probe_in_new_netns(&owned))
        .join()
        .unwrap_or_else(|_| Availability::Unknown("the probe thread panicked".into()));
    remember(kind, result.clone());
    result
}

/// What this process already knows about the kernel's qdisc kinds.
fn probes() -> &'static Mutex<HashMap<String, Availability>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Availability>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn probed(kind: &str) -> Option<Availability> {
    probes().lock().ok().and_then(|c| c.get(kind).cloned())
}

fn remember(kind: &str, answer: Availability) {
    if let Ok(mut c) = probes().lock() {
        c.insert(kind.to_string(), answer);
    }
}

fn probe_in_new_netns(kind: &str) -> Availability {
    // Only this thread moves; the process and the host's interfaces are untouched.
    if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
        return Availability::Unknown(format!(
            "cannot create a throwaway network namespace to probe for it ({e}); run as root"
        ));
    }
    // The one netlink socket not opened through Host::netlink: it must belong to the
    // throwaway namespace this thread has just unshared, and it never reaches the host's own
    // interfaces, so neither the fixture-root refusal nor the fault plan concerns it.
    let mut sock = match Socket::open(libc::NETLINK_ROUTE) {
        Ok(s) => s,
        Err(e) => return Availability::Unknown(format!("netlink: {e}")),
    };
    let node = Node {
        kind: kind.to_string(),
        options: None,
    };
    // lo is always ifindex 1 in a fresh namespace.
    match replace_on(&mut sock, 1, TC_H_ROOT, &node) {
        Ok(()) => Availability::Yes,
        Err(e) if e.errno == libc::ENOENT => Availability::No,
        Err(_) => Availability::Yes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(handle: u32, parent: u32, kind: &str, options: Option<&str>) -> TcQdisc {
        TcQdisc {
            handle,
            parent,
            kind: kind.into(),
            options: options.map(str::to_string),
        }
    }

    #[test]
    fn trees_read_from_a_dump_keep_the_mq_children_and_their_options() {
        let dump = [
            q(0, TC_H_ROOT, "mq", None),
            q(0, 2, "fq_codel", Some("0800")),
            q(0, 1, "fq_codel", Some("0800")),
            q(0xFFFF_0000, TC_H_INGRESS, "ingress", None),
        ];
        let tree = Tree::from_dump(&dump);
        assert_eq!(tree.kinds(), "mq:fq_codel");
        assert_eq!(tree.full(), "mq:fq_codel(0800)");
        assert_eq!(Tree::parse(&tree.full()).unwrap().children.len(), 1);
        let mixed = Tree::from_dump(&[
            q(0x8001_0000, TC_H_ROOT, "mq", None),
            q(0, 0x8001_0001, "fq", None),
            q(0, 0x8001_0002, "pfifo", Some("0a000000")),
        ]);
        assert_eq!(mixed.full(), "mq:fq,pfifo(0a000000)");
        assert_eq!(
            Tree::parse("mq:fq,pfifo(0a000000)").unwrap().children,
            mixed.children
        );
        let classful = Tree::from_dump(&[
            q(0x0001_0000, TC_H_ROOT, "htb", Some("00")),
            q(0x0010_0000, 0x0001_0010, "pfifo", None),
        ]);
        assert_eq!((classful.kinds().as_str(), classful.foreign), ("htb", 1));
        assert_eq!(Tree::from_dump(&[]).kinds(), DEFAULT);
    }

    #[test]
    fn a_wanted_kind_changes_mq_children_and_keeps_a_tree_that_already_fits() {
        let mq = Tree::parse("mq:fq_codel(0800)").unwrap();
        assert_eq!(mq.wanted("fq").unwrap().kinds(), "mq:fq");
        assert_eq!(mq.wanted("fq_codel").unwrap().full(), "mq:fq_codel(0800)");
        assert_eq!(mq.wanted("mq").unwrap().full(), "mq:fq_codel(0800)");
        let single = Tree::parse("pfifo_fast").unwrap();
        assert_eq!(single.wanted("fq").unwrap().kinds(), "fq");
        assert!(
            Tree::parse("fq")
                .unwrap()
                .satisfies(&Tree::parse("fq").unwrap())
        );
        assert!(!mq.satisfies(&Tree::parse("mq:fq").unwrap()));
        for bad in ["pfifo:fq", "fq(zz z)", "", "a/b", "fq(01"] {
            assert!(Tree::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_round_trip_as_hex() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])).unwrap(),
            [0, 1, 0xab, 0xff]
        );
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
    }
}
