//! What to probe and how: URLs parsed into targets, `--resolve` overrides, limits. Pure:
//! nothing here touches the network, so every usage error is found before the first packet.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use hyper::Uri;
use rustls::pki_types::ServerName;

use crate::exit::UsageError;

/// Most requests one URL may get per series: keeps memory (every request is kept for the
/// JSON report, about 300 bytes each) and time bounded.
pub const MAX_COUNT: u32 = 100_000;
/// Most requests in flight at once.
pub const MAX_CONCURRENCY: u32 = 1_000;

/// Which HTTP version to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpChoice {
    /// https: offer h2 and http/1.1 by ALPN and use what the server picks; http: HTTP/1.1.
    Auto,
    /// HTTP/1.1 only (ALPN offers only http/1.1).
    Http1,
    /// HTTP/2 only: ALPN h2 over TLS (fails when the server does not pick it), prior
    /// knowledge (h2c) over plain http.
    Http2,
}

/// Which connections to time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionMode {
    /// A new connection for every request: resolve, connect, TLS, processing, transfer.
    New,
    /// Requests over kept-alive connections opened beforehand: processing and transfer.
    Reused,
    /// Both series, side by side.
    Both,
}

/// The request method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// Everything `hostperf probe` was asked to do.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    pub urls: Vec<String>,
    /// Requests per series (new connections, kept-alive), 1..=MAX_COUNT.
    pub count: u32,
    /// Least time between the starts of two requests of a series.
    pub interval: Duration,
    /// Requests in flight at once, 1..=MAX_CONCURRENCY.
    pub concurrency: u32,
    /// Budget for one request, all phases together.
    pub timeout: Duration,
    pub http: HttpChoice,
    pub connections: ConnectionMode,
    pub method: Method,
    /// PEM file of trusted roots, replacing the system bundle (like curl's --cacert).
    pub cacert: Option<PathBuf>,
    /// Server name for SNI and the certificate name check instead of the URL's host.
    pub sni: Option<String>,
    /// `HOST:PORT:ADDR` entries, like curl's --resolve.
    pub resolve: Vec<String>,
    /// Send the request even when the certificate fails verification (reported, not fatal).
    pub insecure: bool,
    /// Fail when a series' median total is above this.
    pub fail_over: Option<Duration>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            urls: Vec::new(),
            count: 1,
            interval: Duration::ZERO,
            concurrency: 1,
            timeout: Duration::from_secs(10),
            http: HttpChoice::Auto,
            connections: ConnectionMode::Both,
            method: Method::Get,
            cacert: None,
            sni: None,
            resolve: Vec::new(),
            insecure: false,
            fail_over: None,
        }
    }
}

/// One `--resolve HOST:PORT:ADDR` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveOverride {
    pub host: String,
    pub port: u16,
    pub addr: IpAddr,
}

/// Parses `HOST:PORT:ADDR`; ADDR may be an IPv6 address, bracketed or not.
pub fn parse_resolve(entry: &str) -> Result<ResolveOverride, String> {
    let bad = |why: &str| {
        format!(
            "--resolve {entry:?}: {why}; expected HOST:PORT:ADDR, e.g. example.com:443:127.0.0.1"
        )
    };
    let mut parts = entry.splitn(3, ':');
    let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("too few fields"));
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| bad(&format!("port {port:?} is not a number from 0 to 65535")))?;
    let addr_text = addr.trim_start_matches('[').trim_end_matches(']');
    let addr: IpAddr = addr_text
        .parse()
        .map_err(|_| bad(&format!("{addr:?} is not an IP address")))?;
    Ok(ResolveOverride {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
        port,
        addr,
    })
}

/// One URL, ready to probe.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    pub tls: bool,
    /// Host without brackets, lower case.
    pub host: String,
    pub port: u16,
    /// `host[:port]` for the Host header / :authority.
    pub authority: String,
    /// Path and query, `/` when empty.
    pub path: String,
    /// The name for SNI and the certificate check (`--sni`, else the host).
    pub server_name: ServerName<'static>,
    /// Address given by `--resolve` or an IP literal in the URL: no lookup.
    pub fixed_addr: Option<SocketAddr>,
    /// True when the address came from --resolve.
    pub resolved_by_option: bool,
}

impl Target {
    /// The absolute URI for the request (HTTP/2 needs scheme and authority).
    pub fn absolute_uri(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority, self.path)
    }
}

