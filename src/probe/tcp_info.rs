//! TCP facts of one connection from the kernel's `struct tcp_info` (getsockopt TCP_INFO).
//!
//! The struct has grown with the kernel; getsockopt returns as many bytes as the running kernel
//! knows, so every field past the 2.6-era core (104 bytes) is an `Option` that is `None` when
//! the kernel did not fill it. Offsets and the kernel version that added each field are from
//! include/uapi/linux/tcp.h. Values are in the kernel's units (microseconds for times).

use std::os::fd::{AsRawFd, BorrowedFd};

use serde::Serialize;

/// The fields an operator reads, named as in `struct tcp_info` without the `tcpi_` prefix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TcpInfo {
    /// TCP state (1 = ESTABLISHED ... as in include/net/tcp_states.h).
    pub state: u8,
    /// Congestion-avoidance state (0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss).
    pub ca_state: u8,
    /// Retransmission timeout, microseconds.
    pub rto_us: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    /// Segments currently presumed lost.
    pub lost: u32,
    /// Smoothed round-trip time, microseconds.
    pub rtt_us: u32,
    /// Round-trip time variation, microseconds.
    pub rttvar_us: u32,
    /// Congestion window, segments.
    pub snd_cwnd: u32,
    pub reordering: u32,
    /// Segments retransmitted over the connection's life.
    pub total_retrans: u32,
    /// Path MTU.
    pub pmtu: u32,
    /// Segments sent / received (Linux 4.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segs_out: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segs_in: Option<u32>,
    /// Lowest RTT seen, microseconds (Linux 4.6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_rtt_us: Option<u32>,
    /// Delivery rate estimate, bytes per second (Linux 4.9).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_rate: Option<u64>,
    /// Bytes sent, and bytes retransmitted (Linux 4.19).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_sent: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_retrans: Option<u64>,
    /// Peer's advertised receive window, bytes (Linux 5.4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snd_wnd: Option<u32>,
    /// Retransmission timeouts that fired (Linux 6.7).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_rto: Option<u16>,
}

/// The size of the struct on Linux 2.6.x (up to `tcpi_total_retrans`): anything shorter is
/// not a tcp_info.
pub const CORE_LEN: usize = 104;

/// Parses `struct tcp_info` as returned by getsockopt (native byte order). `None` when the
/// buffer is shorter than the 2.6 core; fields beyond the buffer are `None`.
pub fn parse(buf: &[u8]) -> Option<TcpInfo> {
    if buf.len() < CORE_LEN {
        return None;
    }
    let u8_at = |off: usize| buf[off];
    let u16_at = |off: usize| {
        buf.get(off..off + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    let u32_at = |off: usize| {
        buf.get(off..off + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |off: usize| {
        buf.get(off..off + 8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_ne_bytes(a)
        })
    };
    let core = |off: usize| u32_at(off).unwrap_or(0);
    Some(TcpInfo {
        state: u8_at(0),
        ca_state: u8_at(1),
        rto_us: core(8),
        snd_mss: core(16),
        rcv_mss: core(20),
        lost: core(32),
        pmtu: core(60),
        rtt_us: core(68),
        rttvar_us: core(72),
        snd_cwnd: core(80),
        reordering: core(88),
        total_retrans: core(100),
        segs_out: u32_at(136),
        segs_in: u32_at(140),
        min_rtt_us: u32_at(148),
        delivery_rate: u64_at(160),
        bytes_sent: u64_at(200),
        bytes_retrans: u64_at(208),
        snd_wnd: u32_at(228),
        total_rto: u16_at(240),
    })
}

/// Reads TCP_INFO from a socket. `None` when the call fails (not a TCP socket, or the
/// platform has no TCP_INFO).
pub fn read(fd: BorrowedFd<'_>) -> Option<TcpInfo> {
    let mut buf = [0u8; 256];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: buf is valid for `len` bytes and outlives the call; the kernel writes at most
    // `len` bytes and stores the number written in `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    parse(buf.get(..len as usize)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put32(buf: &mut [u8], off: usize, v: u32) {
        buf[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }

    #[test]
    fn a_2_6_kernel_fills_only_the_core() {
        let mut buf = vec![0u8; CORE_LEN];
        buf[0] = 1;
        put32(&mut buf, 68, 250);
        put32(&mut buf, 72, 125);
        put32(&mut buf, 80, 10);
        put32(&mut buf, 100, 3);
        let info = parse(&buf).unwrap();
        assert_eq!(info.state, 1);
        assert_eq!(info.rtt_us, 250);
        assert_eq!(info.rttvar_us, 125);
        assert_eq!(info.snd_cwnd, 10);
        assert_eq!(info.total_retrans, 3);
        assert_eq!(info.min_rtt_us, None);
        assert_eq!(info.segs_out, None);
        assert_eq!(info.total_rto, None);
    }

    #[test]
    fn a_newer_kernel_fills_the_rest() {
        let mut buf = vec![0u8; 248];
        put32(&mut buf, 148, 40);
        put32(&mut buf, 136, 7);
        buf[160..168].copy_from_slice(&1_000_000u64.to_ne_bytes());
        buf[240..242].copy_from_slice(&2u16.to_ne_bytes());
        let info = parse(&buf).unwrap();
        assert_eq!(info.min_rtt_us, Some(40));
        assert_eq!(info.segs_out, Some(7));
        assert_eq!(info.delivery_rate, Some(1_000_000));
        assert_eq!(info.total_rto, Some(2));
    }

    #[test]
    fn short_or_empty_is_none() {
        assert_eq!(parse(&[]), None);
        assert_eq!(parse(&[0u8; CORE_LEN - 1]), None);
        // A 4.6 kernel: min_rtt present, delivery_rate cut off mid-field.
        let info = parse(&[0u8; 164]).unwrap();
        assert_eq!(info.min_rtt_us, Some(0));
        assert_eq!(info.delivery_rate, None);
    }

    #[test]
    fn reads_a_live_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        use std::os::fd::AsFd;
        let info = read(client.as_fd()).expect("TCP_INFO on a connected socket");
        assert_eq!(info.state, 1, "ESTABLISHED");
        assert!(info.snd_mss > 0);
    }
}
