//! /proc/net/sockstat, /proc/net/netstat and /proc/net/snmp (names line, values line),
//! /proc/net/snmp6, /proc/net/stat/nf_conntrack, port ranges and other net sysctls.

use std::collections::BTreeMap;

use super::{Counters, ParseError, Result, number, shown, text};

/// /proc/net/sockstat: `PROTO: key value key value ...` lines, e.g. `TCP: inuse 5 orphan 0 tw 2`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sockstat {
    pub protocols: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Sockstat {
    pub fn get(&self, protocol: &str, key: &str) -> Option<u64> {
        self.protocols.get(protocol)?.get(key).copied()
    }
}

pub fn parse_sockstat(bytes: &[u8]) -> Result<Sockstat> {
    let mut out = Sockstat::default();
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let (proto, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "expected `PROTO: key value ...`"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if !fields.len().is_multiple_of(2) {
            return Err(ParseError::new(n, "odd number of fields"));
        }
        let entry = out.protocols.entry(proto.trim().to_string()).or_default();
        for pair in fields.chunks(2) {
            entry.insert(pair[0].to_string(), number(n, pair[1])?);
        }
    }
    if out.protocols.is_empty() {
        return Err(ParseError::new(0, "empty file"));
    }
    Ok(out)
}

/// Prefix -> field -> value, from /proc/net/netstat or /proc/net/snmp.
pub type Table = BTreeMap<String, BTreeMap<String, i64>>;

/// /proc/net/netstat (TcpExt, IpExt, ...) and /proc/net/snmp: a names line, then a values line
/// with the same `Prefix:`. Which names exist depends on the kernel (2.6.32 has no
/// `InCsumErrors`, 3.x no `Udp: IgnoredMulti`); a header the kernel printed without a values
/// line (gVisor's TcpExt and IcmpMsg) gives no counters, not an error. Values can be negative
/// in snmp (`Tcp: MaxConn -1`), hence i64; a counter past i64::MAX saturates.
pub fn parse_netstat(bytes: &[u8]) -> Result<Table> {
    let mut out = Table::new();
    let mut pending: Option<(&str, Vec<&str>)> = None;
    let mut any = false;
    for (i, line) in text(bytes)?.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        any = true;
        let (prefix, rest) = line
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "expected `Prefix: names` or `Prefix: values`"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        match pending.take() {
            Some((p, names)) if p == prefix => {
                if names.len() != fields.len() {
                    return Err(ParseError::new(
                        n,
                        format!(
                            "{prefix}: {} names but {} values",
                            names.len(),
                            fields.len()
                        ),
                    ));
                }
                let entry = out.entry(prefix.to_string()).or_default();
                for (name, value) in names.iter().zip(&fields) {
                    let v = value
                        .parse::<i64>()
                        .or_else(|_| value.parse::<u64>().map(|_| i64::MAX))
                        .map_err(|_| {
                            ParseError::new(
                                n,
                                format!("{prefix}:{name}: expected a number, got {}", shown(value)),
                            )
                        })?;
                    entry.insert(name.to_string(), v);
                }
            }
            // A names line; one left pending had no values line: it gives no counters.
            _ => pending = Some((prefix, fields)),
        }
    }
    if !any {
        return Err(ParseError::new(0, "empty file"));
    }
    Ok(out)
}

/// /proc/net/snmp6: `Name value` lines (`Udp6RcvbufErrors 0`).
pub fn parse_snmp6(bytes: &[u8]) -> Result<Counters> {
    super::parse_key_values(bytes)
}

/// /proc/net/stat/nf_conntrack: a header of names, then one row of hex counters per CPU.
/// Returns the sums over CPUs, except `entries`, which every row repeats (the table size).
/// The columns differ by kernel (`searched`/`found`/`new` went away in 4.x, `clashres`,
/// `chaintoolong` came), so they are taken by name.
pub fn parse_conntrack_stat(bytes: &[u8]) -> Result<Counters> {
    let mut lines = text(bytes)?.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| ParseError::new(0, "empty file"))?
        .split_whitespace()
        .collect();
    let mut out = Counters::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let values: Vec<&str> = line.split_whitespace().collect();
        if values.len() != header.len() {
            return Err(ParseError::new(
                n,
                format!("{} values for {} names", values.len(), header.len()),
            ));
        }
        for (name, v) in header.iter().zip(values) {
            let v = u64::from_str_radix(v, 16).map_err(|_| {
                ParseError::new(n, format!("{name}: expected hex, got {}", shown(v)))
            })?;
            let e = out.entry(name.to_string()).or_insert(0);
            *e = if *name == "entries" {
                (*e).max(v)
            } else {
                e.saturating_add(v)
            };
        }
    }
    Ok(out)
}

/// net.ipv4.ip_local_port_range: `low high` (tab separated).
pub fn parse_port_range(bytes: &[u8]) -> Result<(u16, u16)> {
    let s = text(bytes)?;
    let f: Vec<&str> = s.split_whitespace().collect();
    if f.len() != 2 {
        return Err(ParseError::new(
            1,
            format!("expected `low high`, got {}", shown(s.trim())),
        ));
    }
    let lo = number(1, f[0])?;
    let hi = number(1, f[1])?;
    match (u16::try_from(lo), u16::try_from(hi)) {
        (Ok(lo), Ok(hi)) if lo <= hi => Ok((lo, hi)),
        _ => Err(ParseError::new(1, format!("invalid range {lo}-{hi}"))),
    }
}

