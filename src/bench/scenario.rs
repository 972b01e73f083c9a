//! The scenarios: each one a fault line of an API host, the testbed that makes it show
//! within seconds, and the workload variants ("arms") it compares.
//!
//! Every arm runs twice, on a fresh testbed each time: with the namespaces' defaults plus the
//! scenario's starting point (baseline), then with the profile applied over that (profile).

use std::time::Duration;

use serde::Serialize;

use super::loadgen::Arrival;
use super::server::ServerConfig;
use super::testbed::{Bottleneck, FRAME_BYTES, Topology};

/// Which endpoint a testbed setting goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    Client,
    Server,
    Both,
}

/// A sysctl the testbed starts from (before the profile), and why.
#[derive(Clone, Debug, Serialize)]
pub struct Start {
    pub side: Side,
    pub key: String,
    pub value: String,
    pub why: String,
}

/// One workload variant.
#[derive(Clone, Debug, Serialize)]
pub struct Arm {
    pub name: &'static str,
    pub what: &'static str,
    pub server: ServerConfig,
    pub keep_alive: bool,
    /// Workers (maximum requests in flight, and open connections with keep-alive).
    pub connections: usize,
    pub arrival: Arrival,
    pub bulk: bool,
    /// The bottleneck queue's depth for this arm (routed testbeds), bytes.
    pub queue_bytes: Option<u32>,
    /// The client keeps its connections in delayed-ACK mode (TCP_QUICKACK 0 per request).
    pub delayed_ack: bool,
}

/// One scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    pub name: &'static str,
    pub title: &'static str,
    /// What the scenario shows and how to read it.
    pub question: &'static str,
    #[serde(skip)]
    pub topology: Topology,
    pub start: Vec<Start>,
    pub arms: Vec<Arm>,
    /// Offered requests/s when --rate is not given.
    pub default_rate: f64,
    /// The profile settings this scenario exercises.
    pub keys: &'static [&'static str],
}

/// Every scenario name, in the order they run.
pub const NAMES: &[&str] = &[
    "port-exhaustion",
    "accept-burst",
    "bufferbloat",
    "keepalive",
    "nodelay",
    "busy-poll",
];

/// Deep and shallow bottleneck queues: the kernel's default txqueuelen of 1000 packets, and
/// 30 packets (18 ms at 20 Mbit/s).
const DEEP_PACKETS: u32 = 1000;
const SHALLOW_PACKETS: u32 = 30;
const BOTTLENECK_MBIT: u32 = 20;

/// The scenarios named (all when empty), in their fixed order. `loss_based_cc` is the
/// baseline congestion control for bufferbloat (cubic where a namespace may choose it).
pub fn select(names: &[String], loss_based_cc: &str) -> Result<Vec<Scenario>, String> {
    for n in names {
        if !NAMES.contains(&n.as_str()) {
            return Err(format!(
                "unknown scenario {n:?}; known: {}",
                NAMES.join(", ")
            ));
        }
    }
    Ok(NAMES
        .iter()
        .filter(|n| names.is_empty() || names.iter().any(|m| m == *n))
        .map(|n| build(n, loss_based_cc))
        .collect())
}

fn arm(name: &'static str, what: &'static str) -> Arm {
    Arm {
        name,
        what,
        server: ServerConfig::default(),
        keep_alive: true,
        connections: 16,
        arrival: Arrival::Constant,
        bulk: false,
        queue_bytes: None,
        delayed_ack: false,
    }
}

