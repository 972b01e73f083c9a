//! One connection and one request, each phase timed at its boundary: the lookup, our own
//! TcpStream's connect, the tokio-rustls handshake over it, then hyper's client connection API
//! (http1 or http2 handshake over that stream) for the request, so hyper never hides a
//! connect or a handshake inside a pool.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::{http1, http2};
use hyper::{Request, Response, body::Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout_at;

use super::classify::{Context, Failure, Problem, classify};
use super::model::{Attempt, ConnKind, TlsReport};
use super::options::{HttpChoice, Method, Target};
use super::tcp_info;
use super::tls::{CertCheck, Trust, describe_chain, version_name};

/// What every connection of one URL shares.
pub struct Shared {
    pub target: Target,
    pub http: HttpChoice,
    pub method: Method,
    pub timeout: Duration,
    pub insecure: bool,
    /// Trust and the base client configuration, for https.
    pub tls: Option<(Arc<Trust>, Arc<ClientConfig>)>,
    /// When the probe of this URL started.
    pub start: Instant,
    /// The server name as text (SNI name, or the address).
    server_name: String,
    next_conn: AtomicU32,
    /// TLS facts from the first handshake that reached the certificate.
    pub tls_report: Mutex<Option<TlsReport>>,
}

impl Shared {
    pub fn new(
        target: Target,
        http: HttpChoice,
        method: Method,
        timeout: Duration,
        insecure: bool,
        tls: Option<(Arc<Trust>, Arc<ClientConfig>)>,
    ) -> Self {
        Shared {
            server_name: target.server_name.to_str().into_owned(),
            target,
            http,
            method,
            timeout,
            insecure,
            tls,
            start: Instant::now(),
            next_conn: AtomicU32::new(0),
            tls_report: Mutex::new(None),
        }
    }

    fn context(&self, addr: Option<SocketAddr>) -> Context<'_> {
        Context {
            host: &self.target.host,
            port: self.target.port,
            server_name: &self.server_name,
            addr,
            local: addr.is_some_and(|a| is_local(a.ip())),
            timeout: self.timeout,
            processing: None,
            server: None,
            h2_prior_knowledge: false,
        }
    }

    fn fail(&self, a: &mut Attempt, addr: Option<SocketAddr>, problem: &Problem) {
        a.failure = Some(classify(problem, &self.context(addr)));
    }
}

enum Sender {
    H1(http1::SendRequest<Empty<Bytes>>),
    H2(http2::SendRequest<Empty<Bytes>>),
}

/// Aborts the task that drives a connection when the last handle goes.
struct Driver(tokio::task::JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An open HTTP connection.
pub struct Conn {
    pub id: u32,
    sender: Sender,
    /// A duplicate of the socket, so TCP_INFO can be read even after hyper closed its side.
    fd: Option<Arc<OwnedFd>>,
    addr: SocketAddr,
    version: &'static str,
    /// A response has come on this connection.
    answered: bool,
    /// The last response lets the connection carry another request (see [`keeps_alive`]).
    keep_alive: bool,
    _driver: Arc<Driver>,
}

impl Conn {
    /// Another handle on the same connection (HTTP/2 multiplexes requests on it).
    pub fn share(&self) -> Option<Conn> {
        match &self.sender {
            Sender::H2(s) => Some(Conn {
                id: self.id,
                sender: Sender::H2(s.clone()),
                fd: self.fd.clone(),
                addr: self.addr,
                version: self.version,
                answered: self.answered,
                keep_alive: self.keep_alive,
                _driver: self._driver.clone(),
            }),
            Sender::H1(_) => None,
        }
    }

    pub fn is_http2(&self) -> bool {
        matches!(self.sender, Sender::H2(_))
    }

    /// False once a response said the server closes the connection after it
    /// (`Connection: close`, or HTTP/1.0 without `Connection: keep-alive`).
    pub fn keeps_alive(&self) -> bool {
        self.keep_alive
    }

    /// Waits until the connection can take a request; false when it is closed, or when the
    /// last response said the server closes it (asking hyper then races the server's FIN and
    /// ends in "connection was not ready").
    pub async fn ready(&mut self) -> bool {
        if !self.keep_alive {
            return false;
        }
        match &mut self.sender {
            Sender::H1(s) => !s.is_closed() && s.ready().await.is_ok(),
            Sender::H2(s) => !s.is_closed() && s.ready().await.is_ok(),
        }
    }

    async fn send(&mut self, req: Request<Empty<Bytes>>) -> hyper::Result<Response<Incoming>> {
        match &mut self.sender {
            Sender::H1(s) => s.send_request(req).await,
            Sender::H2(s) => s.send_request(req).await,
        }
    }

    fn tcp_info(&self) -> Option<tcp_info::TcpInfo> {
        self.fd.as_ref().and_then(|fd| tcp_info::read(fd.as_fd()))
    }
}

/// True for loopback and for addresses of this host's interfaces.
pub fn is_local(ip: IpAddr) -> bool {
    if ip.is_loopback() || ip.is_unspecified() {
        return true;
    }
    nix::ifaddrs::getifaddrs().is_ok_and(|mut addrs| {
        addrs.any(|a| {
            a.address.is_some_and(|s| {
                s.as_sockaddr_in().map(|v4| IpAddr::V4(v4.ip())) == Some(ip)
                    || s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())) == Some(ip)
            })
        })
    })
}

