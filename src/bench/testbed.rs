//! The throwaway network a scenario runs on, built with iproute2 (`ip`, `tc`) and `ethtool`
//! inside bench's own namespaces.
//!
//! - `pair`: client namespace - veth - server namespace (10.200.1.1 - 10.200.1.2).
//! - `routed`: client - veth - router - veth - server, the router forwarding with a rate limit
//!   (htb) and a queue of chosen depth in bytes (bfifo) on its egress toward the client.
//!   Bufferbloat only shows there: a sender's own qdisc never fills, because TCP Small Queues
//!   caps each local flow's bytes below the socket. Offloads (GRO, GSO, TSO) are turned off on
//!   the routed path so the queue holds wire-sized packets, not 64 KB aggregates that would
//!   each take 26 ms to leave a 20 Mbit/s link.
//!
//! Every veth is created inside a namespace (`ip link add ... peer ... netns PATH`), so the
//! host's own namespace never sees one. The namespaces, and everything in them, go away when
//! the `Testbed` is dropped. The tools are bounded: each call is killed after 10 s.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use super::netns::Netns;
use crate::host::Host;
use crate::host::sysctl::SysctlKey;

/// The HTTP port the server listens on inside its namespace.
pub const SERVER_PORT: u16 = 8080;
/// Longest any one `ip`, `tc` or `ethtool` call may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes one full-sized frame occupies in a bfifo (1500 MTU + 14 Ethernet header).
pub const FRAME_BYTES: u32 = 1514;

/// A rate limit with a queue, on the router's egress toward the client.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Bottleneck {
    /// Link rate in Mbit/s.
    pub rate_mbit: u32,
    /// The queue's limit in bytes (bfifo).
    pub queue_bytes: u32,
}

/// Which shape of network a scenario needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Topology {
    /// Client and server joined by one veth pair.
    Pair {
        /// Turn GRO on both ends so veth receives through NAPI, as a NIC does (busy
        /// polling needs a NAPI instance to poll).
        napi: bool,
    },
    /// Client - router (rate limit and queue) - server.
    Routed(Bottleneck),
}

/// The namespaces and addresses of one scenario's network.
#[derive(Debug)]
pub struct Testbed {
    pub client: Netns,
    pub server: Netns,
    pub router: Option<Netns>,
    /// Where the server listens, as the client reaches it.
    pub server_addr: SocketAddrV4,
}

const CLIENT_IF: &str = "hpb-c0";
const SERVER_IF: &str = "hpb-s0";
const ROUTER_CLIENT_IF: &str = "hpb-r0";
const ROUTER_SERVER_IF: &str = "hpb-r1";

impl Testbed {
    /// Builds the network. A failure names the tool, its arguments and what it said; the
    /// namespaces made so far are removed when the error drops them.
    pub fn build(topology: Topology) -> anyhow::Result<Testbed> {
        let client = Netns::new("client")?;
        let server = Netns::new("server")?;
        for ns in [&client, &server] {
            tool(ns, "ip", &["link", "set", "lo", "up"])?;
        }
        match topology {
            Topology::Pair { napi } => {
                veth(&client, CLIENT_IF, &server, SERVER_IF)?;
                address(&client, CLIENT_IF, "10.200.1.1/24")?;
                address(&server, SERVER_IF, "10.200.1.2/24")?;
                if napi {
                    offloads(&client, CLIENT_IF, "on")?;
                    offloads(&server, SERVER_IF, "on")?;
                }
                Ok(Testbed {
                    client,
                    server,
                    router: None,
                    server_addr: SocketAddrV4::new(Ipv4Addr::new(10, 200, 1, 2), SERVER_PORT),
                })
            }
            Topology::Routed(bottleneck) => {
                let router = Netns::new("router")?;
                tool(&router, "ip", &["link", "set", "lo", "up"])?;
                veth(&client, CLIENT_IF, &router, ROUTER_CLIENT_IF)?;
                veth(&server, SERVER_IF, &router, ROUTER_SERVER_IF)?;
                address(&client, CLIENT_IF, "10.200.1.1/24")?;
                address(&router, ROUTER_CLIENT_IF, "10.200.1.254/24")?;
                address(&router, ROUTER_SERVER_IF, "10.200.2.254/24")?;
                address(&server, SERVER_IF, "10.200.2.2/24")?;
                tool(
                    &client,
                    "ip",
                    &["route", "add", "default", "via", "10.200.1.254"],
                )?;
                tool(
                    &server,
                    "ip",
                    &["route", "add", "default", "via", "10.200.2.254"],
                )?;
                let forward = SysctlKey::parse("net.ipv4.ip_forward").expect("valid key");
                router
                    .run(|| Host::live().sysctl_write(&forward, "1"))?
                    .context("turn on forwarding in the router namespace")?;
                offloads(&client, CLIENT_IF, "off")?;
                offloads(&server, SERVER_IF, "off")?;
                offloads(&router, ROUTER_CLIENT_IF, "off")?;
                offloads(&router, ROUTER_SERVER_IF, "off")?;
                tool(
                    &router,
                    "tc",
                    &[
                        "qdisc",
                        "add",
                        "dev",
                        ROUTER_CLIENT_IF,
                        "root",
                        "handle",
                        "1:",
                        "htb",
                        "default",
                        "1",
                    ],
                )
                .map_err(|e| lacks("htb", e))?;
                let rate = format!("{}mbit", bottleneck.rate_mbit);
                tool(
                    &router,
                    "tc",
                    &[
                        "class",
                        "add",
                        "dev",
                        ROUTER_CLIENT_IF,
                        "parent",
                        "1:",
                        "classid",
                        "1:1",
                        "htb",
                        "rate",
                        &rate,
                        "ceil",
                        &rate,
                    ],
                )?;
                let bed = Testbed {
                    client,
                    server,
                    router: Some(router),
                    server_addr: SocketAddrV4::new(Ipv4Addr::new(10, 200, 2, 2), SERVER_PORT),
                };
                bed.set_queue(bottleneck.queue_bytes)
                    .map_err(|e| lacks("bfifo", e))?;
                Ok(bed)
            }
        }
    }

