//! The HTTP/1.1 server bench measures against, built on hyper over tokio, running on one
//! thread inside the server namespace.
//!
//! `GET /` answers `response_bytes` bytes after `think` time; `GET /bulk` streams 64 KiB
//! chunks until the client goes away (the bulk flow of the bufferbloat scenario). Per-run
//! options are the ones the scenarios vary: keep-alive, response size, think time,
//! TCP_NODELAY, the listen backlog, a response written in two parts (headers and first half,
//! then the second half, as frameworks that flush headers early do), and busy polling per
//! socket (SO_BUSY_POLL, what net.core.busy_read sets for every socket) or per epoll instance
//! (EPIOCSPARAMS, Linux 6.9+, what net.core.busy_poll sets for every epoll).
//!
//! The server thread's CPU time is readable while it runs (`cpu_time`), so a scenario can
//! report CPU seconds per request.

use std::convert::Infallible;
use std::net::SocketAddrV4;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, SizeHint};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::sync::oneshot;

use super::netns::Netns;

/// How the server behaves in one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerConfig {
    /// Keep connections open between requests (HTTP/1.1 keep-alive); off answers with
    /// `Connection: close`.
    pub keep_alive: bool,
    /// Body bytes of each `GET /` response.
    pub response_bytes: usize,
    /// Time the handler waits before answering (simulated work), milliseconds.
    pub think_ms: u64,
    /// TCP_NODELAY on accepted sockets (Nagle's algorithm off).
    pub nodelay: bool,
    /// The backlog passed to listen(2); the kernel caps it at net.core.somaxconn.
    pub backlog: u32,
    /// Write each response in two parts (headers with the first half, then the second).
    pub split_write: bool,
    /// SO_BUSY_POLL on accepted sockets, microseconds.
    pub busy_read_us: Option<u32>,
    /// Busy polling of the server's epoll instance (EPIOCSPARAMS), microseconds.
    pub busy_poll_us: Option<u32>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            keep_alive: true,
            response_bytes: 200,
            think_ms: 0,
            nodelay: true,
            // As Go and many servers do: ask for the most and let somaxconn decide.
            backlog: 65535,
            split_write: false,
            busy_read_us: None,
            busy_poll_us: None,
        }
    }
}

/// A running server. Stopped (and its connections closed) by `stop` or on drop.
pub struct Server {
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    clock: libc::clockid_t,
    /// What became of the epoll busy-poll request, when one was made.
    pub busy_poll_note: Option<String>,
}

/// Serialises runtime construction so the epoll descriptor a server runtime creates can be
/// told apart from one another thread creates at the same moment.
static RUNTIME_BUILD: Mutex<()> = Mutex::new(());

impl Server {
    /// Starts the server in `ns`, listening on `addr`; returns once it accepts.
    pub fn start(ns: &Netns, addr: SocketAddrV4, config: ServerConfig) -> anyhow::Result<Server> {
        let ns = ns.try_clone()?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("bench-server".into())
            .spawn(move || {
                let setup = (|| -> anyhow::Result<_> {
                    ns.enter()?;
                    let (runtime, epoll) = {
                        let _guard = RUNTIME_BUILD.lock().unwrap_or_else(|e| e.into_inner());
                        let before = eventpoll_fds();
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .context("build the server's runtime")?;
                        let after = eventpoll_fds();
                        let new: Vec<i32> = after
                            .into_iter()
                            .filter(|fd| !before.contains(fd))
                            .collect();
                        (rt, new)
                    };
                    let note = config
                        .busy_poll_us
                        .map(|us| set_epoll_busy_poll(&epoll, us));
                    let listener = runtime.block_on(async { listen(addr, config.backlog) })?;
                    Ok((runtime, listener, note))
                })();
                let (runtime, listener, note) = match setup {
                    Ok(v) => v,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok((thread_clock(), note)));
                runtime.block_on(serve(listener, config, shutdown_rx));
            })
            .context("spawn the server thread")?;
        let (clock, busy_poll_note) = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| anyhow!("the server did not start within 10 s"))??;
        Ok(Server {
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
            clock,
            busy_poll_note,
        })
    }

    /// The server thread's CPU-time clock (valid while the server runs).
    pub fn clock(&self) -> libc::clockid_t {
        self.clock
    }

    /// Stops accepting, closes every connection and joins the thread.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

fn listen(addr: SocketAddrV4, backlog: u32) -> anyhow::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr.into())
        .with_context(|| format!("bind the server to {addr}"))?;
    Ok(socket.listen(backlog)?)
}