/// Opens a connection (resolve, connect, TLS, HTTP handshake) and makes one request on it.
/// Returns the connection for reuse when the request succeeded.
pub async fn new_connection_request(
    sh: &Shared,
    seq: u32,
    kind: ConnKind,
) -> (Attempt, Option<Conn>) {
    let id = sh.next_conn.fetch_add(1, Ordering::Relaxed);
    let t0 = Instant::now();
    let deadline = tokio::time::Instant::from_std(t0 + sh.timeout);
    let mut a = Attempt::new(seq, kind, id, t0.duration_since(sh.start));
    let conn = match open(sh, id, deadline, &mut a).await {
        Ok(conn) => conn,
        Err((problem, addr)) => {
            sh.fail(&mut a, addr, &problem);
            a.total_seconds = t0.elapsed().as_secs_f64();
            return (a, None);
        }
    };
    let mut conn = conn;
    request(sh, &mut conn, deadline, &mut a).await;
    a.total_seconds = t0.elapsed().as_secs_f64();
    let keep = a.failure.is_none().then_some(conn);
    (a, keep)
}

/// One request on an open connection: processing and transfer only.
pub async fn reused_request(sh: &Shared, conn: &mut Conn, seq: u32) -> Attempt {
    let t0 = Instant::now();
    let deadline = tokio::time::Instant::from_std(t0 + sh.timeout);
    let mut a = Attempt::new(seq, ConnKind::Reused, conn.id, t0.duration_since(sh.start));
    a.address = Some(conn.addr.to_string());
    request(sh, conn, deadline, &mut a).await;
    a.total_seconds = t0.elapsed().as_secs_f64();
    a
}

type OpenError = (Problem, Option<SocketAddr>);

async fn open(
    sh: &Shared,
    id: u32,
    deadline: tokio::time::Instant,
    a: &mut Attempt,
) -> Result<Conn, OpenError> {
    let target = &sh.target;
    // Resolve.
    let addrs: Vec<SocketAddr> = match target.fixed_addr {
        Some(addr) => vec![addr],
        None => {
            let t = Instant::now();
            let found = timeout_at(
                deadline,
                tokio::net::lookup_host((target.host.as_str(), target.port)),
            )
            .await;
            a.phases.resolve = Some(t.elapsed().as_secs_f64());
            match found {
                Err(_) => return Err((Problem::ResolveTimeout, None)),
                Ok(Err(e)) => return Err((Problem::Resolve(e), None)),
                Ok(Ok(it)) => {
                    let v: Vec<SocketAddr> = it.collect();
                    if v.is_empty() {
                        return Err((Problem::NoAddress, None));
                    }
                    v
                }
            }
        }
    };
    // Connect: each address in turn when one refuses or is unreachable, as curl does.
    let t = Instant::now();
    let mut last_err = None;
    let mut stream = None;
    for addr in &addrs {
        a.address = Some(addr.to_string());
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => {
                a.phases.connect = None;
                return Err((Problem::ConnectTimeout, Some(*addr)));
            }
            Ok(Ok(s)) => {
                stream = Some((s, *addr));
                break;
            }
            Ok(Err(e)) => last_err = Some((e, *addr)),
        }
    }
    let Some((tcp, addr)) = stream else {
        let (e, addr) = last_err.expect("at least one address was tried");
        return Err((Problem::Connect(e), Some(addr)));
    };
    a.phases.connect = Some(t.elapsed().as_secs_f64());
    let _ = tcp.set_nodelay(true);
    let fd = tcp.as_fd().try_clone_to_owned().ok().map(Arc::new);

    // TLS, then the HTTP handshake on whatever stream we have; on failure the socket's
    // TCP facts go with the report.
    let setup = match &sh.tls {
        None => http_setup(tcp, sh.http == HttpChoice::Http2, deadline).await,
        Some((trust, base)) => tls_then_http(sh, trust, base, tcp, deadline, a).await,
    };
    let (sender, driver, version) = setup.map_err(|problem| {
        a.tcp = fd.as_ref().and_then(|fd| tcp_info::read(fd.as_fd()));
        (problem, Some(addr))
    })?;
    Ok(Conn {
        id,
        sender,
        fd,
        addr,
        version,
        answered: false,
        keep_alive: true,
        _driver: Arc::new(driver),
    })
}

