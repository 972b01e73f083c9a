//! `hostperf recommend`: which built-in profile (and opt-in add-ons) fits this host, and
//! why, from its facts: virtualization, NICs and their queues, CPUs, NUMA nodes, memory,
//! kernel, forwarding with connection tracking. [`decide`] is a pure function of the facts,
//! so each rule is tested on its own; [`Signals::read`] gathers the few facts beyond
//! [`HostFacts`] through the Host seam.
//!
//! The choice of base profile: hostperf tunes hosts that serve request/response APIs, so
//! `latency-profile` unless the default-route NIC runs at 40 Gb/s or more with at most 8
//! online CPUs. There a fixed, short interrupt delay at line rate would keep the few CPUs
//! busy with interrupts; batching (adaptive moderation, large rings) keeps up, which is what
//! `throughput-profile` sets (TuneD's network-throughput says the same of 40G+ networks).
//! Add-ons are recommended only where a fact shows the need (`nat-node` where the host
//! forwards packets and tracks connections); the others depend on how the service is used
//! and are listed as notes.

use schemars::JsonSchema;
use serde::Serialize;

use crate::host::Host;
use crate::profile::facts::{HostFacts, KernelVersion};

/// Facts beyond [`HostFacts`] that only the recommendation needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Signals {
    /// net.ipv4.ip_forward is 1: the host routes packets (NAT gateway, Kubernetes node).
    pub ip_forward: bool,
    /// Connection tracking is loaded (net.netfilter.nf_conntrack_max exists).
    pub conntrack: bool,
}

impl Signals {
    pub fn read(host: &Host) -> Signals {
        let sysctl = |p: &str| {
            host.read_optional(p)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        };
        Signals {
            ip_forward: sysctl("/proc/sys/net/ipv4/ip_forward").as_deref() == Some("1"),
            conntrack: sysctl("/proc/sys/net/netfilter/nf_conntrack_max").is_some(),
        }
    }
}

/// One fact and what it decides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Reason {
    pub fact: String,
    pub value: String,
    pub decision: String,
}

/// The profile to apply and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Recommendation {
    /// latency-profile or throughput-profile.
    pub profile: String,
    /// Opt-in add-ons to include after it.
    pub add_ons: Vec<String>,
    pub reasons: Vec<Reason>,
    /// What the facts cannot decide: add-ons to consider, and why.
    pub notes: Vec<String>,
}

impl Recommendation {
    /// The profile and add-ons as one include list.
    pub fn includes(&self) -> Vec<String> {
        std::iter::once(self.profile.clone())
            .chain(self.add_ons.iter().cloned())
            .collect()
    }
}

/// NIC speed from which few CPUs cannot take an interrupt per packet batch, Mb/s.
pub const FAST_NIC_MBPS: u32 = 40_000;
/// At most this many CPUs with such a NIC leans to throughput-profile.
pub const FEW_CPUS: u32 = 8;

/// Drivers that cannot moderate interrupts (virtio without notification coalescing
/// usually, Xen netfront): the latency profile's coalescing rows are skipped there.
const NO_MODERATION: &[&str] = &["virtio_net", "vif", "xen-netfront", "hv_netvsc"];

