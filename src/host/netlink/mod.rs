//! The one netlink client: a small synchronous socket over libc that sends one request and
//! hands its replies (or a dump, message by message) to the caller, with the kernel's
//! extended-ack error text. Hand-built so that hostperf needs no async runtime and every byte
//! on the wire is visible here. Sockets come from [`Host::netlink`](super::Host::netlink),
//! which refuses a fixture root and consults the fault plan.
//!
//! Users: ethtool (generic netlink), root qdiscs (rtnetlink) and the inet_diag TCP socket dump
//! of `diagnose` ([`inet_diag`]).

pub mod inet_diag;

/// One qdisc as RTM_GETQDISC reports it, the shape both netlink backends (the kernel, and a
/// fixture root's scripted double) answer in: handle and parent (`major << 16 | minor`;
/// parent `0xFFFF_FFFF` is the root), kind, and TCA_OPTIONS as an opaque token — lowercase
/// hex of the kernel's bytes on a live host, the description's text on a fixture — that
/// replaying through the same backend restores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcQdisc {
    pub handle: u32,
    pub parent: u32,
    pub kind: String,
    pub options: Option<String>,
}

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// The netlink message header: length, type, flags, sequence, port id.
pub const HEADER_LEN: usize = 16;
pub const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | (1 << 14));
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_EXT_ACK: libc::c_int = 11;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLM_F_CAPPED: u16 = 0x100;

/// A netlink failure: the errno and, when the kernel sent one, its extended-ack message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NlError {
    pub errno: i32,
    pub message: Option<String>,
}

impl NlError {
    pub fn io(e: io::Error) -> Self {
        NlError {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            message: None,
        }
    }

    /// A reply hostperf cannot read (EPROTO), with what was wrong.
    pub fn malformed(what: impl Into<String>) -> Self {
        NlError {
            errno: libc::EPROTO,
            message: Some(what.into()),
        }
    }
}

impl std::fmt::Display for NlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let os = io::Error::from_raw_os_error(self.errno);
        match &self.message {
            Some(m) => write!(f, "{m} ({os})"),
            None => write!(f, "{os}"),
        }
    }
}

impl std::error::Error for NlError {}

/// A socket the Host would not open (fixture root, injected fault, socket(2) failed) as a
/// netlink error, so callers handle one error type. Keeps the errno when there is one.
impl From<super::HostError> for NlError {
    fn from(e: super::HostError) -> Self {
        match e.errno() {
            Some(errno) => NlError {
                errno,
                message: Some(format!("{} {}", e.op, e.path.display())),
            },
            None => NlError {
                errno: libc::EOPNOTSUPP,
                message: Some(e.to_string()),
            },
        }
    }
}

