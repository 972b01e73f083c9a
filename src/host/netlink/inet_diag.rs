//! TCP socket dumps over inet_diag (NETLINK_SOCK_DIAG), on the Host's netlink socket.
//!
//! The state filter runs in the kernel, so asking for LISTEN or CLOSE_WAIT sockets costs little
//! even on a host with many TIME_WAIT sockets. The dump concerns the network namespace of the
//! calling process (inet_diag sockets are per namespace). Never parse /proc/net/tcp instead:
//! it is several times slower and formats addresses as text.
//!
//! The request and reply structs (include/uapi/linux/inet_diag.h) are encoded and parsed here
//! by hand, and each reply is turned into a [`TcpSocket`] as it arrives: a dump of 30,000
//! sockets never holds more than one receive buffer of raw messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::{Msg, NlError, Socket};
use crate::host::Host;

/// The netlink protocol of socket diagnostics (NETLINK_INET_DIAG is the same number).
pub const NETLINK_SOCK_DIAG: libc::c_int = 4;
/// The request (and reply) type for a `struct inet_diag_req_v2` (linux/sock_diag.h).
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
const IPPROTO_TCP: u8 = 6;
/// sizeof(struct inet_diag_req_v2): family, protocol, ext, pad, states, inet_diag_sockid.
pub const REQ_V2_LEN: usize = 56;
/// sizeof(struct inet_diag_msg): family, state, timer, retrans, inet_diag_sockid, expires,
/// rqueue, wqueue, uid, inode. Attributes may follow; none are asked for.
pub const MSG_LEN: usize = 72;
/// The legacy request type for a `struct inet_diag_req` about TCP (linux/inet_diag.h).
pub const TCPDIAG_GETSOCK: u16 = 18;
/// sizeof(struct inet_diag_req): family, src_len, dst_len, ext, inet_diag_sockid, states, dbs.
pub const REQ_LEGACY_LEN: usize = 60;
/// sizeof(struct inet_diag_sockid): sport, dport (be16), src[4], dst[4] (be32), if, cookie[2].
const SOCKID_LEN: usize = 48;

/// TCP states as the kernel numbers them (include/net/tcp_states.h).
pub mod state {
    pub const ESTABLISHED: u8 = 1;
    pub const SYN_SENT: u8 = 2;
    pub const SYN_RECV: u8 = 3;
    pub const FIN_WAIT1: u8 = 4;
    pub const FIN_WAIT2: u8 = 5;
    pub const TIME_WAIT: u8 = 6;
    pub const CLOSE: u8 = 7;
    pub const CLOSE_WAIT: u8 = 8;
    pub const LAST_ACK: u8 = 9;
    pub const LISTEN: u8 = 10;
    pub const CLOSING: u8 = 11;

    /// The name `ss` prints for a state.
    pub fn name(state: u8) -> &'static str {
        match state {
            ESTABLISHED => "ESTAB",
            SYN_SENT => "SYN-SENT",
            SYN_RECV => "SYN-RECV",
            FIN_WAIT1 => "FIN-WAIT-1",
            FIN_WAIT2 => "FIN-WAIT-2",
            TIME_WAIT => "TIME-WAIT",
            CLOSE => "UNCONN",
            CLOSE_WAIT => "CLOSE-WAIT",
            LAST_ACK => "LAST-ACK",
            LISTEN => "LISTEN",
            CLOSING => "CLOSING",
            _ => "UNKNOWN",
        }
    }

    /// The kernel's bitmask for a set of states.
    pub fn mask(states: &[u8]) -> u32 {
        states.iter().fold(0, |m, s| m | (1u32 << s))
    }
}

/// One TCP socket from the dump. For a listener, `recv_q` is the accept queue length and
/// `send_q` the backlog (what `ss -lnt` shows as Recv-Q and Send-Q).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpSocket {
    pub state: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub recv_q: u32,
    pub send_q: u32,
    pub inode: u32,
    pub uid: u32,
    /// The running timer (0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window
    /// probe) and the milliseconds until it fires: for a TIME_WAIT socket, 60 000 minus its
    /// age. Absent in captures made before hostperf read them.
    #[serde(default)]
    pub timer: u8,
    #[serde(default)]
    pub expires_ms: u32,
}

