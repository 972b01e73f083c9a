//! An open-loop HTTP/1.1 load generator that does not hide stalls.
//!
//! Request `i` is due at a fixed time (`start + i / rate`, or in bursts) whatever happened
//! to the requests before it, and its latency is measured from that due time, not from when
//! a connection was free to send it. A stall therefore shows in the latency of every request
//! that was due during it (coordinated omission, which closed-loop tools such as wrk suffer,
//! does not hide it). Latencies go into an HdrHistogram (1 us to 60 s, 3 significant
//! digits); requests due during the warm-up are sent but not recorded.
//!
//! `connections` workers share the schedule: each takes the next due request, sleeps until
//! it is due on its own timerfd (microsecond precision; tokio's timer has 1 ms granularity,
//! which would add up to 1 ms to every latency), sends it on its connection (hyper's
//! HTTP/1.1 client over a tokio socket) and records the outcome. With keep-alive off a worker
//! opens a connection per request and closes it first, as a service calling an upstream
//! does, so TIME_WAIT lands on the client. At the end of the window workers stop taking
//! requests; those due but never sent are reported as `unsent`. Every request is bounded by
//! the connect and response timeouts, so a run lasts at most warm-up + duration + both.

use std::cell::{Cell, RefCell};
use std::net::SocketAddrV4;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::io::unix::AsyncFd;

use super::netns::Netns;
use super::server::{clock_time, thread_clock};

/// When requests are due.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Arrival {
    /// Evenly spaced at the rate.
    Constant,
    /// `rate * every` requests due at the same instant, every `every_ms`.
    Bursts { every_ms: u64 },
}

/// One run of the generator.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub target: SocketAddrV4,
    /// Offered requests per second.
    pub rate: f64,
    pub arrival: Arrival,
    pub warmup: Duration,
    pub duration: Duration,
    /// Reuse connections; off opens (and closes, client first) one per request.
    pub keep_alive: bool,
    /// Workers, so at most this many requests in flight (and open connections).
    pub connections: usize,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    /// A bulk download (GET /bulk) beside the requests for the whole run.
    pub bulk: bool,
    pub path: &'static str,
    /// Put each connection in delayed-ACK mode before every request (TCP_QUICKACK 0), as a
    /// busy keep-alive client is: the kernel then delays the ACK of a partial response.
    pub delayed_ack: bool,
    /// The server thread's CPU clock, read at the start and end of the window.
    pub server_clock: Option<libc::clockid_t>,
}

/// Errors by kind, counted for requests due in the measured window.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Errors {
    /// ECONNREFUSED: nothing listening, or the accept queue refused with a RST.
    pub refused: u64,
    /// The connection was not established within the connect timeout (SYNs lost).
    pub connect_timeout: u64,
    /// EADDRNOTAVAIL: no free local port for the destination (port exhaustion).
    pub addr_not_available: u64,
    /// ECONNRESET, EPIPE or the server closing before the whole response arrived.
    pub reset: u64,
    /// No complete response within the response timeout.
    pub timeout: u64,
    /// A status other than 2xx.
    pub status: u64,
    /// Anything else (the first message is kept in `samples`).
    pub other: u64,
    /// Due in the window but never sent: every connection was busy until the window ended.
    pub unsent: u64,
    /// The first message of each kind seen, for the report.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub samples: std::collections::BTreeMap<String, String>,
}

impl Errors {
    /// Every failed or unsent request.
    pub fn total(&self) -> u64 {
        self.refused
            + self.connect_timeout
            + self.addr_not_available
            + self.reset
            + self.timeout
            + self.status
            + self.other
            + self.unsent
    }