fn build(name: &str, loss_based_cc: &str) -> Scenario {
    let pair = Topology::Pair { napi: false };
    match name {
        "port-exhaustion" => Scenario {
            name: "port-exhaustion",
            title: "Connection churn without keep-alive: ephemeral ports and TIME_WAIT",
            question: "A service that opens a new connection per upstream request and closes it \
                       first keeps each local port in TIME_WAIT for 60 s. Once every port of \
                       ip_local_port_range is waiting, connect() fails with EADDRNOTAVAIL. \
                       The testbed narrows the client's range to 1,000 ports so this shows \
                       within seconds; the kernel's default 28,232 ports run out the same way \
                       at 470 new connections/s to one server address.",
            topology: pair,
            start: vec![Start {
                side: Side::Client,
                key: "net.ipv4.ip_local_port_range".into(),
                value: "40000 40999".into(),
                why: "1,000 ephemeral ports, so exhaustion shows within the run".into(),
            }],
            arms: vec![Arm {
                keep_alive: false,
                connections: 64,
                ..arm(
                    "churn",
                    "a new connection per request, closed by the client",
                )
            }],
            default_rate: 500.0,
            keys: &[
                "net.ipv4.ip_local_port_range",
                "net.ipv4.tcp_tw_reuse",
                "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_max_tw_buckets",
            ],
        },
        "accept-burst" => Scenario {
            name: "accept-burst",
            title: "Connect bursts against the accept queue",
            question: "Connections that arrive together queue in the listener's accept queue, \
                       whose length is min(listen backlog, net.core.somaxconn). When it is \
                       full the kernel drops the handshake and the client retransmits its SYN \
                       after 1 s, then 3 s: a burst turns into connect stalls in p99 \
                       (ListenOverflows counts them). The server asks for a backlog of 65535, \
                       as Go does, so somaxconn decides; the testbed starts from 128, the \
                       kernel's default before Linux 5.4.",
            topology: pair,
            start: vec![Start {
                side: Side::Server,
                key: "net.core.somaxconn".into(),
                value: "128".into(),
                why: "the default before Linux 5.4 (4096 since)".into(),
            }],
            arms: vec![Arm {
                keep_alive: false,
                connections: 4000,
                arrival: Arrival::Bursts { every_ms: 1000 },
                ..arm(
                    "burst",
                    "once a second, a second's worth of new connections at the same instant",
                )
            }],
            default_rate: 1000.0,
            keys: &[
                "net.core.somaxconn",
                "net.ipv4.tcp_max_syn_backlog",
                "net.ipv4.tcp_syncookies",
            ],
        },
        "bufferbloat" => {
            let request_flow = |name, what, packets: u32| Arm {
                // Enough workers for 50 req/s at seconds of queueing delay.
                connections: 256,
                bulk: true,
                queue_bytes: Some(packets * FRAME_BYTES),
                ..arm(name, what)
            };
            Scenario {
                name: "bufferbloat",
                title: "Request latency beside a bulk download through a 20 Mbit/s bottleneck",
                question: "A router between client and server limits the path to 20 Mbit/s. A \
                           bulk download fills its queue while small requests (200-byte \
                           responses, TCP_NODELAY) cross the same queue: a deep queue adds \
                           its whole length to every request; a loss-based congestion control \
                           (cubic, reno) keeps it full, BBR paces to the bottleneck and keeps \
                           it short. The bulk flow's Mbit/s shows what each choice costs.",
                topology: Topology::Routed(Bottleneck {
                    rate_mbit: BOTTLENECK_MBIT,
                    queue_bytes: DEEP_PACKETS * FRAME_BYTES,
                }),
                start: vec![Start {
                    side: Side::Both,
                    key: "net.ipv4.tcp_congestion_control".into(),
                    value: loss_based_cc.into(),
                    why: if loss_based_cc == "cubic" {
                        "the kernel's default, loss-based".into()
                    } else {
                        "loss-based; cubic (the kernel's default) is not in \
                         tcp_allowed_congestion_control, so a namespace may not choose it"
                            .into()
                    },
                }],
                arms: vec![
                    request_flow(
                        "deep-queue",
                        "bottleneck queue of 1000 packets (the default txqueuelen)",
                        DEEP_PACKETS,
                    ),
                    request_flow(
                        "shallow-queue",
                        "bottleneck queue of 30 packets",
                        SHALLOW_PACKETS,
                    ),
                ],
                default_rate: 50.0,
                keys: &[
                    "net.ipv4.tcp_congestion_control",
                    "net.ipv4.tcp_notsent_lowat",
                    "net.ipv4.tcp_rmem",
                    "net.ipv4.tcp_wmem",
                    "net.ipv4.tcp_slow_start_after_idle",
                ],
            }
        }
        "keepalive" => Scenario {
            name: "keepalive",
            title: "Keep-alive against a new connection per request",
            question: "The same offered load over 64 reused connections and over a new \
                       connection per request (handshake, teardown and a client TIME_WAIT each \
                       time). On a 2-core machine keep-alive serves it and a connection per \
                       request cannot: its achieved requests/s is its ceiling, and its latency \
                       is mostly time waiting for a free worker.",
            topology: pair,
            start: Vec::new(),
            arms: vec![
                Arm {
                    connections: 64,
                    ..arm("keep-alive", "64 connections, reused")
                },
                Arm {
                    keep_alive: false,
                    connections: 64,
                    ..arm(
                        "new-connection",
                        "a new connection per request, 64 at a time",
                    )
                },
            ],
            default_rate: 20000.0,
            keys: &[
                "net.ipv4.tcp_slow_start_after_idle",
                "net.ipv4.tcp_fastopen",
                "net.ipv4.tcp_tw_reuse",
                "net.ipv4.ip_local_port_range",
                "net.ipv4.tcp_fin_timeout",
            ],
        },
        "nodelay" => {
            let split = |nodelay| ServerConfig {
                nodelay,
                split_write: true,
                ..ServerConfig::default()
            };
            let busy_client = |name, what, server| Arm {
                server,
                delayed_ack: true,
                ..arm(name, what)
            };
            Scenario {
                name: "nodelay",
                title: "Small responses written in two parts, with and without TCP_NODELAY",
                question: "The server writes each 200-byte response in two writes (headers and \
                           half the body, then the rest), as frameworks that flush headers \
                           early do. Without TCP_NODELAY, Nagle's algorithm holds the second \
                           write until the first is acknowledged, and a client in interactive \
                           (delayed-ACK) mode, as a busy keep-alive client is, delays that \
                           acknowledgement up to 40 ms. The generator keeps its connections in \
                           that mode (TCP_QUICKACK 0 before each request). TCP_NODELAY is the \
                           application's choice; no sysctl of the profile changes it.",
                topology: pair,
                start: Vec::new(),
                arms: vec![
                    busy_client("nodelay-on", "server sets TCP_NODELAY", split(true)),
                    busy_client(
                        "nodelay-off",
                        "Nagle's algorithm on (the socket default)",
                        split(false),
                    ),
                ],
                default_rate: 100.0,
                keys: &[],
            }
        }
        _ => Scenario {
            name: "busy-poll",
            title: "The CPU price of busy polling at equal load",
            question: "net.core.busy_read and busy_poll make a socket read, or an epoll wait, \
                       spin on the NIC's queue for that many microseconds before sleeping. \
                       They are host-wide, so the profile phase sets the same per socket \
                       (SO_BUSY_POLL) and on the server's epoll instance (EPIOCSPARAMS) \
                       instead. The veths receive through NAPI, as a NIC does. Compare CPU \
                       time per request with latency at the same offered load.",
            topology: Topology::Pair { napi: true },
            start: Vec::new(),
            arms: vec![Arm {
                connections: 8,
                ..arm("keep-alive", "8 connections, reused")
            }],
            default_rate: 2000.0,
            keys: &["net.core.busy_read", "net.core.busy_poll"],
        },
    }
}

/// Timeouts that bound every request (and so every run).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