/// Parses and checks every URL and option; usage errors name the offending value.
pub fn targets(opts: &ProbeOptions) -> anyhow::Result<Vec<Target>> {
    if opts.urls.is_empty() {
        return Err(UsageError::new(
            "name at least one URL, e.g. hostperf probe https://example.com/",
        ));
    }
    if !(1..=MAX_COUNT).contains(&opts.count) {
        return Err(UsageError::new(format!(
            "--count {} is out of range: 1 to {MAX_COUNT}",
            opts.count
        )));
    }
    if !(1..=MAX_CONCURRENCY).contains(&opts.concurrency) {
        return Err(UsageError::new(format!(
            "--concurrency {} is out of range: 1 to {MAX_CONCURRENCY}",
            opts.concurrency
        )));
    }
    if opts.timeout.is_zero() {
        return Err(UsageError::new("--timeout must be more than 0 seconds"));
    }
    let overrides = opts
        .resolve
        .iter()
        .map(|r| parse_resolve(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(UsageError::new)?;
    let sni =
        match &opts.sni {
            Some(name) => Some(ServerName::try_from(name.clone()).map_err(|_| {
                UsageError::new(format!("--sni {name:?} is not a valid server name"))
            })?),
            None => None,
        };
    opts.urls
        .iter()
        .map(|url| target(url, &overrides, sni.clone()))
        .collect()
}

fn target(
    url: &str,
    overrides: &[ResolveOverride],
    sni: Option<ServerName<'static>>,
) -> anyhow::Result<Target> {
    let bad = |why: String| UsageError::new(format!("URL {url:?}: {why}"));
    let uri: Uri = url.parse().map_err(|e| {
        bad(format!(
            "{e}; expected http://HOST[:PORT]/PATH or https://..."
        ))
    })?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        Some(other) => {
            return Err(bad(format!(
                "scheme {other:?} is not supported; use http or https"
            )));
        }
        None => return Err(bad("no scheme; write http://... or https://...".into())),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host".into()))?;
    if authority.as_str().contains('@') {
        return Err(bad(
            "user names and passwords in URLs are not supported".into()
        ));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return Err(bad("no host".into()));
    }
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".into());
    let literal: Option<IpAddr> = host.parse().ok();
    let from_option = overrides
        .iter()
        .find(|o| o.host == host && o.port == port)
        .map(|o| SocketAddr::new(o.addr, port));
    let fixed_addr = from_option.or(literal.map(|ip| SocketAddr::new(ip, port)));
    let server_name = match sni {
        Some(name) => name,
        None => match literal {
            Some(ip) => ServerName::IpAddress(ip.into()),
            None => ServerName::try_from(host.clone())
                .map_err(|_| bad(format!("{host:?} is not a valid host name")))?,
        },
    };
    Ok(Target {
        url: url.to_string(),
        tls,
        authority: authority.as_str().to_ascii_lowercase(),
        host,
        port,
        path,
        server_name,
        fixed_addr,
        resolved_by_option: from_option.is_some(),
    })
}

/// `--resolve` entries that match none of the URLs (curl ignores them silently; we say so).
pub fn unused_overrides(opts: &ProbeOptions, targets: &[Target]) -> Vec<String> {
    opts.resolve
        .iter()
        .filter(|entry| match parse_resolve(entry) {
            Ok(o) => !targets.iter().any(|t| t.host == o.host && t.port == o.port),
            Err(_) => false,
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(urls: &[&str]) -> ProbeOptions {
        ProbeOptions {
            urls: urls.iter().map(|s| s.to_string()).collect(),
            ..ProbeOptions::default()
        }
    }

    #[test]
    fn resolve_entries() {
        let r = parse_resolve("Example.com:443:127.0.0.1").unwrap();
        assert_eq!(r.host, "example.com");
        assert_eq!(r.port, 443);
        assert_eq!(r.addr, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            parse_resolve("h:8443:[::1]").unwrap().addr,
            "::1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            parse_resolve("h:8443:fe80::1").unwrap().addr,
            "fe80::1".parse::<IpAddr>().unwrap()
        );
        assert!(parse_resolve("h:443").is_err());
        assert!(parse_resolve("h:x:1.2.3.4").is_err());
        assert!(parse_resolve("h:70000:1.2.3.4").is_err());
        assert!(parse_resolve(":443:1.2.3.4").is_err());
        assert!(parse_resolve("h:443:not-an-ip").is_err());
    }

    #[test]
    fn urls_become_targets() {
        let mut o = opts(&[
            "https://Example.com/a?b=1",
            "http://127.0.0.1:8080",
            "http://[::1]:81/x",
        ]);
        o.resolve = vec!["example.com:443:10.1.2.3".into(), "other:1:1.1.1.1".into()];
        let t = targets(&o).unwrap();
        assert!(t[0].tls);
        assert_eq!(t[0].host, "example.com");
        assert_eq!(t[0].port, 443);
        assert_eq!(t[0].path, "/a?b=1");
        assert_eq!(t[0].fixed_addr, Some("10.1.2.3:443".parse().unwrap()));
        assert!(t[0].resolved_by_option);
        assert_eq!(t[0].absolute_uri(), "https://example.com/a?b=1");
        assert_eq!(t[1].path, "/");
        assert_eq!(t[1].fixed_addr, Some("127.0.0.1:8080".parse().unwrap()));
        assert!(!t[1].resolved_by_option);
        assert_eq!(t[2].host, "::1");
        assert_eq!(t[2].fixed_addr, Some("[::1]:81".parse().unwrap()));
        assert_eq!(
            unused_overrides(&o, &t),
            vec!["other:1:1.1.1.1".to_string()]
        );
    }

    #[test]
    fn sni_replaces_the_checked_name() {
        let mut o = opts(&["https://127.0.0.1:8443/"]);
        o.sni = Some("api.example.com".into());
        let t = targets(&o).unwrap();
        assert_eq!(t[0].server_name.to_str(), "api.example.com");
    }

    #[test]
    fn usage_errors() {
        for (urls, needle) in [
            (vec![], "at least one URL"),
            (vec!["ftp://x/"], "scheme \"ftp\""),
            (vec!["example.com"], "no scheme"),
            (vec!["https://u:p@x/"], "passwords"),
            (vec!["http://bad host/"], "URL"),
        ] {
            let e = targets(&opts(&urls)).unwrap_err();
            assert!(e.to_string().contains(needle), "{urls:?}: {e}");
            assert_eq!(crate::exit::code_for(&e), crate::exit::USAGE);
        }
        let mut o = opts(&["http://x/"]);
        o.count = 0;
        assert!(targets(&o).is_err());
        o.count = 1;
        o.concurrency = MAX_CONCURRENCY + 1;
        assert!(targets(&o).is_err());
        o.concurrency = 1;
        o.timeout = Duration::ZERO;
        assert!(targets(&o).is_err());
        o.timeout = Duration::from_secs(1);
        o.resolve = vec!["x:80".into()];
        assert!(targets(&o).is_err());
    }
}