    fn add(&mut self, kind: Kind, message: String) {
        let slot = match kind {
            Kind::Refused => &mut self.refused,
            Kind::ConnectTimeout => &mut self.connect_timeout,
            Kind::AddrNotAvailable => &mut self.addr_not_available,
            Kind::Reset => &mut self.reset,
            Kind::Timeout => &mut self.timeout,
            Kind::Status => &mut self.status,
            Kind::Other => &mut self.other,
        };
        *slot += 1;
        self.samples
            .entry(kind.name().to_string())
            .or_insert(message);
    }
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct LoadResult {
    pub offered_rps: f64,
    /// Requests due in the measured window.
    pub due: u64,
    /// Of those, answered with 2xx.
    pub ok: u64,
    /// 2xx responses completed inside the window (whenever they were due), per second.
    pub achieved_rps: f64,
    /// Latency from due time to the complete response, microseconds (successes only).
    pub latency: Histogram<u64>,
    /// How late requests were sent after their due time, microseconds: the generator's own
    /// delay (timer wake-up, or every connection busy).
    pub send_lag: Histogram<u64>,
    pub errors: Errors,
    /// Goodput of the bulk download during the window, Mbit/s.
    pub bulk_mbit: Option<f64>,
    /// CPU time of the generator's thread during the window.
    pub client_cpu: Duration,
    /// CPU time of the server's thread during the window.
    pub server_cpu: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Refused,
    ConnectTimeout,
    AddrNotAvailable,
    Reset,
    Timeout,
    Status,
    Other,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Refused => "refused",
            Kind::ConnectTimeout => "connect-timeout",
            Kind::AddrNotAvailable => "addr-not-available",
            Kind::Reset => "reset",
            Kind::Timeout => "timeout",
            Kind::Status => "status",
            Kind::Other => "other",
        }
    }
}

/// The schedule of due times.
#[derive(Clone, Copy, Debug)]
struct Schedule {
    start: Instant,
    measure_from: Instant,
    end: Instant,
    period_ns: f64,
    burst: u64,
    every: Duration,
}

impl Schedule {
    fn due(&self, i: u64) -> Instant {
        if self.burst > 1 {
            let n = i / self.burst;
            self.start + self.every.saturating_mul(n.min(u32::MAX as u64) as u32)
        } else {
            self.start + Duration::from_nanos((i as f64 * self.period_ns) as u64)
        }
    }

    /// How many requests are due in [measure_from, end).
    fn due_in_window(&self) -> u64 {
        self.first_due_at_or_after(self.end) - self.first_due_at_or_after(self.measure_from)
    }

    /// The first index due at or after `t` (due times never decrease with the index).
    fn first_due_at_or_after(&self, t: Instant) -> u64 {
        let mut hi = 1u64;
        while self.due(hi) < t && hi < u64::MAX / 2 {
            hi = hi.saturating_mul(2);
        }
        let (mut a, mut b) = (0u64, hi);
        while a < b {
            let m = a + (b - a) / 2;
            if self.due(m) < t { a = m + 1 } else { b = m }
        }
        a
    }
}

struct Shared {
    schedule: Schedule,
    next: Cell<u64>,
    latency: RefCell<Histogram<u64>>,
    /// How late each measured request was sent after its due time, microseconds.
    lag: RefCell<Histogram<u64>>,
    errors: RefCell<Errors>,
    ok: Cell<u64>,
    ok_in_window: Cell<u64>,
    taken_in_window: Cell<u64>,
    bulk_bytes: Cell<u64>,
    /// (client, server) CPU time at the start and at the end of the window.
    cpu: Cell<[Duration; 4]>,
    stop: Arc<AtomicBool>,
}

/// Runs the generator on a thread inside `ns` and returns what it measured. `stop` (set by
/// Ctrl-C) ends the run early with an error.
pub fn run(ns: &Netns, config: &LoadConfig, stop: &Arc<AtomicBool>) -> anyhow::Result<LoadResult> {
    let config = config.clone();
    let stop = stop.clone();
    ns.run(move || run_here(&config, stop))?
}

