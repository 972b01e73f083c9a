//! A small synchronous netlink client over raw sockets: enough to send one request, collect
//! its replies (or a dump) and read the kernel's extended-ack error text. Hand-built so that
//! hostperf needs no async runtime and every byte on the wire is visible here.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
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
    fn io(e: io::Error) -> Self {
        NlError {
            errno: e.raw_os_error().unwrap_or(libc::EIO),
            message: None,
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

/// A message under construction: header, fixed family header, attributes.
pub struct Msg {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Msg {
    pub fn new(msg_type: u16, flags: u16, family_header: &[u8]) -> Self {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&msg_type.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
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

    fn finish(&mut self, seq: u32) -> &[u8] {
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

/// One reply message: its type and the bytes after the netlink header.
pub struct Reply {
    pub msg_type: u16,
    pub payload: Vec<u8>,
}

/// An open netlink socket of one protocol (NETLINK_ROUTE, NETLINK_GENERIC).
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    pub fn open(protocol: libc::c_int) -> Result<Self, NlError> {
        // SAFETY: plain socket(2); the fd is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(NlError::io(io::Error::last_os_error()));
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
        Ok(Socket { fd, seq: 0 })
    }

    /// Sends `msg` and returns every data reply until the ack (or the end of a dump).
    pub fn request(&mut self, msg: &mut Msg) -> Result<Vec<Reply>, NlError> {
        self.seq += 1;
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
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: receiving into a live buffer of the given length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
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
            let mut data = &buf[..n as usize];
            while data.len() >= 16 {
                let len = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
                if len < 16 || len > data.len() {
                    return Err(NlError {
                        errno: libc::EPROTO,
                        message: Some("malformed netlink reply".into()),
                    });
                }
                let msg_type = u16::from_ne_bytes(data[4..6].try_into().unwrap());
                let flags = u16::from_ne_bytes(data[6..8].try_into().unwrap());
                let rseq = u32::from_ne_bytes(data[8..12].try_into().unwrap());
                let payload = &data[16..len];
                data = &data[align(len).min(data.len())..];
                if rseq != seq {
                    continue;
                }
                match msg_type {
                    NLMSG_DONE => return Ok(replies),
                    NLMSG_ERROR => {
                        let errno = i32::from_ne_bytes(payload[0..4].try_into().unwrap());
                        if errno == 0 {
                            return Ok(replies);
                        }
                        return Err(NlError {
                            errno: -errno,
                            message: ext_ack_message(payload, flags),
                        });
                    }
                    _ => replies.push(Reply {
                        msg_type,
                        payload: payload.to_vec(),
                    }),
                }
            }
        }
    }
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
    let orig_len = u32::from_ne_bytes(payload[4..8].try_into().ok()?) as usize;
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
    v.get(0..4)
        .map(|b| u32::from_ne_bytes(b.try_into().unwrap()))
}

pub fn as_u16(v: &[u8]) -> Option<u16> {
    v.get(0..2)
        .map(|b| u16::from_ne_bytes(b.try_into().unwrap()))
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
}
