//! /proc/net/sockstat, /proc/net/netstat (and the same layout in /proc/net/snmp), port ranges.

use std::collections::BTreeMap;

use super::{ParseError, Result, number, text};

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

/// /proc/net/netstat (TcpExt, IpExt, ...) and /proc/net/snmp: pairs of lines, names then values,
/// with the same `Prefix:`. Returns prefix -> field -> value. Values can be negative in snmp
/// (`Tcp: MaxConn -1`), hence i64.
pub fn parse_netstat(bytes: &[u8]) -> Result<BTreeMap<String, BTreeMap<String, i64>>> {
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let lines: Vec<&str> = text(bytes)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    if lines.is_empty() {
        return Err(ParseError::new(0, "empty file"));
    }
    if !lines.len().is_multiple_of(2) {
        return Err(ParseError::new(
            lines.len(),
            "a header line without its value line",
        ));
    }
    for (pair, chunk) in lines.chunks(2).enumerate() {
        let n = pair * 2 + 1;
        let (p1, names) = chunk[0]
            .split_once(':')
            .ok_or_else(|| ParseError::new(n, "expected `Prefix: names`"))?;
        let (p2, values) = chunk[1]
            .split_once(':')
            .ok_or_else(|| ParseError::new(n + 1, "expected `Prefix: values`"))?;
        if p1 != p2 {
            return Err(ParseError::new(
                n + 1,
                format!("prefix {p2:?} after {p1:?}"),
            ));
        }
        let names: Vec<&str> = names.split_whitespace().collect();
        let values: Vec<&str> = values.split_whitespace().collect();
        if names.len() != values.len() {
            return Err(ParseError::new(
                n + 1,
                format!("{} names but {} values", names.len(), values.len()),
            ));
        }
        let entry = out.entry(p1.to_string()).or_default();
        for (name, value) in names.iter().zip(values) {
            let v = value.parse::<i64>().map_err(|_| {
                ParseError::new(
                    n + 1,
                    format!("{p1}:{name}: expected a number, got {value:?}"),
                )
            })?;
            entry.insert(name.to_string(), v);
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
            format!("expected `low high`, got {s:?}"),
        ));
    }
    let lo = number(1, f[0])?;
    let hi = number(1, f[1])?;
    if lo > hi || hi > 65535 {
        return Err(ParseError::new(1, format!("invalid range {lo}-{hi}")));
    }
    Ok((lo as u16, hi as u16))
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
        assert!(parse_netstat(b"TcpExt: A B\n").is_err());
        assert!(parse_netstat(b"TcpExt: A\nIpExt: 1\n").is_err());
        assert!(parse_netstat(b"TcpExt: A\nTcpExt: z\n").is_err());
    }

    #[test]
    fn port_range() {
        assert_eq!(parse_port_range(b"32768\t60999\n").unwrap(), (32768, 60999));
        assert!(parse_port_range(b"5 4\n").is_err());
        assert!(parse_port_range(b"5\n").is_err());
    }
}