/// Runs the generator on the calling thread (already in the right namespace).
pub fn run_here(config: &LoadConfig, stop: Arc<AtomicBool>) -> anyhow::Result<LoadResult> {
    if !(config.rate > 0.0 && config.rate.is_finite()) {
        return Err(anyhow!(
            "the rate must be a positive number of requests per second"
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("build the generator's runtime")?;
    let local = tokio::task::LocalSet::new();
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + config.warmup;
    let (burst, every) = match config.arrival {
        Arrival::Constant => (1, Duration::ZERO),
        Arrival::Bursts { every_ms } => {
            let every = Duration::from_millis(every_ms.max(1));
            (
                (config.rate * every.as_secs_f64()).round().max(1.0) as u64,
                every,
            )
        }
    };
    let schedule = Schedule {
        start,
        measure_from,
        end: measure_from + config.duration,
        period_ns: 1e9 / config.rate,
        burst,
        every,
    };
    let shared = Rc::new(Shared {
        schedule,
        next: Cell::new(0),
        latency: RefCell::new(
            Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
        ),
        lag: RefCell::new(
            Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
        ),
        errors: RefCell::new(Errors::default()),
        ok: Cell::new(0),
        ok_in_window: Cell::new(0),
        taken_in_window: Cell::new(0),
        bulk_bytes: Cell::new(0),
        cpu: Cell::new([Duration::ZERO; 4]),
        stop: stop.clone(),
    });
    let outcome = local.block_on(&runtime, async {
        let mut tasks = Vec::new();
        tasks.push(tokio::task::spawn_local(cpu_sampler(
            shared.clone(),
            config.server_clock,
        )));
        if config.bulk {
            tasks.push(tokio::task::spawn_local(bulk(
                shared.clone(),
                config.clone(),
            )));
        }
        for _ in 0..config.connections.max(1) {
            tasks.push(tokio::task::spawn_local(worker(
                shared.clone(),
                config.clone(),
            )));
        }
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let all = futures_join(tasks);
        tokio::pin!(all);
        loop {
            tokio::select! {
                _ = &mut all => return Ok(()),
                _ = tick.tick() => {
                    if stop.load(Ordering::Relaxed) {
                        return Err(anyhow!("interrupted"));
                    }
                }
            }
        }
    });
    let [c0, s0, c1, s1] = shared.cpu.get();
    drop(local);
    drop(runtime);
    outcome?;
    let due = schedule.due_in_window();
    let mut errors = shared.errors.borrow().clone();
    errors.unsent = due.saturating_sub(shared.taken_in_window.get());
    let window = config.duration.as_secs_f64().max(1e-9);
    Ok(LoadResult {
        offered_rps: config.rate,
        due,
        ok: shared.ok.get(),
        achieved_rps: shared.ok_in_window.get() as f64 / window,
        latency: shared.latency.borrow().clone(),
        send_lag: shared.lag.borrow().clone(),
        errors,
        bulk_mbit: config
            .bulk
            .then(|| shared.bulk_bytes.get() as f64 * 8.0 / window / 1e6),
        client_cpu: c1.saturating_sub(c0),
        server_cpu: s1.saturating_sub(s0),
    })
}

/// Reads the generator's and the server's CPU clocks when the window opens and closes.
async fn cpu_sampler(shared: Rc<Shared>, server_clock: Option<libc::clockid_t>) {
    let client_clock = thread_clock();
    let read = || {
        (
            clock_time(client_clock),
            server_clock.map(clock_time).unwrap_or_default(),
        )
    };
    let s = shared.schedule;
    tokio::time::sleep_until(s.measure_from.into()).await;
    let (c0, s0) = read();
    shared.cpu.set([c0, s0, c0, s0]);
    tokio::time::sleep_until(s.end.into()).await;
    let (c1, s1) = read();
    shared.cpu.set([c0, s0, c1, s1]);
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

async fn worker(shared: Rc<Shared>, config: LoadConfig) {
    let mut timer = Timer::new().ok();
    let mut conn: Option<Conn> = None;
    let s = shared.schedule;
    // At low rates, wake a little early and spin to the due time: a wake-up from epoll
    // takes tens of microseconds on a busy machine, which would count as latency. The spin
    // costs at most SPIN_MARGIN per request, so only where that is a small share of a core.
    let spin = config.rate <= SPIN_MAX_RATE;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let mut i = shared.next.get();
        let now = Instant::now();
        if now >= s.measure_from && s.due(i) < s.measure_from {
            // Warm-up requests still unsent when the window opens are dropped, so an
            // overload during warm-up does not carry its backlog into the measurement.
            i = s.first_due_at_or_after(s.measure_from);
        }
        let due = s.due(i);
        if due >= s.end || now >= s.end {
            return;
        }
        shared.next.set(i + 1);
        let measured = due >= s.measure_from;
        if measured {
            shared.taken_in_window.set(shared.taken_in_window.get() + 1);
        }
        match &mut timer {
            Some(t) => t.sleep_until(due, spin).await,
            None => tokio::time::sleep_until(due.into()).await,
        }
        if measured {
            let late = Instant::now().saturating_duration_since(due).as_micros() as u64;
            let _ = shared.lag.borrow_mut().record(late.clamp(1, 60_000_000));
        }
        let outcome = one_request(&mut conn, &config).await;
        let done = Instant::now();
        if !config.keep_alive {
            conn = None;
        }
        match outcome {
            Ok(()) => {
                if done >= s.measure_from && done < s.end {
                    shared.ok_in_window.set(shared.ok_in_window.get() + 1);
                }
                if measured {
                    shared.ok.set(shared.ok.get() + 1);
                    let us = done.saturating_duration_since(due).as_micros() as u64;
                    let _ = shared.latency.borrow_mut().record(us.clamp(1, 60_000_000));
                }
            }
            Err((kind, message)) => {
                conn = None;
                if measured {
                    shared.errors.borrow_mut().add(kind, message);
                }
                // A failed connect returns at once; pace retries so a dead target does
                // not spin (the next request is due on schedule anyway).
            }
        }
    }
}

/// A client connection: hyper's sender and the socket's descriptor (for socket options; the
/// connection task owns the socket).
struct Conn {
    sender: SendRequest<Empty<Bytes>>,
    fd: std::os::fd::RawFd,
}

async fn one_request(conn: &mut Option<Conn>, config: &LoadConfig) -> Result<(), (Kind, String)> {
    if conn.as_ref().is_none_or(|c| c.sender.is_closed()) {
        *conn = Some(connect(config).await?);
    }
    let conn = conn.as_mut().expect("set above");
    if config.delayed_ack {
        let off: libc::c_int = 0;
        // SAFETY: the descriptor belongs to this open connection (checked not closed
        // above); the option value is a c_int.
        unsafe {
            libc::setsockopt(
                conn.fd,
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                &off as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    let sender = &mut conn.sender;
    let request = hyper::Request::get(config.path)
        .header(hyper::header::HOST, "bench")
        .body(Empty::<Bytes>::new())
        .map_err(|e| (Kind::Other, e.to_string()))?;
    let exchange = async {
        sender.ready().await.map_err(|e| hyper_kind(&e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| hyper_kind(&e))?;
        let status = response.status();
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| hyper_kind(&e))?;
        if status.is_success() {
            Ok(())
        } else {
            Err((Kind::Status, format!("HTTP {status}")))
        }
    };
    match tokio::time::timeout(config.response_timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err((
            Kind::Timeout,
            format!(
                "no complete response within {} s",
                config.response_timeout.as_secs_f64()
            ),
        )),
    }
}

async fn connect(config: &LoadConfig) -> Result<Conn, (Kind, String)> {
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| io_kind(&e, false))?;
    let stream =
        match tokio::time::timeout(config.connect_timeout, socket.connect(config.target.into()))
            .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(io_kind(&e, true)),
            Err(_) => {
                return Err((
                    Kind::ConnectTimeout,
                    format!(
                        "not connected within {} s",
                        config.connect_timeout.as_secs_f64()
                    ),
                ));
            }
        };
    let _ = stream.set_nodelay(true);
    let fd = stream.as_raw_fd();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| hyper_kind(&e))?;
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    Ok(Conn { sender, fd })
}

/// The bulk download: one connection reading /bulk until the window ends.
async fn bulk(shared: Rc<Shared>, config: LoadConfig) {
    let s = shared.schedule;
    tokio::time::sleep_until(s.start.into()).await;
    let Ok(Conn { mut sender, .. }) = connect(&config).await else {
        return;
    };
    let request = hyper::Request::get("/bulk")
        .header(hyper::header::HOST, "bench")
        .body(Empty::<Bytes>::new())
        .expect("static request");
    let Ok(response) = sender.send_request(request).await else {
        return;
    };
    let mut body = response.into_body();
    loop {
        let now = Instant::now();
        if now >= s.end || shared.stop.load(Ordering::Relaxed) {
            return;
        }
        match tokio::time::timeout(s.end - now, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if Instant::now() >= s.measure_from
                    && let Some(data) = frame.data_ref()
                {
                    shared
                        .bulk_bytes
                        .set(shared.bulk_bytes.get() + data.len() as u64);
                }
            }
            _ => return,
        }
    }
}

fn io_kind(e: &std::io::Error, connecting: bool) -> (Kind, String) {
    let kind = match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => Kind::Refused,
        Some(libc::EADDRNOTAVAIL) => Kind::AddrNotAvailable,
        Some(libc::ECONNRESET) | Some(libc::EPIPE) | Some(libc::ECONNABORTED) => Kind::Reset,
        Some(libc::ETIMEDOUT) if connecting => Kind::ConnectTimeout,
        Some(libc::ETIMEDOUT) => Kind::Timeout,
        _ => Kind::Other,
    };
    (kind, e.to_string())
}

fn hyper_kind(e: &hyper::Error) -> (Kind, String) {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io_kind(io, false);
        }
        source = s.source();
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return (Kind::Reset, e.to_string());
    }
    (Kind::Other, e.to_string())
}