/// net.ipv4.ip_local_reserved_ports: `1000,2000-2010` (empty: none). Malformed parts are
/// skipped; ranges are clamped to the port numbers that exist.
pub fn parse_reserved_ports(bytes: &[u8]) -> Vec<(u16, u16)> {
    String::from_utf8_lossy(bytes)
        .trim()
        .split(',')
        .filter_map(|part| {
            let part = part.trim();
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            let lo: u16 = lo.trim().parse().ok()?;
            let hi: u16 = hi.trim().parse().ok()?;
            (lo <= hi).then_some((lo, hi))
        })
        .collect()
}

/// Three numbers, as in net.ipv4.tcp_mem (`min pressure max`, in pages).
pub fn parse_triple(bytes: &[u8]) -> Result<(u64, u64, u64)> {
    let f: Vec<&str> = text(bytes)?.split_whitespace().collect();
    if f.len() != 3 {
        return Err(ParseError::new(
            1,
            format!("{} fields, expected 3", f.len()),
        ));
    }
    Ok((number(1, f[0])?, number(1, f[1])?, number(1, f[2])?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockstat() {
        let s = parse_sockstat(
            b"sockets: used 10\nTCP: inuse 1 orphan 0 tw 2 alloc 1 mem 147\nUDP: inuse 0 mem 0\n",
        )
        .unwrap();
        assert_eq!(s.get("TCP", "tw"), Some(2));
        assert_eq!(s.get("sockets", "used"), Some(10));
        assert_eq!(s.get("TCP", "nope"), None);
        assert!(parse_sockstat(b"TCP: inuse\n").is_err());
        assert!(parse_sockstat(b"TCP: inuse x\n").is_err());
        assert!(parse_sockstat(b"").is_err());
    }

    #[test]
    fn netstat() {
        let t = parse_netstat(b"TcpExt: A B\nTcpExt: 1 2\nTcp: MaxConn X\nTcp: -1 7\n").unwrap();
        assert_eq!(t["TcpExt"]["B"], 2);
        assert_eq!(t["Tcp"]["MaxConn"], -1);
        assert!(parse_netstat(b"TcpExt: A B\nTcpExt: 1\n").is_err());
        assert!(parse_netstat(b"TcpExt: A\nTcpExt: z\n").is_err());
        assert!(parse_netstat(b"").is_err());
        let big = format!("Tcp: OutSegs\nTcp: {}\n", u64::MAX);
        assert_eq!(
            parse_netstat(big.as_bytes()).unwrap()["Tcp"]["OutSegs"],
            i64::MAX
        );
    }

    /// gVisor prints the TcpExt names without values, and an empty IcmpMsg pair
    /// (google/gvisor pkg/sentry/fsimpl/proc/task_net.go).
    #[test]
    fn netstat_headers_without_values_give_no_counters() {
        let t = parse_netstat(b"TcpExt: SyncookiesSent ListenOverflows ListenDrops\n").unwrap();
        assert!(t.is_empty());
        let t = parse_netstat(b"IcmpMsg:\nIcmpMsg:\nTcp: A\nTcp: 3\nUdp: B\n").unwrap();
        assert_eq!(t["Tcp"]["A"], 3);
        assert!(!t.contains_key("Udp"));
    }

    #[test]
    fn snmp6_and_conntrack() {
        let s = parse_snmp6(b"Udp6InDatagrams    12\nUdp6RcvbufErrors   3\n").unwrap();
        assert_eq!(s["Udp6RcvbufErrors"], 3);
        let c = parse_conntrack_stat(
            b"entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop error expect_new expect_create expect_delete search_restart\n00000010  00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000002 00000001 00000000 00000000 00000000 00000000 00000000 00000000\n00000010  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000001 00000000 00000000 00000000 00000000 00000000 00000000\n",
        )
        .unwrap();
        assert_eq!(c["entries"], 16);
        assert_eq!(c["insert_failed"], 3);
        assert_eq!(c["drop"], 2);
        assert!(parse_conntrack_stat(b"entries drop\n1\n").is_err());
    }

    #[test]
    fn port_range_and_reserved() {
        assert_eq!(parse_port_range(b"32768\t60999\n").unwrap(), (32768, 60999));
        assert!(parse_port_range(b"5 4\n").is_err());
        assert!(parse_port_range(b"5\n").is_err());
        assert!(parse_port_range(b"1 70000\n").is_err());
        assert_eq!(
            parse_reserved_ports(b"1000,2000-2010,x,9-3\n"),
            vec![(1000, 1000), (2000, 2010)]
        );
        assert!(parse_reserved_ports(b"\n").is_empty());
        assert_eq!(parse_triple(b"1\t2\t3\n").unwrap(), (1, 2, 3));
    }
}