/// The TLS handshake (timed as the `tls` phase, facts recorded), the certificate verdict,
/// the ALPN choice, then the HTTP handshake.
async fn tls_then_http(
    sh: &Shared,
    trust: &Arc<Trust>,
    base: &ClientConfig,
    tcp: TcpStream,
    deadline: tokio::time::Instant,
    a: &mut Attempt,
) -> Result<(Sender, Driver, &'static str), Problem> {
    let (config, slot) = trust.recording(base);
    let connector = tokio_rustls::TlsConnector::from(config);
    let t = Instant::now();
    // rustls reads the socket 4 KiB at a time; a 64 KiB buffer under it saves the syscalls
    // that made large bodies over TLS twice as slow as curl's.
    let io = tokio::io::BufReader::with_capacity(64 * 1024, tcp);
    let result = timeout_at(
        deadline,
        connector.connect(sh.target.server_name.clone(), io),
    )
    .await;
    let tls_time = t.elapsed().as_secs_f64();
    let check = slot.lock().ok().and_then(|mut s| s.take());
    let stream = match result {
        Ok(Ok(s)) => s,
        failed => {
            record_tls(sh, None, check.as_ref());
            return Err(match failed {
                Ok(Err(e)) => Problem::Tls(e),
                _ => Problem::TlsTimeout,
            });
        }
    };
    a.phases.tls = Some(tls_time);
    let session = stream.get_ref().1;
    let alpn = session
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    record_tls(
        sh,
        Some((
            session.protocol_version().map(version_name),
            session
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite())),
            alpn.clone(),
        )),
        check.as_ref(),
    );
    if let Some(error) = check.as_ref().and_then(|c| c.verdict.clone())
        && !sh.insecure
    {
        return Err(Problem::Certificate(error));
    }
    let h2 = alpn.as_deref() == Some("h2");
    if sh.http == HttpChoice::Http2 && !h2 {
        return Err(Problem::NoH2 { alpn });
    }
    http_setup(stream, h2, deadline).await
}

/// The HTTP/1.1 or HTTP/2 handshake within the request's deadline.
async fn http_setup<T>(
    io: T,
    h2: bool,
    deadline: tokio::time::Instant,
) -> Result<(Sender, Driver, &'static str), Problem>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match timeout_at(deadline, handshake(io, h2)).await {
        Ok(Ok(x)) => Ok(x),
        Ok(Err(e)) => Err(Problem::HttpSetup(e)),
        Err(_) => Err(Problem::HeadersTimeout),
    }
}

async fn handshake<T>(io: T, h2: bool) -> hyper::Result<(Sender, Driver, &'static str)>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    if h2 {
        let (sender, conn) = http2::Builder::new(TokioExecutor::new())
            .handshake(io)
            .await?;
        let driver = Driver(tokio::spawn(async move {
            let _ = conn.await;
        }));
        Ok((Sender::H2(sender), driver, "HTTP/2"))
    } else {
        // Fixed 64 KiB reads: hyper's adaptive buffer grows past malloc's mmap threshold,
        // and the fresh pages it faults in for every large body doubled transfer times.
        let (sender, conn) = http1::Builder::new()
            .read_buf_exact_size(Some(64 * 1024))
            .handshake(io)
            .await?;
        let driver = Driver(tokio::spawn(async move {
            let _ = conn.await;
        }));
        Ok((Sender::H1(sender), driver, "HTTP/1.1"))
    }
}