/// Picks the profile and add-ons for a host with these facts.
pub fn decide(facts: &HostFacts, signals: &Signals) -> Recommendation {
    let mut reasons = Vec::new();
    let mut reason = |fact: &str, value: String, decision: String| {
        reasons.push(Reason {
            fact: fact.to_string(),
            value,
            decision,
        })
    };
    let nic = facts
        .nics
        .iter()
        .find(|n| n.default_route)
        .or_else(|| facts.nics.first());
    let fast = nic
        .and_then(|n| n.speed_mbps)
        .is_some_and(|s| s >= FAST_NIC_MBPS);
    let few = facts.cpus.is_some_and(|c| c <= FEW_CPUS);
    let profile = if fast && few {
        "throughput-profile"
    } else {
        "latency-profile"
    };
    let cpus = facts
        .cpus
        .map_or_else(|| "unknown".to_string(), |c| c.to_string());
    reason(
        "profile",
        match nic {
            Some(n) => format!(
                "{} at {}, {cpus} CPUs",
                n.name,
                n.speed_mbps
                    .map_or_else(|| "unknown speed".to_string(), |s| format!("{s} Mb/s"))
            ),
            None => format!("no NIC with a device, {cpus} CPUs"),
        },
        if profile == "throughput-profile" {
            format!(
                "throughput-profile: a NIC of {} Gb/s or more with {FEW_CPUS} CPUs or fewer needs interrupt batching (adaptive moderation, large rings) to keep up at line rate",
                FAST_NIC_MBPS / 1000
            )
        } else {
            "latency-profile: a request/response API host; short queues and fast wake-ups for the tail".to_string()
        },
    );
    let virt = facts.describe_virtualization();
    let cpu_decision = match (&facts.guest, &facts.container, facts.virtualization_known) {
        (_, Some(_), _) => "in a container: kernel settings are usually the host's and read-only here, and where they are writable they change the whole host; the CPU power settings are skipped".to_string(),
        (Some(_), None, _) => "CPU power settings are skipped: the hypervisor controls frequency and idle states".to_string(),
        (None, None, true) => "bare metal: the CPU governor, energy preference and idle-latency limit apply".to_string(),
        (None, None, false) => "virtualization unknown: the CPU power settings are skipped".to_string(),
    };
    reason("virtualization", virt, cpu_decision);
    match facts.numa_nodes {
        Some(n) if n > 1 => reason(
            "NUMA nodes",
            n.to_string(),
            "automatic NUMA balancing is turned off; IRQs and steering stay on the NIC's node"
                .into(),
        ),
        Some(n) => reason(
            "NUMA nodes",
            n.to_string(),
            "one node: the NUMA balancing setting is skipped".into(),
        ),
        None => {}
    }
    if let Some(n) = nic {
        let driver = n.driver.clone().unwrap_or_else(|| "no driver".into());
        let mut decision = Vec::new();
        if NO_MODERATION.contains(&driver.as_str()) {
            decision.push(format!(
                "{driver} may not moderate interrupts: the coalescing rows are skipped where the device refuses them"
            ));
        }
        match facts.cpus {
            Some(c) if n.rx_queues == 1 && c > 1 => decision.push(format!(
                "one rx queue for {c} CPUs: receive packet steering spreads the protocol work over the NIC's node"
            )),
            Some(c) if n.rx_queues >= c => decision.push(format!(
                "{} rx queues for {c} CPUs: the NIC spreads by itself (no RPS), one interrupt per CPU",
                n.rx_queues
            )),
            Some(c) if n.rx_queues > 1 => decision.push(format!(
                "{} rx queues for {c} CPUs: interrupts one per CPU near the NIC; RPS only where the NIC's node has more cores than queues (the plan's rps_cpus rows say)",
                n.rx_queues
            )),
            _ => {}
        }
        if decision.is_empty() {
            decision.push("queues and interrupts are spread as the profile says".into());
        }
        reason(
            "NIC",
            format!(
                "{} ({driver}, {} rx / {} tx queues)",
                n.name, n.rx_queues, n.tx_queues
            ),
            decision.join("; "),
        );
    }
    if let Some(mem) = facts.memory_bytes {
        let gib = mem as f64 / (1u64 << 30) as f64;
        let default_dirty = mem / 5;
        reason(
            "memory",
            format!("{gib:.1} GiB"),
            format!(
                "the kernel's default dirty limit (20% of available memory) would allow up to {:.1} GiB of unwritten data; the profile caps it in bytes",
                default_dirty as f64 / (1u64 << 30) as f64
            ),
        );
    }
    match facts.kernel() {
        Some(v) => {
            let release = facts.kernel_release.clone().unwrap_or_default();
            let decision = if v < KernelVersion(4, 9, 0) {
                "no BBR before 4.9: the congestion control stays as it is"
            } else if v < KernelVersion(4, 13, 0) {
                "BBR before 4.13 needs fq to pace: the default-route NIC gets an fq root qdisc"
            } else if v < KernelVersion(5, 4, 0) {
                "listen() backlogs were capped at 128 before 5.4: somaxconn is raised to 4096"
            } else {
                "a current kernel: every setting has its key"
            };
            reason("kernel", release, decision.to_string());
        }
        None => reason(
            "kernel",
            "unknown".into(),
            "no /proc/sys/kernel/osrelease: version-dependent settings are skipped".into(),
        ),
    }
    let mut add_ons = Vec::new();
    if signals.ip_forward && signals.conntrack {
        add_ons.push("nat-node".to_string());
        reason(
            "forwarding",
            "ip_forward 1, conntrack loaded".into(),
            "nat-node: the host routes and tracks connections (NAT, Kubernetes); its conntrack and neighbour tables are sized up".into(),
        );
    }
    let notes = vec![
        "busy-poll: add it only for services with CPUs to spare for polling (or that set SO_BUSY_POLL themselves); it costs CPU on every read".to_string(),
        "edge: add it on hosts that talk to clients across the Internet (path MTU black holes)".to_string(),
        "datacenter: add it only where every peer is in the same datacenter (5 ms minimum retransmission timeout)".to_string(),
        "low-jitter: add it on dedicated bare-metal hosts that may spend power and lose the lockup watchdog for the last microseconds".to_string(),
    ];
    Recommendation {
        profile: profile.to_string(),
        add_ons,
        reasons,
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::facts::Evidence;

    fn server() -> HostFacts {
        HostFacts::example_server()
    }

    fn decision(r: &Recommendation, fact: &str) -> String {
        r.reasons
            .iter()
            .find(|x| x.fact == fact)
            .map(|x| x.decision.clone())
            .unwrap_or_default()
    }

    #[test]
    fn an_api_server_gets_the_latency_profile_with_its_cpu_and_numa_settings() {
        let r = decide(&server(), &Signals::default());
        assert_eq!(r.profile, "latency-profile");
        assert!(r.add_ons.is_empty());
        assert!(decision(&r, "virtualization").contains("bare metal"));
        assert!(decision(&r, "NUMA nodes").contains("turned off"));
        assert!(decision(&r, "NIC").contains("16 rx queues for 64 CPUs"));
        assert!(decision(&r, "memory").contains("102.4 GiB"), "{r:#?}");
    }

    #[test]
    fn a_fast_nic_on_few_cpus_leans_to_throughput() {
        let mut facts = server();
        facts.cpus = Some(8);
        facts.nics[0].speed_mbps = Some(100_000);
        assert_eq!(
            decide(&facts, &Signals::default()).profile,
            "throughput-profile"
        );
        facts.cpus = Some(9);
        assert_eq!(
            decide(&facts, &Signals::default()).profile,
            "latency-profile"
        );
        facts.cpus = Some(8);
        facts.nics[0].speed_mbps = None;
        assert_eq!(
            decide(&facts, &Signals::default()).profile,
            "latency-profile"
        );
    }

    #[test]
    fn a_vm_skips_cpu_power_and_a_container_is_told_to_run_on_the_host() {
        let mut facts = server();
        facts.guest = Some(Evidence {
            kind: "kvm".into(),
            source: "/sys/class/dmi/id/product_name: KVM".into(),
        });
        facts.nics[0].driver = Some("virtio_net".into());
        facts.nics[0].rx_queues = 1;
        let r = decide(&facts, &Signals::default());
        assert!(decision(&r, "virtualization").contains("hypervisor controls"));
        assert!(decision(&r, "NIC").contains("may not moderate"));
        assert!(decision(&r, "NIC").contains("one rx queue for 64 CPUs"));
        facts.container = Some(Evidence {
            kind: "docker".into(),
            source: "/.dockerenv".into(),
        });
        assert!(
            decision(&decide(&facts, &Signals::default()), "virtualization")
                .contains("usually the host's")
        );
    }

    #[test]
    fn forwarding_with_conntrack_adds_nat_node_and_old_kernels_are_explained() {
        let mut facts = server();
        let r = decide(
            &facts,
            &Signals {
                ip_forward: true,
                conntrack: true,
            },
        );
        assert_eq!(r.add_ons, ["nat-node"]);
        assert_eq!(r.includes(), ["latency-profile", "nat-node"]);
        assert!(
            decide(
                &facts,
                &Signals {
                    ip_forward: true,
                    conntrack: false
                }
            )
            .add_ons
            .is_empty()
        );
        facts.kernel_release = Some("4.10.0-42-generic".into());
        assert!(decision(&decide(&facts, &Signals::default()), "kernel").contains("needs fq"));
        facts.kernel_release = Some("3.10.0-1160.el7.x86_64".into());
        assert!(decision(&decide(&facts, &Signals::default()), "kernel").contains("no BBR"));
        facts.kernel_release = None;
        assert!(decision(&decide(&facts, &Signals::default()), "kernel").contains("skipped"));
    }
}