/// How early a worker wakes to spin to the due time, and up to which rate it does.
const SPIN_MARGIN: Duration = Duration::from_micros(60);
const SPIN_MAX_RATE: f64 = 2000.0;

/// A one-shot timer with microsecond precision: a timerfd registered with tokio's reactor.
struct Timer {
    fd: AsyncFd<OwnedFd>,
}

impl Timer {
    fn new() -> std::io::Result<Timer> {
        // SAFETY: plain syscall; the result is checked before use.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: timerfd_create returned a new descriptor that nothing else owns.
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the AsyncFd owns the descriptor, which stays open (and the same) until the
        // AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register(owned) }.map_err(|e| e.into_parts().1)?;
        Ok(Timer { fd })
    }

    /// Returns at `when` (a few microseconds after; with `spin`, the last `SPIN_MARGIN` is
    /// spent spinning); at once when it has passed.
    async fn sleep_until(&mut self, when: Instant, spin: bool) {
        if spin {
            self.wait(when.checked_sub(SPIN_MARGIN).unwrap_or(when))
                .await;
            while Instant::now() < when {
                std::hint::spin_loop();
            }
        } else {
            self.wait(when).await;
        }
    }

    async fn wait(&mut self, when: Instant) {
        let now = Instant::now();
        if when <= now + Duration::from_micros(5) {
            return;
        }
        let wait = when - now;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: wait.as_secs() as libc::time_t,
                tv_nsec: wait.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: a valid timerfd and a fully initialised itimerspec.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc != 0 {
            tokio::time::sleep(wait).await;
            return;
        }
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                tokio::time::sleep_until(when.into()).await;
                return;
            };
            let mut buf = [0u8; 8];
            // SAFETY: reading 8 bytes from a timerfd into an 8-byte buffer.
            let n = unsafe {
                libc::read(
                    guard.get_inner().as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    8,
                )
            };
            if n == 8 {
                return;
            }
            guard.clear_ready();
            if Instant::now() >= when {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(rate: f64, burst: u64, every_ms: u64) -> Schedule {
        let start = Instant::now();
        Schedule {
            start,
            measure_from: start + Duration::from_secs(1),
            end: start + Duration::from_secs(3),
            period_ns: 1e9 / rate,
            burst,
            every: Duration::from_millis(every_ms),
        }
    }

    #[test]
    fn constant_rate_spaces_requests_evenly_and_counts_the_window() {
        let s = schedule(1000.0, 1, 0);
        assert_eq!(s.due(0), s.start);
        assert_eq!(s.due(1000), s.start + Duration::from_secs(1));
        assert_eq!(s.due(1500), s.start + Duration::from_millis(1500));
        // Due at 1.000 s .. 2.999 s: 2000 requests.
        assert_eq!(s.due_in_window(), 2000);
    }

    #[test]
    fn bursts_share_one_due_time() {
        let s = schedule(500.0, 250, 500);
        assert_eq!(s.due(0), s.due(249));
        assert_eq!(s.due(250), s.start + Duration::from_millis(500));
        // Bursts at 1.0, 1.5, 2.0, 2.5 s: 4 x 250.
        assert_eq!(s.due_in_window(), 1000);
    }

    #[test]
    fn errors_classify_by_errno_and_keep_one_sample_per_kind() {
        let refused = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(io_kind(&refused, true).0, Kind::Refused);
        let ports = std::io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
        assert_eq!(io_kind(&ports, true).0, Kind::AddrNotAvailable);
        let timeout = std::io::Error::from_raw_os_error(libc::ETIMEDOUT);
        assert_eq!(io_kind(&timeout, true).0, Kind::ConnectTimeout);
        assert_eq!(io_kind(&timeout, false).0, Kind::Timeout);
        let reset = std::io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(io_kind(&reset, false).0, Kind::Reset);
        let mut e = Errors::default();
        e.add(Kind::AddrNotAvailable, "first".into());
        e.add(Kind::AddrNotAvailable, "second".into());
        e.unsent = 3;
        assert_eq!(e.addr_not_available, 2);
        assert_eq!(e.total(), 5);
        assert_eq!(e.samples["addr-not-available"], "first");
    }
}