/// Dumps the TCP sockets (IPv4 and IPv6) whose state is in `state_mask` (see [`state::mask`]).
/// Live hosts only: [`Host::netlink`] refuses a fixture root and honours injected faults.
///
/// One legacy TCPDIAG_GETSOCK request dumps both families in one walk of the kernel's socket
/// tables (net/ipv4/inet_diag.c turns it into a v2 request with family AF_UNSPEC); two
/// SOCK_DIAG_BY_FAMILY requests, one per family, walk them twice (with 30,000 TIME_WAIT
/// sockets the worst-case diagnose took 15 ms instead of 19). A kernel that refuses the
/// legacy request gets the two v2 requests instead.
pub fn dump_tcp(host: &Host, state_mask: u32) -> Result<Vec<TcpSocket>, NlError> {
    let mut socket = host.netlink(NETLINK_SOCK_DIAG)?;
    match dump_both_families(&mut socket, state_mask) {
        // No legacy handler (or a kernel that dropped it): starts over, one family at a time.
        Err(e) if matches!(e.errno, libc::EINVAL | libc::ENOENT | libc::EOPNOTSUPP) => {
            dump_each_family(&mut socket, state_mask)
        }
        other => other,
    }
}

/// One TCPDIAG_GETSOCK dump: IPv4 and IPv6 in one walk.
fn dump_both_families(socket: &mut Socket, state_mask: u32) -> Result<Vec<TcpSocket>, NlError> {
    let mut out = Vec::new();
    let mut msg = Msg::dump(TCPDIAG_GETSOCK, &request_legacy(state_mask));
    socket.dump(&mut msg, |msg_type, payload| {
        if msg_type == TCPDIAG_GETSOCK {
            out.push(parse_msg(payload)?);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Two SOCK_DIAG_BY_FAMILY dumps, AF_INET then AF_INET6.
fn dump_each_family(socket: &mut Socket, state_mask: u32) -> Result<Vec<TcpSocket>, NlError> {
    let mut out = Vec::new();
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        let mut msg = Msg::dump(SOCK_DIAG_BY_FAMILY, &request_v2(family, state_mask));
        socket.dump(&mut msg, |msg_type, payload| {
            if msg_type == SOCK_DIAG_BY_FAMILY {
                out.push(parse_msg(payload)?);
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// A `struct inet_diag_req` (legacy) asking for every TCP socket in `state_mask`, IPv4 and
/// IPv6 alike: the kernel ignores the family of a legacy dump.
pub fn request_legacy(state_mask: u32) -> [u8; REQ_LEGACY_LEN] {
    let mut req = [0u8; REQ_LEGACY_LEN];
    req[0] = libc::AF_INET as u8; // idiag_family
    // req[1] src_len, req[2] dst_len, req[3] idiag_ext: 0. req[4..52]: inet_diag_sockid, zero.
    req[4 + SOCKID_LEN..8 + SOCKID_LEN].copy_from_slice(&state_mask.to_ne_bytes()); // states
    // req[56..60] idiag_dbs: 0.
    req
}

/// A `struct inet_diag_req_v2` asking for every TCP socket of `family` in `state_mask`: no
/// extensions, and an all-zero socket id (any port, address, interface, cookie).
pub fn request_v2(family: u8, state_mask: u32) -> [u8; REQ_V2_LEN] {
    let mut req = [0u8; REQ_V2_LEN];
    req[0] = family; // sdiag_family
    req[1] = IPPROTO_TCP; // sdiag_protocol
    // req[2] idiag_ext = 0 (no extensions), req[3] pad.
    req[4..8].copy_from_slice(&state_mask.to_ne_bytes()); // idiag_states
    // req[8..56]: inet_diag_sockid, zero.
    req
}

/// Parses one `struct inet_diag_msg` (the payload of a reply; trailing attributes ignored).
/// A short message or an address family other than IPv4/IPv6 is an error, never a panic.
pub fn parse_msg(p: &[u8]) -> Result<TcpSocket, NlError> {
    let Some(m) = p.get(..MSG_LEN) else {
        return Err(NlError::malformed(format!(
            "inet_diag reply of {} bytes, shorter than struct inet_diag_msg ({MSG_LEN})",
            p.len()
        )));
    };
    let family = m[0];
    let state = m[1];
    let timer = m[2];
    // m[3] retrans: not needed.
    let id = &m[4..4 + SOCKID_LEN];
    let sport = u16::from_be_bytes([id[0], id[1]]);
    let dport = u16::from_be_bytes([id[2], id[3]]);
    let (src, dst) = (&id[4..20], &id[20..36]);
    // id[36..40] interface, id[40..48] cookie: not needed.
    let ip = |a: &[u8]| -> Result<IpAddr, NlError> {
        match i32::from(family) {
            libc::AF_INET => Ok(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
            libc::AF_INET6 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(a);
                Ok(IpAddr::V6(Ipv6Addr::from(b)))
            }
            _ => Err(NlError::malformed(format!(
                "inet_diag reply with address family {family}, neither IPv4 nor IPv6"
            ))),
        }
    };
    let word = |at: usize| u32::from_ne_bytes([m[at], m[at + 1], m[at + 2], m[at + 3]]);
    Ok(TcpSocket {
        state,
        local: SocketAddr::new(ip(src)?, sport),
        remote: SocketAddr::new(ip(dst)?, dport),
        recv_q: word(56),
        send_q: word(60),
        uid: word(64),
        inode: word(68),
        timer,
        expires_ms: word(52),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole request as it goes on the wire (x86-64 and other little-endian hosts).
    #[cfg(target_endian = "little")]
    #[test]
    fn the_request_is_a_dump_of_inet_diag_req_v2() {
        let mask = state::mask(&[state::TIME_WAIT, state::LISTEN]);
        let mut msg = Msg::dump(SOCK_DIAG_BY_FAMILY, &request_v2(libc::AF_INET6 as u8, mask));
        let bytes = msg.finish(3).to_vec();
        #[rustfmt::skip]
        let mut want = vec![
            72, 0, 0, 0,    // nlmsg_len: header 16 + request 56
            20, 0,          // nlmsg_type: SOCK_DIAG_BY_FAMILY
            0x01, 0x03,     // nlmsg_flags: NLM_F_REQUEST | NLM_F_DUMP
            3, 0, 0, 0,     // nlmsg_seq
            0, 0, 0, 0,     // nlmsg_pid
            10,             // sdiag_family: AF_INET6
            6,              // sdiag_protocol: IPPROTO_TCP
            0,              // idiag_ext
            0,              // pad
            0x40, 0x04, 0, 0, // idiag_states: 1 << 6 | 1 << 10
        ];
        want.extend([0u8; 48]); // inet_diag_sockid: any
        assert_eq!(bytes, want);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn the_legacy_request_is_a_dump_of_inet_diag_req() {
        let mut msg = Msg::dump(TCPDIAG_GETSOCK, &request_legacy(1 << state::ESTABLISHED));
        let bytes = msg.finish(1).to_vec();
        #[rustfmt::skip]
        let mut want = vec![
            76, 0, 0, 0,    // nlmsg_len: header 16 + request 60
            18, 0,          // nlmsg_type: TCPDIAG_GETSOCK
            0x01, 0x03,     // nlmsg_flags: NLM_F_REQUEST | NLM_F_DUMP
            1, 0, 0, 0,     // nlmsg_seq
            0, 0, 0, 0,     // nlmsg_pid
            2,              // idiag_family: AF_INET (a dump ignores it)
            0, 0,           // idiag_src_len, idiag_dst_len
            0,              // idiag_ext
        ];
        want.extend([0u8; 48]); // inet_diag_sockid: any
        want.extend([2, 0, 0, 0]); // idiag_states: 1 << 1
        want.extend([0, 0, 0, 0]); // idiag_dbs
        assert_eq!(bytes, want);
    }

    /// Both requests give the same sockets: listeners this test opens, and the host's.
    #[test]
    fn one_walk_and_two_walks_agree() {
        use std::net::TcpListener;
        let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let v6 = TcpListener::bind("[::1]:0").ok(); // a host without IPv6 has none
        let host = Host::live();
        let mask = state::mask(&[state::LISTEN]);
        let mut socket = host.netlink(NETLINK_SOCK_DIAG).unwrap();
        let sorted = |mut v: Vec<TcpSocket>| {
            v.sort_by_key(|s| (s.local, s.remote, s.inode));
            v
        };
        let one = sorted(dump_both_families(&mut socket, mask).unwrap());
        let two = sorted(dump_each_family(&mut socket, mask).unwrap());
        assert_eq!(one, two);
        for l in std::iter::once(&v4).chain(v6.as_ref()) {
            let addr = l.local_addr().unwrap();
            assert!(
                one.iter()
                    .any(|s| s.local == addr && s.state == state::LISTEN)
            );
        }
    }

    /// A reply: inet_diag_msg with the given family, addresses and counters, then `extra`.
    #[cfg(target_endian = "little")]
    #[rustfmt::skip]
    fn reply(family: u8, src: &[u8], dst: &[u8], extra: &[u8]) -> Vec<u8> {
        let mut m = vec![
            family,
            8,              // idiag_state: CLOSE_WAIT
            2, 0,           // timer (keepalive), retrans
            0x1f, 0x41,     // sport 8001, big-endian
            0xc3, 0x50,     // dport 50000, big-endian
        ];
        let mut addr = |a: &[u8]| {
            let mut w = [0u8; 16];
            w[..a.len()].copy_from_slice(a);
            m.extend(w);
        };
        addr(src);
        addr(dst);
        m.extend([
            0, 0, 0, 0,     // idiag_if
            1, 2, 3, 4, 5, 6, 7, 8, // idiag_cookie
            0x10, 0x27, 0, 0, // idiag_expires 10000 ms
            5, 0, 0, 0,     // idiag_rqueue
            128, 0, 0, 0,   // idiag_wqueue
            0xe8, 3, 0, 0,  // idiag_uid 1000
            0x92, 0x10, 0, 0, // idiag_inode 4242
        ]);
        m.extend(extra);
        m
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn replies_parse_for_both_families() {
        let v4 = reply(2, &[127, 0, 0, 1], &[10, 0, 0, 2], &[]);
        assert_eq!(v4.len(), MSG_LEN);
        let s = parse_msg(&v4).unwrap();
        assert_eq!(
            s,
            TcpSocket {
                state: state::CLOSE_WAIT,
                local: "127.0.0.1:8001".parse().unwrap(),
                remote: "10.0.0.2:50000".parse().unwrap(),
                recv_q: 5,
                send_q: 128,
                inode: 4242,
                uid: 1000,
                timer: 2,
                expires_ms: 10000,
            }
        );
        let mut one = [0u8; 16];
        one[15] = 1;
        // Attributes after the struct (INET_DIAG_SHUTDOWN here) are ignored.
        let v6 = reply(
            10,
            &one,
            &Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 7).octets(),
            &[5, 0, 8, 0, 0, 0, 0, 0],
        );
        let s = parse_msg(&v6).unwrap();
        assert_eq!(s.local, "[::1]:8001".parse().unwrap());
        assert_eq!(s.remote, "[fe80::7]:50000".parse().unwrap());
        assert_eq!((s.recv_q, s.send_q, s.uid, s.inode), (5, 128, 1000, 4242));
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn short_or_foreign_replies_are_errors_not_panics() {
        let v4 = reply(2, &[127, 0, 0, 1], &[10, 0, 0, 2], &[]);
        for len in [0, 1, 4, 51, 52, MSG_LEN - 1] {
            let e = parse_msg(&v4[..len]).unwrap_err();
            assert_eq!(e.errno, libc::EPROTO);
            assert!(
                e.to_string().contains("shorter than struct inet_diag_msg"),
                "{e}"
            );
        }
        let unix = reply(1, &[], &[], &[]);
        let e = parse_msg(&unix).unwrap_err();
        assert!(e.to_string().contains("address family 1"), "{e}");
    }

    #[test]
    fn a_fixture_root_has_no_socket_dump() {
        let tmp = tempfile::tempdir().unwrap();
        let e = dump_tcp(&Host::with_root(tmp.path()), state::mask(&[state::LISTEN])).unwrap_err();
        assert!(e.to_string().contains("netlink needs a live host"), "{e}");
    }

    #[test]
    fn an_injected_netlink_fault_fails_the_dump() {
        use crate::host::FaultPlan;
        let host =
            Host::live().with_faults(FaultPlan::new().fail("netlink", "/netlink/4", libc::EACCES));
        let e = dump_tcp(&host, state::mask(&[state::LISTEN])).unwrap_err();
        assert_eq!(e.errno, libc::EACCES);
    }
}