/// Stores the TLS facts from the first handshake that showed a certificate (or finished).
fn record_tls(
    sh: &Shared,
    session: Option<(Option<String>, Option<String>, Option<String>)>,
    check: Option<&CertCheck>,
) {
    let Ok(mut slot) = sh.tls_report.lock() else {
        return;
    };
    let complete = slot.as_ref().is_some_and(|r| r.version.is_some());
    if complete || (session.is_none() && check.is_none()) || (slot.is_some() && session.is_none()) {
        return;
    }
    let now_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (version, cipher, alpn) = session.unwrap_or((None, None, None));
    let target = &sh.target;
    let chain = check
        .map(|c| describe_chain(&c.chain, now_unix))
        .unwrap_or_default();
    let expired = chain
        .first()
        .is_some_and(|leaf| leaf.not_after_unix < now_unix || leaf.not_before_unix > now_unix);
    let err = |r: Option<&Result<(), rustls::Error>>| {
        r.and_then(|r| r.as_ref().err())
            .map(super::tls::cert_error_text)
    };
    let roots = sh
        .tls
        .as_ref()
        .map(|(t, _)| t.source.clone())
        .unwrap_or_default();
    let sni = match &target.server_name {
        ServerName::DnsName(d) => Some(d.as_ref().to_string()),
        _ => None,
    };
    let checked_name = sni.clone().unwrap_or_else(|| target.host.clone());
    *slot = Some(TlsReport {
        version,
        cipher,
        alpn,
        sni,
        checked_name,
        roots,
        trusted: check.is_some_and(|c| c.trusted.is_ok()),
        trust_error: err(check.map(|c| &c.trusted)),
        name_matches: check.is_some_and(|c| c.name.is_ok()),
        name_error: err(check.map(|c| &c.name)),
        expired,
        chain,
    });
}