async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    mut shutdown: oneshot::Receiver<()>,
) {
    let config = std::sync::Arc::new(config);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Out of descriptors or memory: back off briefly instead of spinning.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(config.nodelay);
        if let Some(us) = config.busy_read_us {
            set_busy_poll(&stream, us);
        }
        let config = config.clone();
        tokio::spawn(async move {
            let keep_alive = config.keep_alive;
            let service = service_fn(move |req| handle(req, config.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(keep_alive)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

type ResponseBody = BoxBody<Bytes, Infallible>;

async fn handle(
    req: Request<hyper::body::Incoming>,
    config: std::sync::Arc<ServerConfig>,
) -> Result<Response<ResponseBody>, Infallible> {
    if config.think_ms > 0 {
        tokio::time::sleep(Duration::from_millis(config.think_ms)).await;
    }
    if req.uri().path() == "/bulk" {
        let chunk = Bytes::from(vec![b'b'; 64 * 1024]);
        return Ok(Response::new(BodyExt::boxed(Endless(chunk))));
    }
    let body = Bytes::from(vec![b'x'; config.response_bytes]);
    let body: ResponseBody = if config.split_write && body.len() >= 2 {
        let half = body.len() / 2;
        BodyExt::boxed(Split::new(body.slice(..half), body.slice(half..)))
    } else {
        BodyExt::boxed(Full::new(body))
    };
    Ok(Response::new(body))
}

/// The bulk download's body: the same chunk, forever, until the client goes away.
struct Endless(Bytes);

impl Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(Some(Ok(Frame::data(self.0.clone()))))
    }
}

/// A body that yields its first part, returns Pending once (so hyper flushes what it has:
/// the headers and the first part), then yields the second part in a separate write.
struct Split {
    first: Option<Bytes>,
    second: Option<Bytes>,
    paused: bool,
    len: u64,
}

impl Split {
    fn new(first: Bytes, second: Bytes) -> Self {
        let len = (first.len() + second.len()) as u64;
        Split {
            first: Some(first),
            second: Some(second),
            paused: false,
            len,
        }
    }
}

impl Body for Split {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if !self.paused {
            self.paused = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(self.second.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.second.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

/// SO_BUSY_POLL on one socket (root may raise it; errors leave the socket as it was).
pub fn set_busy_poll(socket: &impl AsRawFd, us: u32) {
    let value = us as libc::c_int;
    // SAFETY: a valid socket descriptor and a c_int option value of the right size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BUSY_POLL,
            &value as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// `struct epoll_params` of <linux/eventpoll.h> (Linux 6.9+).
#[repr(C)]
struct EpollParams {
    busy_poll_usecs: u32,
    busy_poll_budget: u16,
    prefer_busy_poll: u8,
    pad: u8,
}

/// `EPIOCSPARAMS = _IOW(0x8A, 0x01, struct epoll_params)`.
const EPIOCSPARAMS: libc::c_ulong = 0x4008_8A01;

/// Turns on busy polling for the epoll instances the server's runtime created (found as the
/// eventpoll descriptors that appeared while it was built, under `RUNTIME_BUILD`); returns
/// what happened, for the report.
fn set_epoll_busy_poll(fds: &[i32], us: u32) -> String {
    if fds.is_empty() {
        return "epoll busy polling not set: the server's epoll descriptor was not found".into();
    }
    let params = EpollParams {
        busy_poll_usecs: us,
        busy_poll_budget: 8,
        prefer_busy_poll: 0,
        pad: 0,
    };
    for fd in fds {
        // SAFETY: fd is an epoll descriptor this thread's runtime owns; params has the
        // kernel's layout and lives across the call.
        let rc = unsafe { libc::ioctl(*fd, EPIOCSPARAMS as _, &params as *const EpollParams) };
        if rc != 0 {
            return format!(
                "epoll busy polling not available ({}): needs Linux 6.9 or later",
                std::io::Error::last_os_error()
            );
        }
    }
    format!("server epoll busy polling {us} us (EPIOCSPARAMS), sockets SO_BUSY_POLL")
}

/// The descriptors of this process that are epoll instances.
fn eventpoll_fds() -> Vec<i32> {
    let host = crate::host::Host::live();
    let Ok(names) = host.list_dir("/proc/thread-self/fd") else {
        return Vec::new();
    };
    names
        .iter()
        .filter(|n| {
            host.read_link(format!("/proc/thread-self/fd/{n}"))
                .is_ok_and(|l| l.as_os_str() == "anon_inode:[eventpoll]")
        })
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// The CPU-time clock of the calling thread.
pub fn thread_clock() -> libc::clockid_t {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: pthread_self is always valid for the calling thread; clock is written.
    unsafe {
        libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock);
    }
    clock
}

/// Reads a CPU-time clock.
pub fn clock_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}
