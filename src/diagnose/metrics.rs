//! Every value a check reports: its metric stem (exported as `hostperf_<stem>`), the words the
//! table shows for it, and the Prometheus HELP text (with the unit).

/// (stem, table words, HELP).
pub const METRICS: &[(&str, &str, &str)] = &[
    (
        "ephemeral_ports",
        "usable ephemeral ports",
        "Ports in net.ipv4.ip_local_port_range minus reserved ones.",
    ),
    (
        "time_wait_sockets",
        "TIME_WAIT sockets",
        "TCP timewait sockets (/proc/net/sockstat tw): TIME_WAIT and the FIN-WAIT-2 timewait sockets of orphaned connections.",
    ),
    (
        "ephemeral_port_use_ratio",
        "ports held towards one destination",
        "Share of the usable ephemeral range held towards one destination for new connections (TIME_WAIT ports connect() may reuse excluded), by destination.",
    ),
    (
        "ephemeral_ports_bound_ratio",
        "share of the range bound (bind before connect)",
        "Share of the usable ephemeral range bound by any socket: what code that binds before connecting can still use.",
    ),
    (
        "connect_rate_share_of_capacity_ratio",
        "connection-open rate against range/60",
        "Outgoing connections opened per second, as a share of range/60 (what TIME_WAIT lets one destination sustain).",
    ),
    (
        "listen_overflows_per_second",
        "accept-queue overflows",
        "TcpExt ListenOverflows per second: connections dropped because a listener's accept queue was full.",
    ),
    (
        "accept_queue_fill_ratio",
        "accept queue fill",
        "Accept queue length over the listen backlog, by listener address and port.",
    ),
    (
        "accept_queue_length",
        "accept queue length",
        "Connections waiting in a listener's accept queue (ss Recv-Q), by listener.",
    ),
    (
        "accept_queue_backlog",
        "listen backlog",
        "A listener's backlog, the accept queue's size (ss Send-Q), by listener.",
    ),
    (
        "syn_drops_other_per_second",
        "SYNs dropped before the accept queue, other reasons",
        "Listen drops per second that are neither accept-queue overflows nor a full SYN queue: the tcp_max_syn_backlog early drop, no route for the SYN-ACK, memory.",
    ),
    (
        "syn_queue_drops_per_second",
        "connection attempts dropped",
        "SYNs dropped per second because a SYN queue was full (TCPReqQFullDrop, or listen drops that are not accept-queue overflows).",
    ),
    (
        "syn_queue_full_cookies_per_second",
        "SYN cookies sent for a full queue",
        "TcpExt TCPReqQFullDoCookies per second.",
    ),
    (
        "tcp_retransmit_ratio",
        "segments retransmitted",
        "Share of the TCP segments sent in the interval that were retransmissions: RetransSegs over OutSegs + RetransSegs (OutSegs excludes retransmissions).",
    ),
    (
        "tcp_timeouts_per_second",
        "retransmission timeouts",
        "TcpExt TCPTimeouts per second.",
    ),
    (
        "tcp_syn_retransmits_per_second",
        "SYN retransmits",
        "TcpExt TCPSynRetrans per second.",
    ),
    (
        "tcp_memory_ratio",
        "TCP memory against tcp_mem max",
        "TCP socket memory (sockstat mem) over net.ipv4.tcp_mem max.",
    ),
    (
        "tcp_orphans_ratio",
        "orphaned sockets against tcp_max_orphans",
        "Orphaned TCP sockets over net.ipv4.tcp_max_orphans.",
    ),
    (
        "tcp_receive_pruned_per_second",
        "received data pruned",
        "TcpExt RcvPruned per second: packets dropped from receive queues for lack of memory.",
    ),
    (
        "tcp_receive_queue_drops_per_second",
        "receive-queue drops",
        "TcpExt TCPRcvQDrop per second.",
    ),
    (
        "udp_receive_buffer_errors_per_second",
        "UDP receive buffer errors",
        "Udp and Udp6 RcvbufErrors per second.",
    ),
    (
        "udp_send_buffer_errors_per_second",
        "UDP send buffer errors",
        "Udp and Udp6 SndbufErrors per second.",
    ),
    (
        "udp_in_errors_per_second",
        "UDP input errors",
        "Udp and Udp6 InErrors per second.",
    ),
    (
        "conntrack_table_use_ratio",
        "connection-tracking table use",
        "nf_conntrack_count over nf_conntrack_max.",
    ),
    (
        "nic_rx_drop_ratio",
        "received packets dropped",
        "Receive drops (rx_dropped, rx_missed, rx_fifo, rx_over) over packets received in the interval, by device.",
    ),
    (
        "nic_driver_drops_per_second",
        "driver drop counter",
        "A NIC driver's drop counter (ethtool -S) per second, by device and counter.",
    ),
    (
        "softirq_busiest_cpu_ratio",
        "softirq share of the busiest CPU",
        "Share of the busiest CPU's time spent in softirq, by cpu.",
    ),
    (
        "rx_packets_busiest_cpu_share_ratio",
        "received packets on the busiest CPU",
        "Share of received packets (softnet_stat processed) handled by the busiest CPU, by cpu.",
    ),
    (
        "rx_packets_per_second",
        "received packets",
        "Packets processed by the kernel's receive path per second, all CPUs.",
    ),
    (
        "softnet_dropped_per_second",
        "backlog drops",
        "softnet_stat dropped per second, all CPUs (backlog longer than netdev_max_backlog).",
    ),
    (
        "softnet_time_squeeze_per_second",
        "budget squeezes",
        "softnet_stat time_squeeze per second, all CPUs (netdev_budget ran out).",
    ),
    (
        "cpu_busy_ratio",
        "CPU busy",
        "Share of all CPUs' time not idle, in I/O wait or stolen.",
    ),
    (
        "cpu_steal_ratio",
        "CPU stolen by the hypervisor",
        "Share of all CPUs' time stolen by the hypervisor.",
    ),
    (
        "run_queue_per_cpu",
        "runnable tasks per CPU",
        "Runnable tasks (procs_running, hostperf excluded) per online CPU.",
    ),
    (
        "psi_cpu_some_ratio",
        "time some task waited for a CPU",
        "PSI cpu some: share of time at least one runnable task waited for a CPU.",
    ),
    (
        "cgroup_throttled_periods_ratio",
        "CFS periods throttled",
        "Share of CFS periods in which the cgroup used its whole CPU quota, by cgroup.",
    ),
    (
        "cgroup_throttled_seconds_per_second",
        "seconds throttled per second",
        "Seconds the cgroup's tasks waited for the next CFS period, per second, by cgroup.",
    ),
    (
        "memory_available_ratio",
        "MemAvailable",
        "MemAvailable over MemTotal.",
    ),
    ("swap_used_ratio", "swap used", "Share of swap in use."),
    (
        "swap_in_pages_per_second",
        "pages swapped in",
        "vmstat pswpin per second.",
    ),
    (
        "direct_reclaim_per_second",
        "direct reclaim",
        "vmstat allocstall per second: allocations that had to reclaim memory themselves.",
    ),
    (
        "major_faults_per_second",
        "major page faults",
        "vmstat pgmajfault per second.",
    ),
    (
        "psi_memory_some_ratio",
        "time some task waited for memory",
        "PSI memory some: share of time at least one task stalled on memory.",
    ),
    (
        "psi_memory_full_ratio",
        "time all tasks waited for memory",
        "PSI memory full: share of time all non-idle tasks stalled on memory.",
    ),
    (
        "high_order_free_ratio",
        "free memory in high-order blocks",
        "Free pages in blocks of the configured order or above, over free pages (/proc/buddyinfo).",
    ),
    (
        "compaction_stalls_per_second",
        "compaction stalls",
        "vmstat compact_stall per second.",
    ),
    (
        "process_vmdata_growth_bytes_per_second",
        "VmData growth",
        "Growth of a process's VmData in bytes per second, by pid and name.",
    ),
    (
        "process_rss_growth_bytes_per_second",
        "RSS growth",
        "Growth of a process's VmRSS in bytes per second, by pid and name.",
    ),
    (
        "oom_kills_since_boot",
        "OOM kills since boot",
        "vmstat oom_kill: processes the OOM killer terminated since boot.",
    ),
    (
        "oom_kills_in_window",
        "OOM kills in the window",
        "Processes the OOM killer terminated in the diagnosed window.",
    ),
    (
        "system_file_handles_ratio",
        "file handles against fs.file-max",
        "Allocated file handles over fs.file-max (/proc/sys/fs/file-nr).",
    ),
    (
        "process_fd_use_ratio",
        "open fds against the limit",
        "A process's open fds over its soft RLIMIT_NOFILE, by pid and name.",
    ),
    (
        "process_open_fds",
        "open fds",
        "A process's open file descriptors, by pid and name.",
    ),
    (
        "process_fd_limit",
        "fd limit",
        "A process's soft RLIMIT_NOFILE, by pid and name.",
    ),
    (
        "close_wait_sockets_held",
        "CLOSE_WAIT sockets held through the interval",
        "CLOSE_WAIT sockets present in both samples, by owning uid.",
    ),
    (
        "close_wait_sockets",
        "CLOSE_WAIT sockets",
        "TCP sockets in CLOSE_WAIT, by owning uid.",
    ),
    (
        "process_close_wait_sockets",
        "CLOSE_WAIT sockets of a process",
        "CLOSE_WAIT sockets a process holds that were in CLOSE_WAIT in both samples (all of them with --interval 0), by pid and name.",
    ),
    (
        "psi_io_some_ratio",
        "time some task waited for I/O",
        "PSI io some: share of time at least one task stalled on I/O.",
    ),
    (
        "disk_await_seconds",
        "time per I/O",
        "Average time a completed read or write took in the interval, in seconds, by whole disk.",
    ),
    (
        "disk_utilisation_ratio",
        "disk busy",
        "Share of the interval a whole disk had I/O in flight (%util), by device.",
    ),
    (
        "clocksource_slow",
        "slow clocksource",
        "1 when the current clocksource traps on every read (hpet, acpi_pm, jiffies, xen), by clocksource.",
    ),
    (
        "clock_unsynchronised",
        "clock not synchronised",
        "1 when adjtimex reports the clock unsynchronised (STA_UNSYNC).",
    ),
];

/// The HELP text of a metric stem.
pub fn help(stem: &str) -> String {
    METRICS
        .iter()
        .find(|(s, _, _)| *s == stem)
        .map(|(_, _, h)| h.to_string())
        .unwrap_or_else(|| format!("{stem}, measured by hostperf diagnose."))
}

/// The words the table shows for a metric stem.
pub fn describe(stem: &str) -> &str {
    METRICS
        .iter()
        .find(|(s, _, _)| *s == stem)
        .map_or(stem, |(_, d, _)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for (stem, words, help) in METRICS {
            assert!(seen.insert(stem), "{stem} twice");
            assert!(
                stem.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{stem}"
            );
            assert!(!words.is_empty() && help.ends_with('.'), "{stem}");
        }
    }
}
