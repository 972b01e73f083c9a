//! `net.ipv4.ip_local_reserved_ports: listeners`: reserve the ports this host's TCP
//! listeners use inside the ephemeral port range, so that widening the range never hands
//! a service's port to an outgoing connection while the service restarts (then its bind()
//! fails with EADDRINUSE). Reserved ports are skipped by automatic port assignment
//! (connect(), bind() to port 0) and nothing else (Documentation/networking/ip-sysctl.rst,
//! ip_local_reserved_ports).
//!
//! The listeners come from the inet_diag dump on a live host (state filter in the kernel)
//! and from /proc/net/tcp and tcp6 below a fixture root (or when the dump is refused).
//! Ports already reserved stay reserved: the value written is the union. Services that are
//! not running when the plan is made are not seen; reserve their ports in the profile.

use std::collections::BTreeSet;

use crate::host::Host;

/// The value that asks for this host's listeners.
pub const LISTENERS: &str = "listeners";
/// The key it is for.
pub const KEY: &str = "net.ipv4.ip_local_reserved_ports";
/// The range it is computed against.
pub const RANGE_KEY: &str = "net.ipv4.ip_local_port_range";

/// The ports of this host's listening TCP sockets (IPv4 and IPv6), and where they came from.
pub fn listening_ports(host: &Host) -> (BTreeSet<u16>, &'static str) {
    if host.is_live() {
        use crate::host::netlink::inet_diag::{dump_tcp, state};
        if let Ok(sockets) = dump_tcp(host, state::mask(&[state::LISTEN])) {
            return (
                sockets.iter().map(|s| s.local.port()).collect(),
                "the inet_diag dump",
            );
        }
    }
    let mut ports = BTreeSet::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(Some(bytes)) = host.read_optional(file) {
            ports.extend(parse_proc_net_tcp(&String::from_utf8_lossy(&bytes)));
        }
    }
    (ports, "/proc/net/tcp and tcp6")
}

/// Local ports of the LISTEN (0A) lines of /proc/net/tcp or tcp6 text.
pub fn parse_proc_net_tcp(text: &str) -> BTreeSet<u16> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1)?;
            let st = fields.nth(1)?;
            if st != "0A" {
                return None;
            }
            let port = local.rsplit_once(':')?.1;
            u16::from_str_radix(port, 16).ok()
        })
        .collect()
}

/// A port list as the kernel reads and prints it: `1,2-4,10` (empty: no port).
pub fn parse_ranges(text: &str) -> Result<BTreeSet<u16>, String> {
    let mut out = BTreeSet::new();
    for part in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.trim()
                .parse::<u16>()
                .map_err(|_| format!("{part:?} is not a port or range of ports"))
        };
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b {
            return Err(format!("{part:?}: the range runs backwards"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// The kernel's form: ascending, runs as `a-b`, separated by commas (the same list format
/// the kernel prints for CPU sets, so one formatter serves both).
pub fn format_ranges(ports: &BTreeSet<u16>) -> String {
    crate::tune::net::cpus::format_list(&ports.iter().map(|p| u32::from(*p)).collect())
}

/// The reserved-ports value after reserving `listening` ports inside `range`, given what is
/// reserved now; and the ports that are newly reserved.
pub fn reserve(
    current: &str,
    listening: &BTreeSet<u16>,
    range: (u16, u16),
) -> Result<(String, Vec<u16>), String> {
    let mut reserved = parse_ranges(current)?;
    let added: Vec<u16> = listening
        .iter()
        .copied()
        .filter(|p| (range.0..=range.1).contains(p) && !reserved.contains(p))
        .collect();
    reserved.extend(added.iter().copied());
    Ok((format_ranges(&reserved), added))
}

/// `first last` of ip_local_port_range.
pub fn parse_range(text: &str) -> Option<(u16, u16)> {
    let mut it = text.split_whitespace().map(|f| f.parse::<u16>().ok());
    Some((it.next()??, it.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines in the kernel's format (net/ipv4/tcp_ipv4.c, get_tcp4_sock): a listener on
    /// 0.0.0.0:22, one on 127.0.0.1:50051, an established connection from port 40000.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:C383 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 100 0 0 10 0\n   2: 0A00000A:9C40 0A00000B:01BB 01 00000000:00000000 00:00000000 00000000     0        0 12347 1 0000000000000000 20 4 30 10 -1\n";

    #[test]
    fn listeners_are_the_lines_in_state_0a() {
        assert_eq!(
            parse_proc_net_tcp(TCP),
            [22u16, 50051].into_iter().collect::<BTreeSet<_>>()
        );
        assert!(parse_proc_net_tcp("garbage\nmore garbage\n").is_empty());
    }

    #[test]
    fn port_lists_round_trip_in_the_kernels_form() {
        let set = parse_ranges("1,2-4,10-10").unwrap();
        assert_eq!(format_ranges(&set), "1-4,10");
        assert_eq!(format_ranges(&parse_ranges("").unwrap()), "");
        assert_eq!(
            format_ranges(&parse_ranges("65534-65535").unwrap()),
            "65534-65535"
        );
        assert!(parse_ranges("5-1").is_err());
        assert!(parse_ranges("x").is_err());
    }

    #[test]
    fn only_listeners_inside_the_range_are_added_to_what_is_reserved() {
        let listening = parse_proc_net_tcp(TCP);
        let (value, added) = reserve("8080", &listening, (10240, 65535)).unwrap();
        assert_eq!(value, "8080,50051");
        assert_eq!(added, [50051]);
        let (value, added) = reserve("50051", &listening, (10240, 65535)).unwrap();
        assert_eq!(value, "50051");
        assert!(added.is_empty());
        assert_eq!(parse_range("10240\t65535"), Some((10240, 65535)));
        assert_eq!(parse_range("1"), None);
    }
}