fn build_request(sh: &Shared, conn: &Conn) -> Request<Empty<Bytes>> {
    let target = &sh.target;
    let builder = Request::builder()
        .method(sh.method.as_str())
        .header(
            hyper::header::USER_AGENT,
            concat!("hostperf/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::ACCEPT, "*/*");
    let builder = if conn.is_http2() {
        builder
            .uri(target.absolute_uri())
            .version(hyper::Version::HTTP_2)
    } else {
        builder
            .uri(target.path.as_str())
            .header(hyper::header::HOST, target.authority.as_str())
    };
    builder
        .body(Empty::new())
        .expect("URL parts were validated when parsed")
}

/// Sends one request, timing processing (sent -> headers) and transfer (headers -> end).
async fn request(sh: &Shared, conn: &mut Conn, deadline: tokio::time::Instant, a: &mut Attempt) {
    a.http_version = Some(conn.version.to_string());
    let req = build_request(sh, conn);
    let t = Instant::now();
    let sent = timeout_at(deadline, conn.send(req)).await;
    let processing = t.elapsed();
    let response = match sent {
        Err(_) => {
            a.tcp = conn.tcp_info();
            sh.fail(a, Some(conn.addr), &Problem::HeadersTimeout);
            return;
        }
        Ok(Err(e)) => {
            a.tcp = conn.tcp_info();
            let cx = Context {
                h2_prior_knowledge: conn.is_http2() && !sh.target.tls && !conn.answered,
                ..sh.context(Some(conn.addr))
            };
            a.failure = Some(classify(&Problem::Http(e), &cx));
            return;
        }
        Ok(Ok(r)) => r,
    };
    a.phases.processing = Some(processing.as_secs_f64());
    conn.answered = true;
    let status = response.status().as_u16();
    a.status = Some(status);
    // What the server answered with, which may be older than what we spoke (HTTP/1.0).
    a.http_version = Some(version_text(response.version()).to_string());
    let headers = response.headers();
    conn.keep_alive = keeps_alive(response.version(), headers);
    a.keep_alive = Some(conn.keep_alive);
    a.server = headers
        .get(hyper::header::SERVER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(120).collect());
    a.clock_skew_seconds = headers
        .get(hyper::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .map(|date| skew_seconds(date, SystemTime::now()));
    let mut body = response.into_body();
    let t = Instant::now();
    let mut bytes: u64 = 0;
    loop {
        match timeout_at(deadline, body.frame()).await {
            Err(_) => {
                a.phases.transfer = Some(t.elapsed().as_secs_f64());
                a.body_bytes = Some(bytes);
                a.tcp = conn.tcp_info();
                sh.fail(a, Some(conn.addr), &Problem::BodyTimeout { status, bytes });
                return;
            }
            Ok(None) => break,
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    bytes = bytes.saturating_add(data.len() as u64);
                }
            }
            Ok(Some(Err(e))) => {
                a.tcp = conn.tcp_info();
                sh.fail(a, Some(conn.addr), &Problem::Http(e));
                return;
            }
        }
    }
    a.phases.transfer = Some(t.elapsed().as_secs_f64());
    a.body_bytes = Some(bytes);
    a.tcp = conn.tcp_info();
    if status >= 400 {
        let cx = Context {
            processing: Some(processing),
            server: a.server.as_deref(),
            ..sh.context(Some(conn.addr))
        };
        a.failure = Some(status_failure(status, &cx));
    }
}

fn status_failure(status: u16, cx: &Context<'_>) -> Failure {
    classify(&Problem::Status { status }, cx)
}

/// `HTTP/1.0`, `HTTP/1.1`, `HTTP/2` as the report spells a response's version.
pub fn version_text(v: hyper::Version) -> &'static str {
    match v {
        hyper::Version::HTTP_09 => "HTTP/0.9",
        hyper::Version::HTTP_10 => "HTTP/1.0",
        hyper::Version::HTTP_11 => "HTTP/1.1",
        hyper::Version::HTTP_2 => "HTTP/2",
        hyper::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
}

/// Whether a response lets its connection carry another request (RFC 9112 section 9.3):
/// not when `Connection` lists `close`; otherwise yes from HTTP/1.1 on, and for HTTP/1.0
/// (and 0.9) only when `Connection` lists `keep-alive`. HTTP/2 has no `Connection` header.
/// Tokens are compared without regard to case, over every `Connection` header line.
pub fn keeps_alive(version: hyper::Version, headers: &hyper::HeaderMap) -> bool {
    if version >= hyper::Version::HTTP_2 {
        return true;
    }
    let has = |token: &str| {
        headers
            .get_all(hyper::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if has("close") {
        false
    } else if version >= hyper::Version::HTTP_11 {
        true
    } else {
        has("keep-alive")
    }
}

/// Server time minus ours, seconds, signed (positive: the server is ahead).
fn skew_seconds(server: SystemTime, ours: SystemTime) -> f64 {
    match server.duration_since(ours) {
        Ok(ahead) => ahead.as_secs_f64(),
        Err(behind) => -behind.duration().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_signed() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(skew_seconds(t + Duration::from_secs(90), t), 90.0);
        assert_eq!(skew_seconds(t, t + Duration::from_secs(90)), -90.0);
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        use hyper::Version;
        use hyper::header::{CONNECTION, HeaderMap, HeaderValue};
        let with = |values: &[&'static str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(CONNECTION, HeaderValue::from_static(v));
            }
            h
        };
        // HTTP/1.1: persistent unless close is listed, in any case or header line.
        assert!(keeps_alive(Version::HTTP_11, &with(&[])));
        assert!(keeps_alive(Version::HTTP_11, &with(&["keep-alive"])));
        assert!(!keeps_alive(Version::HTTP_11, &with(&["close"])));
        assert!(!keeps_alive(Version::HTTP_11, &with(&["Upgrade, Close"])));
        assert!(!keeps_alive(Version::HTTP_11, &with(&["te", "close"])));
        // HTTP/1.0: closed unless keep-alive is listed (python's http.server, old proxies).
        assert!(!keeps_alive(Version::HTTP_10, &with(&[])));
        assert!(keeps_alive(Version::HTTP_10, &with(&["Keep-Alive"])));
        assert!(!keeps_alive(
            Version::HTTP_10,
            &with(&["keep-alive, close"])
        ));
        assert!(!keeps_alive(Version::HTTP_09, &with(&[])));
        // HTTP/2 multiplexes; it has no Connection header.
        assert!(keeps_alive(Version::HTTP_2, &with(&[])));
        // A value that is not text is no token.
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_bytes(b"clos\xe9").unwrap());
        assert!(keeps_alive(Version::HTTP_11, &h));
        assert_eq!(version_text(Version::HTTP_10), "HTTP/1.0");
        assert_eq!(version_text(Version::HTTP_2), "HTTP/2");
    }

    #[test]
    fn loopback_is_local() {
        assert!(is_local("127.0.0.1".parse().unwrap()));
        assert!(is_local("::1".parse().unwrap()));
        assert!(
            !is_local("192.0.2.1".parse().unwrap()),
            "TEST-NET-1 is nobody's interface"
        );
    }
}
