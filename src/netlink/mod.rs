//! TCP socket dumps over NETLINK_SOCK_DIAG (inet_diag), synchronously and without tokio.
//!
//! The state filter runs in the kernel, so asking for LISTEN or CLOSE_WAIT sockets costs little
//! even on a host with many TIME_WAIT sockets. The dump concerns the network namespace of the
//! calling process (inet_diag sockets are per namespace). Never parse /proc/net/tcp instead:
//! it is several times slower and formats addresses as text.

use std::io;
use std::net::{IpAddr, SocketAddr};

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_sys::{Socket, SocketAddr as NlAddr, protocols::NETLINK_SOCK_DIAG};
use serde::{Deserialize, Serialize};

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
}

/// Dumps the TCP sockets (IPv4 and IPv6) whose state is in `state_mask` (see [`state::mask`]).
pub fn dump_tcp(state_mask: u32) -> io::Result<Vec<TcpSocket>> {
    let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.bind_auto()?;
    socket.connect(&NlAddr::new(0, 0))?;
    let _ = socket.set_rx_buf_sz(1 << 20);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 17];
    for family in [AF_INET, AF_INET6] {
        request(&socket, family, state_mask)?;
        receive(&socket, &mut buf, &mut out)?;
    }
    Ok(out)
}

fn request(socket: &Socket, family: u8, state_mask: u32) -> io::Result<()> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let socket_id = if family == AF_INET {
        SocketId::new_v4()
    } else {
        SocketId::new_v6()
    };
    let mut packet = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::from_bits_retain(state_mask),
            socket_id,
        })
        .into(),
    );
    packet.finalize();
    let mut bytes = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut bytes[..]);
    socket.send(&bytes, 0)?;
    Ok(())
}

fn receive(socket: &Socket, buf: &mut [u8], out: &mut Vec<TcpSocket>) -> io::Result<()> {
    loop {
        let size = socket.recv(&mut &mut buf[..], 0)?;
        if size == 0 {
            return Ok(());
        }
        let mut offset = 0;
        while offset < size {
            let message = <NetlinkMessage<SockDiagMessage>>::deserialize(&buf[offset..size])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let length = message.header.length as usize;
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(r)) => {
                    let h = &r.header;
                    out.push(TcpSocket {
                        state: h.state,
                        local: SocketAddr::new(h.socket_id.source_address, h.socket_id.source_port),
                        remote: SocketAddr::new(
                            h.socket_id.destination_address,
                            h.socket_id.destination_port,
                        ),
                        recv_q: h.recv_queue,
                        send_q: h.send_queue,
                        inode: h.inode,
                        uid: h.uid,
                    });
                }
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::Error(e) => {
                    return match e.code {
                        Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                        None => Ok(()),
                    };
                }
                _ => {}
            }
            if length == 0 {
                break;
            }
            offset += (length + 3) & !3;
        }
    }
}

/// True for an address family-independent unspecified or loopback address (for summaries).
pub fn is_loopback(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}
