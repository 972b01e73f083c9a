//! Thresholds, with documented defaults, overridable from a YAML file (`--config PATH`).
//! Unknown keys are errors that carry line and column. Percentages are written as percent
//! (60 = 60 %); the model compares ratios.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::exit::UsageError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub port_exhaustion: PortExhaustion,
    pub listen_overflow: ListenOverflow,
    pub syn_flood: RatePair,
    pub softirq_imbalance: SoftirqImbalance,
    pub softnet_drops: SoftnetDrops,
    pub memory_pressure: MemoryPressure,
    pub memory_fragmentation: MemoryFragmentation,
    pub fd_exhaustion: PctPair,
    pub socket_leak: SocketLeak,
    pub tcp_retransmits: TcpRetransmits,
    pub io_wait: IoWait,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port_exhaustion: PortExhaustion::default(),
            listen_overflow: ListenOverflow::default(),
            syn_flood: RatePair::default(),
            softirq_imbalance: SoftirqImbalance::default(),
            softnet_drops: SoftnetDrops::default(),
            memory_pressure: MemoryPressure::default(),
            memory_fragmentation: MemoryFragmentation::default(),
            fd_exhaustion: PctPair {
                warn_pct: 70.0,
                crit_pct: 90.0,
            },
            socket_leak: SocketLeak::default(),
            tcp_retransmits: TcpRetransmits::default(),
            io_wait: IoWait::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PctPair {
    pub warn_pct: f64,
    pub crit_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PortExhaustion {
    /// Share of the ephemeral range used towards one destination.
    pub warn_pct: f64,
    pub crit_pct: f64,
    /// Connection-open rate as a share of range/60 (what TIME_WAIT lets one destination sustain).
    pub open_rate_warn_pct: f64,
}

impl Default for PortExhaustion {
    fn default() -> Self {
        PortExhaustion {
            warn_pct: 60.0,
            crit_pct: 80.0,
            open_rate_warn_pct: 60.0,
        }
    }
}

impl Default for PctPair {
    fn default() -> Self {
        PctPair {
            warn_pct: 70.0,
            crit_pct: 90.0,
        }
    }
}

/// ListenOverflows/ListenDrops per second (netdata: warn > 1/s, crit > 5/s) and the fill of
/// each listener's accept queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ListenOverflow {
    pub warn_per_sec: f64,
    pub crit_per_sec: f64,
    pub queue_warn_pct: f64,
    pub queue_crit_pct: f64,
}

impl Default for ListenOverflow {
    fn default() -> Self {
        ListenOverflow {
            warn_per_sec: 1.0,
            crit_per_sec: 5.0,
            queue_warn_pct: 80.0,
            queue_crit_pct: 100.0,
        }
    }
}

/// Events per second (netdata: warn > 1/s, crit > 5/s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct RatePair {
    pub warn_per_sec: f64,
    pub crit_per_sec: f64,
}