/// A message under construction: header, fixed family header, attributes.
pub struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    /// A request that the kernel acknowledges (NLM_F_REQUEST | NLM_F_ACK | `flags`).
    pub fn new(msg_type: u16, flags: u16, family_header: &[u8]) -> Self {
        Msg::with_flags(msg_type, flags | NLM_F_REQUEST | NLM_F_ACK, family_header)
    }

    /// A dump request (NLM_F_REQUEST | NLM_F_DUMP only): the kernel ends it with NLMSG_DONE.
    pub fn dump(msg_type: u16, family_header: &[u8]) -> Self {
        Msg::with_flags(msg_type, NLM_F_REQUEST | NLM_F_DUMP, family_header)
    }

    fn with_flags(msg_type: u16, flags: u16, family_header: &[u8]) -> Self {
        let mut buf = vec![0u8; HEADER_LEN];
        buf[4..6].copy_from_slice(&msg_type.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(family_header);
        pad(&mut buf);
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    pub fn attr(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = (4 + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        pad(&mut self.buf);
        self
    }

    pub fn u32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_ne_bytes())
    }

    pub fn u8(&mut self, kind: u16, v: u8) -> &mut Self {
        self.attr(kind, &[v])
    }

    pub fn str(&mut self, kind: u16, s: &str) -> &mut Self {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        self.attr(kind, &bytes)
    }

    pub fn begin_nest(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.attr(kind | NLA_F_NESTED, &[])
    }

    pub fn end_nest(&mut self) -> &mut Self {
        let start = self.nests.pop().expect("end_nest without begin_nest");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    /// The bytes to send: length and sequence number filled in.
    pub fn finish(&mut self, seq: u32) -> &[u8] {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }
}

fn pad(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// An open netlink socket of one protocol (NETLINK_ROUTE, NETLINK_GENERIC, NETLINK_SOCK_DIAG).
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

/// The receive buffer. The kernel fills dump messages up to 32 KiB (its cap on the largest
/// recvmsg it has seen), so one recv never needs more.
const RECV_BUF: usize = 64 * 1024;

impl Socket {
    /// Opens a socket in the calling thread's network namespace. Use
    /// [`Host::netlink`](super::Host::netlink): it refuses fixture roots and honours the fault
    /// plan. The one direct caller is the qdisc probe, which deliberately talks to a
    /// throwaway namespace its thread has just unshared.
    pub(crate) fn open(protocol: libc::c_int) -> io::Result<Self> {
        // SAFETY: plain socket(2); the fd is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let one: libc::c_int = 1;
        // SAFETY: setsockopt with a pointer to a live c_int and its size. Failure only loses
        // the kernel's error text, so it is ignored.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                SOL_NETLINK,
                NETLINK_EXT_ACK,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        // Never hang on a reply that does not come: 5 s is far beyond any real answer.
        let timeout = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a pointer to a live timeval and its size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &timeout as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
        Ok(Socket {
            fd,
            seq: 0,
            buf: Vec::new(),
        })
    }

    /// Sends a request that changes something and waits for the kernel's ack.
    pub fn ack(&mut self, msg: &mut Msg) -> Result<(), NlError> {
        self.dump(msg, |_, _| Ok(()))
    }

    /// Sends `msg` (a dump or any other request) and hands each data reply (type, bytes after
    /// the header) to `each` as it arrives, until the ack or the end of a dump: a dump of any size needs one receive
    /// buffer, not all of its messages at once. An error from `each` stops the dump; what the
    /// kernel still sends for it is skipped by the next request (another sequence number).
    pub fn dump(
        &mut self,
        msg: &mut Msg,
        mut each: impl FnMut(u16, &[u8]) -> Result<(), NlError>,
    ) -> Result<(), NlError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = msg.finish(seq);
        // SAFETY: sending from a live buffer of the given length; the kernel address is zeroed.
        let sent = unsafe {
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            libc::sendto(
                self.fd.as_raw_fd(),
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                0,
                &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(NlError::io(io::Error::last_os_error()));
        }
        if self.buf.len() < RECV_BUF {
            self.buf.resize(RECV_BUF, 0);
        }
        loop {
            // SAFETY: receiving into a live buffer of the given length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.buf.as_mut_ptr() as *mut libc::c_void,
                    self.buf.len(),
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(NlError::io(e));
            }
            if n == 0 {
                return Err(NlError::malformed("netlink socket closed mid-reply"));
            }
            if walk(&self.buf[..n as usize], seq, &mut each)? == Walk::Finished {
                return Ok(());
            }
        }
    }
}

/// Whether a received datagram ended the request.
#[derive(Debug, PartialEq, Eq)]
pub enum Walk {
    More,
    Finished,
}

/// Walks the messages of one received datagram: data replies of request `seq` go to `each`,
/// messages of other requests are skipped, and NLMSG_DONE or an ack ends it. Bounds-checked
/// throughout: a malformed datagram is an error, never a panic.
pub fn walk(
    mut data: &[u8],
    seq: u32,
    each: &mut impl FnMut(u16, &[u8]) -> Result<(), NlError>,
) -> Result<Walk, NlError> {
    while !data.is_empty() {
        if data.len() < HEADER_LEN {
            return Err(NlError::malformed(format!(
                "netlink reply with {} trailing bytes, less than a header",
                data.len()
            )));
        }
        let len = ne_u32(&data[0..4]) as usize;
        if len < HEADER_LEN || len > data.len() {
            return Err(NlError::malformed(format!(
                "netlink message length {len} in a datagram of {} bytes",
                data.len()
            )));
        }
        let msg_type = ne_u16(&data[4..6]);
        let flags = ne_u16(&data[6..8]);
        let rseq = ne_u32(&data[8..12]);
        let payload = &data[HEADER_LEN..len];
        data = &data[align(len).min(data.len())..];
        if rseq != seq {
            continue;
        }
        match msg_type {
            NLMSG_DONE => {
                // A dump that failed part-way says so in the DONE message's int.
                let errno = payload.get(0..4).map(ne_i32);
                return match errno {
                    Some(e) if e < 0 => Err(NlError {
                        errno: -e,
                        message: Some("the kernel ended the dump with an error".into()),
                    }),
                    _ => Ok(Walk::Finished),
                };
            }
            NLMSG_ERROR => {
                let Some(errno) = payload.get(0..4).map(ne_i32) else {
                    return Err(NlError::malformed("netlink error message without an errno"));
                };
                if errno == 0 {
                    return Ok(Walk::Finished);
                }
                return Err(NlError {
                    errno: errno.checked_neg().unwrap_or(libc::EIO),
                    message: ext_ack_message(payload, flags),
                });
            }
            _ => each(msg_type, payload)?,
        }
    }
    Ok(Walk::More)
}

fn ne_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn ne_i32(b: &[u8]) -> i32 {
    i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn ne_u16(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// The NLMSGERR_ATTR_MSG text after an error's copy of the request.
fn ext_ack_message(payload: &[u8], flags: u16) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || payload.len() < 20 {
        return None;
    }
    // errno (4) + the original header (16) + its payload unless capped.
    let orig_len = ne_u32(&payload[4..8]) as usize;
    let skip = if flags & NLM_F_CAPPED != 0 {
        20
    } else {
        4 + align(orig_len)
    };
    let tlvs = payload.get(skip..)?;
    attrs(tlvs)
        .into_iter()
        .find(|(k, _)| *k == NLMSGERR_ATTR_MSG)
        .map(|(_, v)| cstr(v))
}

/// The attributes in `data` as (type, payload), nested flag stripped.
pub fn attrs(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let kind = u16::from_ne_bytes([data[2], data[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > data.len() {
            break;
        }
        out.push((kind, &data[4..len]));
        data = &data[align(len).min(data.len())..];
    }
    out
}

pub fn cstr(v: &[u8]) -> String {
    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

pub fn as_u32(v: &[u8]) -> Option<u32> {
    v.get(0..4).map(ne_u32)
}

pub fn as_u16(v: &[u8]) -> Option<u16> {
    v.get(0..2).map(ne_u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_nests_sized() {
        let mut m = Msg::new(16, 0, &[1, 1, 0, 0]);
        m.begin_nest(1).str(2, "v0").end_nest().u32(6, 2);
        let bytes = m.finish(7).to_vec();
        assert_eq!(bytes.len(), 16 + 4 + 4 + 8 + 8);
        let parsed = attrs(&bytes[20..]);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].0, 1);
        let inner = attrs(parsed[0].1);
        assert_eq!(cstr(inner[0].1), "v0");
        assert_eq!(as_u32(parsed[1].1), Some(2));
    }

    /// A netlink message: header (length, type, flags, seq, port 0) and payload.
    fn message(msg_type: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((HEADER_LEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&msg_type.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        pad(&mut m);
        m
    }

    type Seen = Vec<(u16, Vec<u8>)>;

    fn collect(data: &[u8], seq: u32) -> (Result<Walk, NlError>, Seen) {
        let mut seen = Vec::new();
        let r = walk(data, seq, &mut |t, p: &[u8]| {
            seen.push((t, p.to_vec()));
            Ok(())
        });
        (r, seen)
    }

    #[test]
    fn dump_request_carries_only_request_and_dump_flags() {
        let mut m = Msg::dump(20, &[2, 6, 0, 0]);
        let bytes = m.finish(1).to_vec();
        assert_eq!(ne_u16(&bytes[6..8]), NLM_F_REQUEST | NLM_F_DUMP);
        let mut m = Msg::new(38, NLM_F_CREATE, &[]);
        let bytes = m.finish(1).to_vec();
        assert_eq!(
            ne_u16(&bytes[6..8]),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
        );
    }

    #[test]
    fn walk_streams_data_skips_other_requests_and_stops_at_done() {
        let mut d = message(20, 2, 7, &[1, 2, 3]);
        d.extend(message(20, 2, 6, &[9])); // a reply to an earlier request
        d.extend(message(20, 2, 7, &[4]));
        let (r, seen) = collect(&d, 7);
        assert_eq!(r, Ok(Walk::More));
        assert_eq!(seen, vec![(20, vec![1, 2, 3]), (20, vec![4])]);
        let done = message(NLMSG_DONE, 2, 7, &0i32.to_ne_bytes());
        assert_eq!(collect(&done, 7).0, Ok(Walk::Finished));
    }

    #[test]
    fn walk_reports_errors_and_failed_dumps() {
        let ack = message(NLMSG_ERROR, 0, 3, &[0; 20]);
        assert_eq!(collect(&ack, 3).0, Ok(Walk::Finished));
        let mut nak = (-libc::EPERM).to_ne_bytes().to_vec();
        nak.extend([0; 16]);
        assert_eq!(
            collect(&message(NLMSG_ERROR, 0, 3, &nak), 3)
                .0
                .unwrap_err()
                .errno,
            libc::EPERM
        );
        let failed = message(NLMSG_DONE, 2, 3, &(-libc::EINTR).to_ne_bytes());
        assert_eq!(collect(&failed, 3).0.unwrap_err().errno, libc::EINTR);
    }

    #[test]
    fn walk_refuses_malformed_datagrams_without_panicking() {
        let good = message(20, 2, 1, &[0; 8]);
        // Shorter than a header, a length below the header, beyond the datagram, an error
        // without its errno: each is an error, none a panic.
        assert!(collect(&good[..10], 1).0.is_err());
        let mut short_len = good.clone();
        short_len[0..4].copy_from_slice(&8u32.to_ne_bytes());
        assert!(collect(&short_len, 1).0.is_err());
        let mut long_len = good.clone();
        long_len[0..4].copy_from_slice(&4096u32.to_ne_bytes());
        assert!(collect(&long_len, 1).0.is_err());
        let bare_error = message(NLMSG_ERROR, 0, 1, &[0, 0]);
        assert_eq!(collect(&bare_error, 1).0.unwrap_err().errno, libc::EPROTO);
        let bare_done = message(NLMSG_DONE, 2, 1, &[]);
        assert_eq!(collect(&bare_done, 1).0, Ok(Walk::Finished));
        // An unaligned last message (length not a multiple of 4) is still read.
        let mut odd = good[..HEADER_LEN].to_vec();
        odd[0..4].copy_from_slice(&17u32.to_ne_bytes());
        odd.push(5);
        assert_eq!(collect(&odd, 1).1, vec![(20, vec![5])]);
    }

    #[test]
    fn extended_ack_text_is_read() {
        let request = message(36, NLM_F_REQUEST | NLM_F_ACK, 4, &[0; 20]);
        let mut payload = (-libc::ENOENT).to_ne_bytes().to_vec();
        payload.extend(&request);
        let text = b"Unknown qdisc kind\0";
        payload.extend(&((4 + text.len()) as u16).to_ne_bytes());
        payload.extend(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        payload.extend(text);
        let e = collect(&message(NLMSG_ERROR, NLM_F_ACK_TLVS, 4, &payload), 4)
            .0
            .unwrap_err();
        assert_eq!(e.errno, libc::ENOENT);
        assert_eq!(e.message.as_deref(), Some("Unknown qdisc kind"));
    }

    #[test]
    fn a_fixture_root_refuses_netlink_with_the_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let host = crate::host::Host::with_root(tmp.path());
        let Err(e) = host.netlink(libc::NETLINK_ROUTE) else {
            panic!("a fixture root opened a netlink socket");
        };
        assert_eq!(e.source.kind(), io::ErrorKind::Unsupported);
        let text = e.to_string();
        assert!(
            text.contains(&format!(
                "netlink needs a live host, not a fixture root {}",
                tmp.path().display()
            )),
            "{text}"
        );
        // As a netlink error it keeps the reason.
        let nl = NlError::from(e);
        assert_eq!(nl.errno, libc::EOPNOTSUPP);
        assert!(nl.to_string().contains("netlink needs a live host"), "{nl}");
    }

    #[test]
    fn an_injected_fault_fails_the_open_once() {
        use crate::host::{FaultPlan, Host};
        let host = Host::live().with_faults(FaultPlan::new().fail(
            "netlink",
            format!("/netlink/{}", libc::NETLINK_GENERIC),
            libc::EPERM,
        ));
        let Err(e) = host.netlink(libc::NETLINK_GENERIC) else {
            panic!("the fault was not injected");
        };
        assert_eq!(e.errno(), Some(libc::EPERM));
        let nl = NlError::from(e);
        assert_eq!(nl.errno, libc::EPERM);
        assert_eq!(nl.message.as_deref(), Some("netlink /netlink/16"));
        // Used once: the next open goes to the kernel.
        assert!(host.netlink(libc::NETLINK_GENERIC).is_ok());
    }
}
