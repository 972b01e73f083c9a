//! Thresholds, with documented defaults, overridable from a YAML file (`--config PATH`).
//! Unknown keys are errors that carry line and column; every value is checked before use:
//! finite, in range (percentages 0..=100, rates and counts >= 0), and each warn threshold on
//! the healthy side of its crit threshold. Percentages are written as percent (60 = 60 %);
//! the model compares ratios. Where a default comes from is said in docs/diagnose.md.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::exit::UsageError;

macro_rules! section {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $name { $($(#[$fdoc])* pub $field: $ty),* }
        impl Default for $name {
            fn default() -> Self { $name { $($field: $default),* } }
        }
    };
}

section!(
    /// Ephemeral ports held towards one destination, as a share of the usable range.
    PortExhaustion {
        warn_pct: f64 = 60.0,
        crit_pct: f64 = 80.0,
        /// Connection-open rate as a share of range/60 (what TIME_WAIT lets one destination
        /// sustain when its ports cannot be reused).
        open_rate_warn_pct: f64 = 60.0,
    }
);

section!(
    /// ListenOverflows per second (netdata 1m_tcp_accept_queue_overflows: warn > 1/s, crit >
    /// 5/s) and the fill of each listener's accept queue.
    ListenOverflow {
        warn_per_sec: f64 = 1.0,
        crit_per_sec: f64 = 5.0,
        queue_warn_pct: f64 = 80.0,
        queue_crit_pct: f64 = 100.0,
    }
);

section!(
    /// SYN-queue drops and cookies per second (netdata 1m_tcp_syn_queue_drops and
    /// 1m_tcp_syn_queue_cookies: warn > 1/s, crit > 5/s).
    SynFlood {
        warn_per_sec: f64 = 1.0,
        crit_per_sec: f64 = 5.0,
    }
);

section!(TcpRetransmits {
    /// Share of the segments sent that were retransmissions, RetransSegs / (OutSegs +
    /// RetransSegs) over the interval (OutSegs excludes retransmissions: RFC 4022 tcpOutSegs).
    warn_pct: f64 = 2.0,
    crit_pct: f64 = 10.0,
    /// Below this many segments sent (OutSegs + RetransSegs) in the interval the share is not
    /// judged.
    min_out_segs: f64 = 1000.0,
    timeouts_warn_per_sec: f64 = 10.0,
    syn_retrans_warn_per_sec: f64 = 1.0,
});

section!(TcpMemory {
    /// TCP memory against tcp_mem: warn at the pressure threshold (tcp_mem[1]), crit at
    /// this share of the hard limit tcp_mem[2] (netdata tcp_memory: 90 %).
    max_crit_pct: f64 = 90.0,
    /// Orphaned sockets against tcp_max_orphans (netdata tcp_orphans: 25 %, 50 %).
    orphans_warn_pct: f64 = 25.0,
    orphans_crit_pct: f64 = 50.0,
    /// Received data thrown away for lack of memory (RcvPruned, TCPRcvQDrop) per second.
    drops_warn_per_sec: f64 = 1.0,
});

section!(
    /// UDP receive and send buffer errors per second (netdata 1m_ipv4_udp_receive_buffer_errors:
    /// warn > 10/s).
    UdpErrors {
        buffer_errors_warn_per_sec: f64 = 10.0,
        buffer_errors_crit_per_sec: f64 = 100.0,
        in_errors_warn_per_sec: f64 = 10.0,
    }
);

section!(
    /// Connection-tracking table use (netdata netfilter_conntrack_full: warn 90 %, crit 95 %).
    Conntrack {
        warn_pct: f64 = 90.0,
        crit_pct: f64 = 95.0,
    }
);

section!(
    /// Received packets dropped on an interface (netdata inbound_packets_dropped_ratio: warn
    /// >= 2 %), judged when at least `min-rx-packets` arrived in the interval.
    NicDrops {
        drop_warn_pct: f64 = 2.0,
        drop_crit_pct: f64 = 10.0,
        min_rx_packets: f64 = 1000.0,
    }
);

section!(SoftirqImbalance {
    /// Softirq share of the busiest CPU.
    busy_cpu_warn_pct: f64 = 30.0,
    busy_cpu_crit_pct: f64 = 60.0,
    /// The busiest CPU's share of received packets times the number of receive queues
    /// (1 = spread evenly over the queues the NICs have).
    concentration_warn: f64 = 1.5,
    /// Below this many packets per second the spread is not judged.
    min_packets_per_sec: f64 = 1000.0,
});

section!(
    /// Backlog drops and budget squeezes per second, all CPUs (netdata
    /// 1min_netdev_backlog_exceeded, 1min_netdev_budget_ran_outs: warn > 10/s).
    SoftnetDrops {
        warn_per_sec: f64 = 10.0,
        crit_per_sec: f64 = 100.0,
    }
);

section!(CpuSaturation {
    /// Busy share of all CPUs (netdata 10min_cpu_usage: warn 85 %, crit 95 %).
    busy_warn_pct: f64 = 85.0,
    busy_crit_pct: f64 = 95.0,
    /// Runnable tasks per online CPU.
    run_queue_warn: f64 = 1.0,
    run_queue_crit: f64 = 2.0,
    /// PSI cpu "some".
    psi_some_warn_pct: f64 = 20.0,
    psi_some_crit_pct: f64 = 50.0,
    /// Steal share (netdata 20min_steal_cpu: warn 10 %).
    steal_warn_pct: f64 = 10.0,
    steal_crit_pct: f64 = 20.0,
});

section!(
    /// Share of CFS periods in which a cgroup was throttled (kubernetes-mixin
    /// CPUThrottlingHigh: 25 %).
    CpuThrottling {
        warn_pct: f64 = 25.0,
        crit_pct: f64 = 50.0,
    }
);

section!(MemoryPressure {
    /// MemAvailable as a share of MemTotal; lower is worse.
    available_warn_pct: f64 = 10.0,
    available_crit_pct: f64 = 5.0,
    /// PSI memory shares over the interval (or avg10 with one sample).
    psi_some_warn_pct: f64 = 10.0,
    psi_some_crit_pct: f64 = 40.0,
    psi_full_warn_pct: f64 = 10.0,
    psi_full_crit_pct: f64 = 60.0,
    /// Pages swapped in per second.
    swap_in_warn_per_sec: f64 = 100.0,
    swap_in_crit_per_sec: f64 = 1000.0,
    /// Direct reclaim entries (vmstat allocstall) per second.
    direct_reclaim_warn_per_sec: f64 = 10.0,
    direct_reclaim_crit_per_sec: f64 = 100.0,
    /// Major page faults per second (awesome-prometheus-alerts: 1000/s).
    major_faults_warn_per_sec: f64 = 1000.0,
    major_faults_crit_per_sec: f64 = 5000.0,
});

section!(MemoryFragmentation {
    /// Blocks of at least this order count as "high order".
    order: usize = 4,
    /// Fragmented: MemFree above this share of MemTotal ...
    memfree_min_pct: f64 = 20.0,
    /// ... while free pages in high-order blocks are below this share of free pages.
    high_order_warn_pct: f64 = 5.0,
    high_order_crit_pct: f64 = 1.0,
    /// Compaction stalls per second.
    compact_stall_warn_per_sec: f64 = 1.0,
    /// Growth of a focused process's VmData over the interval, per second.
    vmdata_growth_warn_bytes_per_sec: f64 = 1048576.0,
});

section!(
    /// Open fds against the limit (node-mixin: warn 70 %, crit 90 %).
    FdExhaustion {
        warn_pct: f64 = 70.0,
        crit_pct: f64 = 90.0,
    }
);

section!(SocketLeak {
    /// CLOSE_WAIT sockets one process (or user) held through the whole interval.
    close_wait_warn: f64 = 10.0,
    close_wait_crit: f64 = 100.0,
});

section!(IoWait {
    /// PSI io "some" share.
    psi_some_warn_pct: f64 = 10.0,
    psi_some_crit_pct: f64 = 40.0,
    /// Milliseconds per completed I/O (awesome-prometheus-alerts
    /// HostUnusualDiskRead/WriteLatency: 100 ms).
    await_warn_ms: f64 = 100.0,
    await_crit_ms: f64 = 500.0,
    /// Busy share of a rotational disk (%util).
    util_warn_pct: f64 = 60.0,
    util_crit_pct: f64 = 90.0,
});

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub port_exhaustion: PortExhaustion,
    pub listen_overflow: ListenOverflow,
    pub syn_flood: SynFlood,
    pub tcp_retransmits: TcpRetransmits,
    pub tcp_memory: TcpMemory,
    pub udp_errors: UdpErrors,
    pub conntrack: Conntrack,
    pub nic_drops: NicDrops,
    pub softirq_imbalance: SoftirqImbalance,
    pub softnet_drops: SoftnetDrops,
    pub cpu_saturation: CpuSaturation,
    pub cpu_throttling: CpuThrottling,
    pub memory_pressure: MemoryPressure,
    pub memory_fragmentation: MemoryFragmentation,
    pub fd_exhaustion: FdExhaustion,
    pub socket_leak: SocketLeak,
    pub io_wait: IoWait,
}

/// Collects the problems of a config, each naming `section.key` and the value.
struct Check {
    problems: Vec<String>,
}

/// A value's allowed range.
#[derive(Clone, Copy)]
enum Kind {
    /// 0..=100.
    Pct,
    /// >= 0.
    NonNegative,
}

impl Check {
    fn value(&mut self, section: &str, key: &str, v: f64, kind: Kind) -> bool {
        let ok = v.is_finite()
            && v >= 0.0
            && match kind {
                Kind::Pct => v <= 100.0,
                Kind::NonNegative => true,
            };
        if !ok {
            let range = match kind {
                Kind::Pct => "a percentage from 0 to 100",
                Kind::NonNegative => "a finite number >= 0",
            };
            self.problems
                .push(format!("{section}.{key} is {v}; it must be {range}"));
        }
        ok
    }

    /// A warn/crit pair where higher is worse: warn must be below crit.
    fn pair(&mut self, section: &str, warn: (&str, f64), crit: (&str, f64), kind: Kind) {
        let a = self.value(section, warn.0, warn.1, kind);
        let b = self.value(section, crit.0, crit.1, kind);
        if a && b && warn.1 >= crit.1 {
            self.problems.push(format!(
                "{section}.{} ({}) must be below {section}.{} ({})",
                warn.0, warn.1, crit.0, crit.1
            ));
        }
    }

    /// A pair where lower is worse (MemAvailable, free high-order blocks): warn above crit.
    fn pair_lower(&mut self, section: &str, warn: (&str, f64), crit: (&str, f64)) {
        let a = self.value(section, warn.0, warn.1, Kind::Pct);
        let b = self.value(section, crit.0, crit.1, Kind::Pct);
        if a && b && warn.1 <= crit.1 {
            self.problems.push(format!(
                "{section}.{} ({}) must be above {section}.{} ({}): lower values are worse",
                warn.0, warn.1, crit.0, crit.1
            ));
        }
    }
}

impl Config {
    /// Every problem with the values, in words naming the key; empty when all are usable.
    pub fn problems(&self) -> Vec<String> {
        use Kind::{NonNegative as N, Pct as P};
        let mut c = Check {
            problems: Vec::new(),
        };
        let s = &self.port_exhaustion;
        c.pair(
            "port-exhaustion",
            ("warn-pct", s.warn_pct),
            ("crit-pct", s.crit_pct),
            P,
        );
        c.value(
            "port-exhaustion",
            "open-rate-warn-pct",
            s.open_rate_warn_pct,
            P,
        );
        let s = &self.listen_overflow;
        c.pair(
            "listen-overflow",
            ("warn-per-sec", s.warn_per_sec),
            ("crit-per-sec", s.crit_per_sec),
            N,
        );
        c.pair(
            "listen-overflow",
            ("queue-warn-pct", s.queue_warn_pct),
            ("queue-crit-pct", s.queue_crit_pct),
            P,
        );
        let s = &self.syn_flood;
        c.pair(
            "syn-flood",
            ("warn-per-sec", s.warn_per_sec),
            ("crit-per-sec", s.crit_per_sec),
            N,
        );
        let s = &self.tcp_retransmits;
        c.pair(
            "tcp-retransmits",
            ("warn-pct", s.warn_pct),
            ("crit-pct", s.crit_pct),
            P,
        );
        c.value("tcp-retransmits", "min-out-segs", s.min_out_segs, N);
        c.value(
            "tcp-retransmits",
            "timeouts-warn-per-sec",
            s.timeouts_warn_per_sec,
            N,
        );
        c.value(
            "tcp-retransmits",
            "syn-retrans-warn-per-sec",
            s.syn_retrans_warn_per_sec,
            N,
        );
        let s = &self.tcp_memory;
        c.value("tcp-memory", "max-crit-pct", s.max_crit_pct, P);
        c.pair(
            "tcp-memory",
            ("orphans-warn-pct", s.orphans_warn_pct),
            ("orphans-crit-pct", s.orphans_crit_pct),
            P,
        );
        c.value("tcp-memory", "drops-warn-per-sec", s.drops_warn_per_sec, N);
        let s = &self.udp_errors;
        c.pair(
            "udp-errors",
            ("buffer-errors-warn-per-sec", s.buffer_errors_warn_per_sec),
            ("buffer-errors-crit-per-sec", s.buffer_errors_crit_per_sec),
            N,
        );
        c.value(
            "udp-errors",
            "in-errors-warn-per-sec",
            s.in_errors_warn_per_sec,
            N,
        );
        let s = &self.conntrack;
        c.pair(
            "conntrack",
            ("warn-pct", s.warn_pct),
            ("crit-pct", s.crit_pct),
            P,
        );
        let s = &self.nic_drops;
        c.pair(
            "nic-drops",
            ("drop-warn-pct", s.drop_warn_pct),
            ("drop-crit-pct", s.drop_crit_pct),
            P,
        );
        c.value("nic-drops", "min-rx-packets", s.min_rx_packets, N);
        let s = &self.softirq_imbalance;
        c.pair(
            "softirq-imbalance",
            ("busy-cpu-warn-pct", s.busy_cpu_warn_pct),
            ("busy-cpu-crit-pct", s.busy_cpu_crit_pct),
            P,
        );
        c.value(
            "softirq-imbalance",
            "concentration-warn",
            s.concentration_warn,
            N,
        );
        c.value(
            "softirq-imbalance",
            "min-packets-per-sec",
            s.min_packets_per_sec,
            N,
        );
        let s = &self.softnet_drops;
        c.pair(
            "softnet-drops",
            ("warn-per-sec", s.warn_per_sec),
            ("crit-per-sec", s.crit_per_sec),
            N,
        );
        let s = &self.cpu_saturation;
        c.pair(
            "cpu-saturation",
            ("busy-warn-pct", s.busy_warn_pct),
            ("busy-crit-pct", s.busy_crit_pct),
            P,
        );
        c.pair(
            "cpu-saturation",
            ("run-queue-warn", s.run_queue_warn),
            ("run-queue-crit", s.run_queue_crit),
            N,
        );
        c.pair(
            "cpu-saturation",
            ("psi-some-warn-pct", s.psi_some_warn_pct),
            ("psi-some-crit-pct", s.psi_some_crit_pct),
            P,
        );
        c.pair(
            "cpu-saturation",
            ("steal-warn-pct", s.steal_warn_pct),
            ("steal-crit-pct", s.steal_crit_pct),
            P,
        );
        let s = &self.cpu_throttling;
        c.pair(
            "cpu-throttling",
            ("warn-pct", s.warn_pct),
            ("crit-pct", s.crit_pct),
            P,
        );
        let s = &self.memory_pressure;
        c.pair_lower(
            "memory-pressure",
            ("available-warn-pct", s.available_warn_pct),
            ("available-crit-pct", s.available_crit_pct),
        );
        c.pair(
            "memory-pressure",
            ("psi-some-warn-pct", s.psi_some_warn_pct),
            ("psi-some-crit-pct", s.psi_some_crit_pct),
            P,
        );
        c.pair(
            "memory-pressure",
            ("psi-full-warn-pct", s.psi_full_warn_pct),
            ("psi-full-crit-pct", s.psi_full_crit_pct),
            P,
        );
        c.pair(
            "memory-pressure",
            ("swap-in-warn-per-sec", s.swap_in_warn_per_sec),
            ("swap-in-crit-per-sec", s.swap_in_crit_per_sec),
            N,
        );
        c.pair(
            "memory-pressure",
            ("direct-reclaim-warn-per-sec", s.direct_reclaim_warn_per_sec),
            ("direct-reclaim-crit-per-sec", s.direct_reclaim_crit_per_sec),
            N,
        );
        c.pair(
            "memory-pressure",
            ("major-faults-warn-per-sec", s.major_faults_warn_per_sec),
            ("major-faults-crit-per-sec", s.major_faults_crit_per_sec),
            N,
        );
        let s = &self.memory_fragmentation;
        if s.order > 15 {
            c.problems.push(format!(
                "memory-fragmentation.order is {}; the kernel's buddy allocator has orders 0 to 15 at most",
                s.order
            ));
        }
        c.value(
            "memory-fragmentation",
            "memfree-min-pct",
            s.memfree_min_pct,
            P,
        );
        c.pair_lower(
            "memory-fragmentation",
            ("high-order-warn-pct", s.high_order_warn_pct),
            ("high-order-crit-pct", s.high_order_crit_pct),
        );
        c.value(
            "memory-fragmentation",
            "compact-stall-warn-per-sec",
            s.compact_stall_warn_per_sec,
            N,
        );
        c.value(
            "memory-fragmentation",
            "vmdata-growth-warn-bytes-per-sec",
            s.vmdata_growth_warn_bytes_per_sec,
            N,
        );
        let s = &self.fd_exhaustion;
        c.pair(
            "fd-exhaustion",
            ("warn-pct", s.warn_pct),
            ("crit-pct", s.crit_pct),
            P,
        );
        let s = &self.socket_leak;
        c.pair(
            "socket-leak",
            ("close-wait-warn", s.close_wait_warn),
            ("close-wait-crit", s.close_wait_crit),
            N,
        );
        let s = &self.io_wait;
        c.pair(
            "io-wait",
            ("psi-some-warn-pct", s.psi_some_warn_pct),
            ("psi-some-crit-pct", s.psi_some_crit_pct),
            P,
        );
        c.pair(
            "io-wait",
            ("await-warn-ms", s.await_warn_ms),
            ("await-crit-ms", s.await_crit_ms),
            N,
        );
        c.pair(
            "io-wait",
            ("util-warn-pct", s.util_warn_pct),
            ("util-crit-pct", s.util_crit_pct),
            P,
        );
        c.problems
    }
}

/// The largest config file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Loads a config file; errors are usage errors (exit 2) naming the file and the key.
pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    use std::io::Read;
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| UsageError::new(format!("config {}: {e}", path.display())))?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(UsageError::new(format!(
            "config {}: larger than {} KiB",
            path.display(),
            MAX_CONFIG_BYTES >> 10
        )));
    }
    parse(&text).map_err(|e| UsageError::new(format!("config {}: {e}", path.display())))
}