    /// Sets the bottleneck queue's depth (bytes). Only on a routed testbed.
    pub fn set_queue(&self, bytes: u32) -> anyhow::Result<()> {
        let router = self
            .router
            .as_ref()
            .ok_or_else(|| anyhow!("this testbed has no bottleneck"))?;
        let limit = bytes.to_string();
        tool(
            router,
            "tc",
            &[
                "qdisc",
                "replace",
                "dev",
                ROUTER_CLIENT_IF,
                "parent",
                "1:1",
                "handle",
                "10:",
                "bfifo",
                "limit",
                &limit,
            ],
        )
    }

    /// The namespaces by side, for applying settings: client and server (the router only
    /// forwards).
    pub fn endpoints(&self) -> [&Netns; 2] {
        [&self.client, &self.server]
    }
}

/// Wraps a qdisc error as "the kernel lacks KIND" when that is what the tool said.
fn lacks(kind: &str, e: anyhow::Error) -> anyhow::Error {
    let text = format!("{e:#}");
    if text.contains("Unknown qdisc")
        || text.contains("No such file")
        || text.contains("Specified qdisc kind is unknown")
        || text.contains("Error: Specified qdisc not found")
    {
        anyhow!(Missing(format!(
            "this kernel lacks the {kind} qdisc (sch_{kind})"
        )))
    } else {
        e
    }
}

/// Something the kernel or the machine lacks that a scenario needs: the scenario is skipped
/// with this reason instead of failing the run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Missing(pub String);

fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) -> anyhow::Result<()> {
    let peer_ns = b.path();
    tool(
        a,
        "ip",
        &[
            "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &peer_ns,
        ],
    )
}

fn address(ns: &Netns, ifname: &str, cidr: &str) -> anyhow::Result<()> {
    tool(ns, "ip", &["addr", "add", cidr, "dev", ifname])?;
    tool(ns, "ip", &["link", "set", ifname, "up"])
}

fn offloads(ns: &Netns, ifname: &str, state: &str) -> anyhow::Result<()> {
    let args: Vec<&str> = if state == "on" {
        vec!["-K", ifname, "gro", "on"]
    } else {
        vec!["-K", ifname, "gro", "off", "gso", "off", "tso", "off"]
    };
    tool(ns, "ethtool", &args).map_err(|e| {
        if e.downcast_ref::<Missing>().is_some() {
            e
        } else {
            e.context(format!("set offloads {state} on {ifname}"))
        }
    })
}

/// Runs a tool inside a namespace, bounded by `TOOL_TIMEOUT`. A tool that is not installed
/// is `Missing` (the scenario is skipped and says which package to install).
pub fn tool(ns: &Netns, program: &str, args: &[&str]) -> anyhow::Result<()> {
    let mut child = match ns
        .command(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let package = if program == "ethtool" {
                "ethtool"
            } else {
                "iproute2"
            };
            bail!(Missing(format!(
                "`{program}` is not installed (apt-get install {package})"
            )));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot run {program}")),
    };
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                use std::io::Read;
                let _ = stderr.read_to_string(&mut err);
            }
            bail!(
                "`{program} {}` in the {} namespace failed ({status}): {}",
                args.join(" "),
                ns.role,
                err.trim()
            );
        }
        if started.elapsed() > TOOL_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "`{program} {}` did not finish within {} s; killed",
                args.join(" "),
                TOOL_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
