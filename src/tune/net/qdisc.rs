//! Root qdiscs over rtnetlink (RTM_GETQDISC / RTM_NEWQDISC / RTM_DELQDISC), and whether the
//! kernel has a qdisc at all, probed in a throwaway network namespace so the real interfaces
//! are never touched.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::host::Host;
use crate::host::netlink::{self as nl, Msg, NlError, Socket};

const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_GETQDISC: u16 = 38;
const TCA_KIND: u16 = 1;
const TC_H_ROOT: u32 = 0xFFFF_FFFF;

/// What read shows for a device that has no root qdisc listed (a device that is down has
/// only the built-in noop): writing it deletes the root so the kernel attaches its default.
pub const DEFAULT: &str = "default";

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

/// The kind of `iface`'s root qdisc, or [`DEFAULT`] when none is listed.
pub fn root_kind(host: &Host, iface: &str) -> Result<String, NlError> {
    let index = ifindex(iface)?;
    let mut sock = host.netlink(libc::NETLINK_ROUTE)?;
    let mut msg = Msg::dump(RTM_GETQDISC, &tcmsg(index, 0));
    let mut root = None;
    sock.dump(&mut msg, |_, p| {
        if root.is_some() || p.len() < 20 {
            return Ok(());
        }
        let rindex = i32::from_ne_bytes([p[4], p[5], p[6], p[7]]);
        let parent = u32::from_ne_bytes([p[12], p[13], p[14], p[15]]);
        if rindex == index && parent == TC_H_ROOT {
            root = nl::attrs(&p[20..])
                .into_iter()
                .find(|(k, _)| *k == TCA_KIND)
                .map(|(_, kind)| nl::cstr(kind));
        }
        Ok(())
    })?;
    Ok(root.unwrap_or_else(|| DEFAULT.to_string()))
}

/// `tc qdisc replace dev IFACE root KIND`, without options.
pub fn replace_root(host: &Host, iface: &str, kind: &str) -> Result<(), NlError> {
    let index = ifindex(iface)?;
    let mut sock = host.netlink(libc::NETLINK_ROUTE)?;
    replace_on(&mut sock, index, kind)
}

fn replace_on(sock: &mut Socket, index: i32, kind: &str) -> Result<(), NlError> {
    let flags = nl::NLM_F_ACK | nl::NLM_F_CREATE | nl::NLM_F_REPLACE;
    let mut msg = Msg::new(RTM_NEWQDISC, flags, &tcmsg(index, TC_H_ROOT));
    msg.str(TCA_KIND, kind);
    sock.ack(&mut msg)
}

/// `tc qdisc del dev IFACE root`: the kernel re-attaches the device's default qdisc.
pub fn delete_root(host: &Host, iface: &str) -> Result<(), NlError> {
    let index = ifindex(iface)?;
    let mut sock = host.netlink(libc::NETLINK_ROUTE)?;
    let mut msg = Msg::new(RTM_DELQDISC, nl::NLM_F_ACK, &tcmsg(index, TC_H_ROOT));
    match sock.ack(&mut msg) {
        // Nothing to delete (already the default): fine.
        Err(e) if e.errno == libc::ENOENT || e.errno == libc::EINVAL => Ok(()),
        other => other,
    }
}

/// Does this kernel have qdisc `kind`?
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Availability {
    Yes,
    No,
    /// The probe could not run (no privilege to create a namespace); the reason.
    Unknown(String),
}

/// Probes once per process and kind: a thread unshares into a new network namespace and
/// asks the kernel to attach `kind` as root of that namespace's `lo`. "Unknown kind"
/// (ENOENT) means the kernel lacks it; any other answer (e.g. mq refusing a single-queue
/// device) means the kind exists. The namespace dies with the thread.
pub fn available(kind: &str) -> Availability {
    static CACHE: OnceLock<Mutex<HashMap<String, Availability>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(a) = cache.lock().ok().and_then(|c| c.get(kind).cloned()) {
        return a;
    }
    let owned = kind.to_string();
    let result = std::thread::spawn(move || probe_in_new_netns(&owned))
        .join()
        .unwrap_or_else(|_| Availability::Unknown("the probe thread panicked".into()));
    if let Ok(mut c) = cache.lock() {
        c.insert(kind.to_string(), result.clone());
    }
    result
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
    // lo is always ifindex 1 in a fresh namespace.
    match replace_on(&mut sock, 1, kind) {
        Ok(()) => Availability::Yes,
        Err(e) if e.errno == libc::ENOENT => Availability::No,
        Err(_) => Availability::Yes,
    }
}