impl Default for RatePair {
    fn default() -> Self {
        RatePair {
            warn_per_sec: 1.0,
            crit_per_sec: 5.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SoftirqImbalance {
    /// Softirq share of the busiest CPU.
    pub busy_cpu_warn_pct: f64,
    pub busy_cpu_crit_pct: f64,
    /// max/mean of per-CPU NET_RX deltas.
    pub skew_warn: f64,
    /// Ignore skew below this many NET_RX softirqs per second in total.
    pub min_net_rx_per_sec: f64,
}

impl Default for SoftirqImbalance {
    fn default() -> Self {
        SoftirqImbalance {
            busy_cpu_warn_pct: 30.0,
            busy_cpu_crit_pct: 60.0,
            skew_warn: 3.0,
            min_net_rx_per_sec: 100.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SoftnetDrops {
    /// Dropped or squeezed per minute, all CPUs (netdata: warn > 10/min).
    pub warn_per_min: f64,
    pub crit_per_min: f64,
}

impl Default for SoftnetDrops {
    fn default() -> Self {
        SoftnetDrops {
            warn_per_min: 10.0,
            crit_per_min: 600.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct MemoryPressure {
    pub available_warn_pct: f64,
    pub available_crit_pct: f64,
    pub swap_warn_pct: f64,
    pub swap_crit_pct: f64,
    pub major_faults_warn_per_sec: f64,
    pub major_faults_crit_per_sec: f64,
    /// PSI memory "full" share over the interval (or avg10 with one sample).
    pub psi_full_warn_pct: f64,
    pub psi_full_crit_pct: f64,
}

impl Default for MemoryPressure {
    fn default() -> Self {
        MemoryPressure {
            available_warn_pct: 10.0,
            available_crit_pct: 5.0,
            swap_warn_pct: 90.0,
            swap_crit_pct: 98.0,
            major_faults_warn_per_sec: 500.0,
            major_faults_crit_per_sec: 2000.0,
            psi_full_warn_pct: 10.0,
            psi_full_crit_pct: 60.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct MemoryFragmentation {
    /// Blocks of at least this order count as "high order".
    pub order: usize,
    /// Fragmented: MemFree above this share of MemTotal ...
    pub memfree_min_pct: f64,
    /// ... while free pages in high-order blocks are below this share of free pages.
    pub high_order_warn_pct: f64,
    pub high_order_crit_pct: f64,
    /// Compaction stalls per second.
    pub compact_stall_warn_per_sec: f64,
    /// Growth of a focused process's VmData over the interval, per second.
    pub vmdata_growth_warn_bytes_per_sec: f64,
}

impl Default for MemoryFragmentation {
    fn default() -> Self {
        MemoryFragmentation {
            order: 4,
            memfree_min_pct: 20.0,
            high_order_warn_pct: 5.0,
            high_order_crit_pct: 1.0,
            compact_stall_warn_per_sec: 1.0,
            vmdata_growth_warn_bytes_per_sec: 1048576.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SocketLeak {
    /// CLOSE_WAIT sockets held by one process.
    pub close_wait_warn: f64,
    pub close_wait_crit: f64,
    /// Growth of one process's socket count per second.
    pub growth_warn_per_sec: f64,
}

impl Default for SocketLeak {
    fn default() -> Self {
        SocketLeak {
            close_wait_warn: 10.0,
            close_wait_crit: 100.0,
            growth_warn_per_sec: 10.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct TcpRetransmits {
    /// RetransSegs / OutSegs over the interval.
    pub warn_pct: f64,
    pub crit_pct: f64,
    /// Below this many segments sent in the interval the ratio is not judged.
    pub min_out_segs: f64,
    pub timeouts_warn_per_sec: f64,
    pub syn_retrans_warn_per_sec: f64,
}

impl Default for TcpRetransmits {
    fn default() -> Self {
        TcpRetransmits {
            warn_pct: 2.0,
            crit_pct: 10.0,
            min_out_segs: 1000.0,
            timeouts_warn_per_sec: 10.0,
            syn_retrans_warn_per_sec: 1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct IoWait {
    /// PSI io "some" share.
    pub psi_some_warn_pct: f64,
    pub psi_some_crit_pct: f64,
    /// /proc/stat iowait share of CPU time (awesome-prometheus-alerts: 10 %).
    pub iowait_warn_pct: f64,
    /// Disk busy time share (%util).
    pub util_warn_pct: f64,
    pub util_crit_pct: f64,
    /// Average queue size (weighted ms / ms).
    pub queue_warn: f64,
}

impl Default for IoWait {
    fn default() -> Self {
        IoWait {
            psi_some_warn_pct: 10.0,
            psi_some_crit_pct: 40.0,
            iowait_warn_pct: 10.0,
            util_warn_pct: 60.0,
            util_crit_pct: 90.0,
            queue_warn: 1.0,
        }
    }
}

/// Loads a config file; errors are usage errors (exit 2) with line and column.
pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError::new(format!("config {}: {e}", path.display())))?;
    parse(&text).map_err(|e| UsageError::new(format!("config {}: {e}", path.display())))
}

pub fn parse(text: &str) -> Result<Config, String> {
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    yaml_serde::from_str::<Config>(text).map_err(|e| match e.location() {
        Some(l) if !e.to_string().contains("line") => {
            format!("line {} column {}: {e}", l.line(), l.column())
        }
        _ => e.to_string(),
    })
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
}