/// Parses and validates config text.
pub fn parse(text: &str) -> Result<Config, String> {
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    let cfg = yaml_serde::from_str::<Config>(text).map_err(|e| match e.location() {
        Some(l) if !e.to_string().contains("line") => {
            format!("line {} column {}: {e}", l.line(), l.column())
        }
        _ => e.to_string(),
    })?;
    let problems = cfg.problems();
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_and_unknown_keys() {
        let c = parse("port-exhaustion:\n  warn-pct: 50\n").unwrap();
        assert_eq!(c.port_exhaustion.warn_pct, 50.0);
        assert_eq!(c.port_exhaustion.crit_pct, 80.0);
        let e = parse("port-exhaustion:\n  warn-pc: 50\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("warn-pc"), "{e}");
        assert!(parse("nope: 1\n").is_err());
        assert_eq!(parse("").unwrap(), Config::default());
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(Config::default().problems(), Vec::<String>::new());
    }

    #[test]
    fn bad_values_are_named() {
        let e = parse("port-exhaustion:\n  warn-pct: .nan\n").unwrap_err();
        assert!(e.contains("port-exhaustion.warn-pct is NaN"), "{e}");
        let e = parse("syn-flood:\n  warn-per-sec: -1\n").unwrap_err();
        assert!(e.contains("syn-flood.warn-per-sec is -1"), "{e}");
        let e = parse("fd-exhaustion:\n  warn-pct: 95\n").unwrap_err();
        assert!(
            e.contains("fd-exhaustion.warn-pct (95) must be below fd-exhaustion.crit-pct (90)"),
            "{e}"
        );
        let e = parse("memory-pressure:\n  available-warn-pct: 2\n").unwrap_err();
        assert!(e.contains("must be above"), "{e}");
        let e = parse("conntrack:\n  crit-pct: 150\n").unwrap_err();
        assert!(e.contains("percentage from 0 to 100"), "{e}");
        let e = parse("io-wait:\n  await-warn-ms: .inf\n").unwrap_err();
        assert!(e.contains("io-wait.await-warn-ms is inf"), "{e}");
    }
}
