#!/usr/bin/env python3
"""Regenerates docs/profiles.md from the built-in profiles (`hostperf profiles show NAME -o
json`), the sources below, TuneD's profiles and, when it exists, docs/bench-results.json.
Run after editing profiles/*.yaml; tests/cli.rs fails while the document is stale:

    python3 scripts/profiles-doc.py > docs/profiles.md

Arguments: [HOSTPERF_BINARY] [BENCH_RESULTS_JSON]. Measurements come from
docs/bench-results.json as bench/profile-evidence.sh writes it (`keys.PROFILE.KEY` with
`value`, `reach`, `note`, `measured` runs and `verdicts` per scenario/arm); without the
file every key says so, and nothing else changes.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "target/debug/hostperf")
BENCH = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "docs/bench-results.json")

TUNED = "redhat-performance/tuned @ 2bfa4423586bb516452c538a232c8f7075bafbdf"
KDOC = "Documentation/"

LAYERS = [
    ("api-base", "every API host (included by the two below)", "-"),
    ("latency-profile", "request/response APIs: the tail latency", "network-latency (includes latency-performance)"),
    ("throughput-profile", "bulk and streaming APIs: requests and bytes per second", "network-throughput (includes throughput-performance)"),
    ("busy-poll", "opt-in: spin on NIC queues instead of sleeping", "network-latency's busy_read/busy_poll"),
    ("edge", "opt-in: Internet-facing hosts", "-"),
    ("nat-node", "opt-in: NAT gateways, Kubernetes nodes", "-"),
    ("datacenter", "opt-in: every peer in one datacenter", "-"),
    ("low-jitter", "opt-in: dedicated bare-metal hosts", "network-latency's nmi_watchdog, cpu-partitioning"),
]

# Where each setting's rule comes from. Kernel paths are below Documentation/ of
# torvalds/linux; the name after the path is the entry.
SOURCES = {
    "fs.file-max": "admin-guide/sysctl/fs.rst (file-max); fs/file_table.c files_maxfiles_init (about 10% of RAM at 1 KiB per file); systemd bumps it (src/core/main.c)",
    "fs.nr_open": "admin-guide/sysctl/fs.rst (nr_open: default 1024*1024)",
    "net.core.somaxconn": "networking/ip-sysctl.rst (somaxconn: 4096 since 5.4, 128 before); nginx `listen ... backlog=` (511 by default)",
    "net.ipv4.tcp_syncookies": "networking/ip-sysctl.rst (tcp_syncookies, default 1; a fallback, not for legitimate load)",
    "net.ipv4.ip_local_port_range": "networking/ip-sysctl.rst (ip_local_port_range: 32768-60999 by default, ends of different parity, >= ip_unprivileged_port_start)",
    "net.ipv4.ip_local_reserved_ports": "networking/ip-sysctl.rst (ip_local_reserved_ports: skipped by automatic port assignment only)",
    "net.ipv4.tcp_tw_reuse": "networking/ip-sysctl.rst (tcp_tw_reuse: 0, 1 global, 2 loopback only = default); net/ipv4/tcp_ipv4.c tcp_twsk_unique (timestamps)",
    "net.ipv4.tcp_fin_timeout": "networking/ip-sysctl.rst (tcp_fin_timeout: FIN-WAIT-2 of orphans, default 60 s); include/net/tcp.h TCP_TIMEWAIT_LEN (60 s, fixed)",
    "net.ipv4.tcp_slow_start_after_idle": "networking/ip-sysctl.rst (tcp_slow_start_after_idle: RFC 2861, default 1)",
    "ulimit nofile": "systemd.exec(5) LimitNOFILE= (soft 1024 for select(), hard 524288 since systemd 240); select(2) FD_SETSIZE; setrlimit(2) (hard <= fs.nr_open)",
    "network congestion_control": "networking/ip-sysctl.rst (tcp_congestion_control); net/ipv4/tcp_bbr.c (BBR since 4.9, internal pacing since 4.13)",
    "network default_qdisc": "admin-guide/sysctl/net.rst (default_qdisc: new qdiscs only; mq children take it)",
    "network default-route root_qdisc": "net/ipv4/tcp_bbr.c header comment (4.9-4.12: BBR needs fq for pacing); the 4.13 commit 'tcp: internal implementation for pacing'",
    "net.ipv4.tcp_notsent_lowat": "networking/ip-sysctl.rst (tcp_notsent_lowat: default UINT_MAX)",
    "vm.swappiness": "admin-guide/sysctl/vm.rst (swappiness: default 60; 0 waits for the high watermark)",
    "vm.dirty_background_bytes": "admin-guide/sysctl/vm.rst (dirty_background_bytes, counterpart of dirty_background_ratio)",
    "vm.dirty_bytes": "admin-guide/sysctl/vm.rst (dirty_bytes: minimum two pages; counterpart of dirty_ratio)",
    "vm.watermark_scale_factor": "admin-guide/sysctl/vm.rst (watermark_scale_factor: default 10 = 0.1%; allocstall, kswapd_low_wmark_hit_quickly)",
    "vm.stat_interval": "admin-guide/sysctl/vm.rst (stat_interval: default 1 s)",
    "kernel.timer_migration": "admin-guide/sysctl/kernel.rst (timer_migration); kernel/time/timer_migration.c",
    "kernel.numa_balancing": "admin-guide/sysctl/kernel.rst (numa_balancing: off when the workload is bound to nodes)",
    "transparent_hugepage/enabled": "admin-guide/mm/transhuge.rst (enabled: always, madvise, never)",
    "transparent_hugepage/defrag": "admin-guide/mm/transhuge.rst (defrag: defer wakes kswapd/kcompactd, never stalls)",
    "cpu energy_performance_preference": "admin-guide/pm/intel_pstate.rst and amd-pstate.rst (energy_performance_preference; only performance under the performance governor)",
    "cpu scaling_governor": "admin-guide/pm/cpufreq.rst (scaling_governor, performance)",
    "cpu max_idle_latency_us": "admin-guide/pm/cpuidle.rst (Power Management Quality of Service for CPUs: pm_qos_resume_latency_us, 0 = no constraint, n/a = none allowed; Representation of Idle States: stateN/disable); drivers/idle/intel_idle.c (C1 1-2 us, C1E 4-10 us, C6 128-170 us on Xeons)",
    "network rps_sock_flow_entries": "networking/scaling.rst (RFS, Suggested Configuration: 32768)",
    "network default-route channels combined": "networking/scaling.rst (RSS); ethtool -L",
    "network default-route coalesce adaptive-rx": "ethtool -C adaptive-rx; networking/napi.rst (IRQ coalescing is done by the device)",
    "network default-route coalesce rx-usecs": "ethtool -C rx-usecs; drivers/net/virtio_net.c (VIRTIO_NET_F_NOTF_COAL)",
    "network default-route rps_cpus": "networking/scaling.rst (RPS, Suggested Configuration: only with fewer queues than CPUs)",
    "network default-route rps_flow_cnt": "networking/scaling.rst (RFS: rps_sock_flow_entries / N queues)",
    "network default-route xps_cpus": "networking/scaling.rst (XPS, Suggested Configuration)",
    "network default-route irq_affinity": "networking/scaling.rst (RSS IRQ Configuration); core-api/irq/irq-affinity.rst",
    "net.core.rmem_max": "admin-guide/sysctl/net.rst (rmem_max); networking/ip-sysctl.rst (tcp_rmem: SO_RCVBUF disables autotuning)",
    "net.core.wmem_max": "admin-guide/sysctl/net.rst (wmem_max); networking/ip-sysctl.rst (tcp_wmem: SO_SNDBUF disables autotuning)",
    "net.ipv4.tcp_rmem": "networking/ip-sysctl.rst (tcp_rmem: default 131072 since 4.20, max 6 MiB by RAM)",
    "net.ipv4.tcp_wmem": "networking/ip-sysctl.rst (tcp_wmem: default 16K, max 4 MiB by RAM)",
    "net.core.netdev_max_backlog": "admin-guide/sysctl/net.rst (netdev_max_backlog); networking/scaling.rst (RPS enqueues packets to the remote CPU's backlog)",
    "net.core.netdev_budget": "admin-guide/sysctl/net.rst (netdev_budget, netdev_budget_usecs)",
    "network default-route rings rx": "ethtool -G; networking/napi.rst",
    "network default-route rings tx": "ethtool -G",
    "network default-route coalesce adaptive-tx": "ethtool -C adaptive-tx",
    "net.core.busy_read": "admin-guide/sysctl/net.rst (busy_read: SO_BUSY_POLL preferred; 50 if global; more power)",
    "net.core.busy_poll": "admin-guide/sysctl/net.rst (busy_poll: 50 for several sockets, 100 for hundreds)",
    "net/default-route/napi_defer_hard_irqs": "networking/napi.rst (Software IRQ coalescing; IRQ mitigation); ABI/testing/sysfs-class-net",
    "net/default-route/gro_flush_timeout": "networking/napi.rst (Software IRQ coalescing: the repoll timer; SO_PREFER_BUSY_POLL revoked after it)",
    "net.ipv4.tcp_mtu_probing": "networking/ip-sysctl.rst (tcp_mtu_probing: 1 = after an ICMP black hole); RFC 4821",
    "net.netfilter.nf_conntrack_max": "networking/nf_conntrack-sysctl.rst (nf_conntrack_max)",
    "net.ipv4.neigh.default.gc_thresh1": "networking/ip-sysctl.rst (neigh/default/gc_thresh1: default 128)",
    "net.ipv4.neigh.default.gc_thresh2": "networking/ip-sysctl.rst (neigh/default/gc_thresh2: default 512)",
    "net.ipv4.neigh.default.gc_thresh3": "networking/ip-sysctl.rst (neigh/default/gc_thresh3: default 1024)",
    "net.ipv6.neigh.default.gc_thresh1": "networking/ip-sysctl.rst (as for IPv4)",
    "net.ipv6.neigh.default.gc_thresh2": "networking/ip-sysctl.rst (as for IPv4)",
    "net.ipv6.neigh.default.gc_thresh3": "networking/ip-sysctl.rst (as for IPv4)",
    "net.ipv4.tcp_rto_min_us": "networking/ip-sysctl.rst (tcp_rto_min_us: default 200000, recommended <= 200000; Linux 6.11+)",
    "kernel.nmi_watchdog": "admin-guide/sysctl/kernel.rst (nmi_watchdog: off by default in KVM guests)",
}

# TuneD's closest setting for each key, from its profiles/*/tuned.conf (TUNED above).
TUNED_VALUES = {
    "net.core.somaxconn": "throughput-performance: >2048",
    "net.ipv4.tcp_slow_start_after_idle": "network-throughput: 0",
    "net.ipv4.tcp_notsent_lowat": "network-throughput: 131072",
    "vm.swappiness": "latency-performance, throughput-performance: 10 (virtual-guest: 30)",
    "vm.dirty_background_bytes": "latency-performance: 3% (as dirty_background_ratio); throughput-performance: 10%",
    "vm.dirty_bytes": "latency-performance: 10% (as dirty_ratio); throughput-performance: 40%; virtual-guest: 30%",
    "vm.stat_interval": "network-latency: 10",
    "kernel.timer_migration": "network-latency: 0",
    "kernel.numa_balancing": "network-latency: 0 (every host)",
    "kernel.nmi_watchdog": "network-latency: 0",
    "transparent_hugepage/enabled": "network-latency: never",
    "cpu energy_performance_preference": "throughput-performance: performance (latency-performance: energy_perf_bias=performance)",
    "cpu scaling_governor": "latency-performance, throughput-performance: performance",
    "cpu max_idle_latency_us": "latency-performance: force_latency=cstate.id_no_zero:1|3 (C1 only, via /dev/cpu_dma_latency held open by the daemon)",
    "net.core.busy_read": "network-latency: 50 (every host)",
    "net.core.busy_poll": "network-latency: 50 (every host)",
    "net.ipv4.tcp_rmem": "network-throughput: 4096 131072 16777216",
    "net.ipv4.tcp_wmem": "network-throughput: 4096 16384 16777216",
}

# TuneD settings hostperf does not adopt, and why.
TUNED_NOT_ADOPTED = [
    ("network-latency", "net.ipv4.tcp_fastopen=3", "the server side also needs TCP_FASTOPEN on each listener (or flag 0x400), and data in a SYN can be replayed; a no-op for most services and a risk for non-idempotent requests"),
    ("network-latency", "kernel.hung_task_timeout_secs=600", "a diagnostic threshold, not performance; hostperf leaves the kernel's 120 s"),
    ("network-latency", "bootloader skew_tick=1 tsc=reliable ...", "kernel command line: needs a reboot, outside what hostperf applies at run time"),
    ("latency-performance", "min_perf_pct=100, boost=1", "intel_pstate's own floor and turbo: the performance governor and preference already ask for the top; boost is on by default"),
    ("throughput-performance", "disk readahead>4096", "block devices are not an API host's bottleneck here; not a knob kind of hostperf"),
    ("network-latency", "busy_read=50, busy_poll=50 on every host", "moved to the opt-in busy-poll: every empty poll of every socket spins up to 50 us and burns CPU (vCPU time in a VM)"),
    ("network-latency", "transparent_hugepages=never", "madvise instead: regions that ask for huge pages still get them; everything else behaves as with never"),
    ("network-latency", "kernel.numa_balancing=0 on every host", "only with more than one NUMA node (a condition): one node has nothing to balance"),
    ("network-latency", "kernel.nmi_watchdog=0", "moved to the opt-in low-jitter: it trades away hard-lockup detection for one NMI per CPU every few seconds"),
    ("latency-performance", "vm.dirty_bytes=10% / dirty_background_bytes=3%", "bytes instead of shares of memory: 10% is 25 GiB on a 256 GiB host"),
]

# Considered and left at the kernel's value, and why.
NOT_SET = [
    ("vm.min_free_kbytes", "the kernel sizes it from memory; vm.rst warns that too high a value OOMs the machine at once, and watermark_scale_factor is the documented knob for how early kswapd starts"),
    ("net.ipv4.tcp_max_tw_buckets", "a DoS guard; ip-sysctl.rst says not to lower it, and its default scales with memory"),
    ("net.ipv4.tcp_timestamps, tcp_sack, tcp_window_scaling", "on by default; tcp_tw_reuse relies on timestamps"),
    ("net.core.rmem_default / wmem_default", "TCP uses tcp_rmem/tcp_wmem's middle values instead"),
    ("kernel.sched_* (migration cost, wakeup granularity)", "moved to debugfs since 5.13 and changed by EEVDF in 6.6; not a stable interface"),
]

# Keys of the previous built-ins that were removed or moved, and why (sources above).
REMOVED = [
    ("net.ipv4.tcp_max_syn_backlog", "api-base >=4096", "removed", "with tcp_syncookies=1 the SYN queue is bounded by the listen() backlog and overflow sends cookies; the sysctl is consulted only with cookies off (net/ipv4/tcp_input.c, tcp_conn_request)"),
    ("net.core.busy_read / busy_poll", "latency-profile 50", "moved to busy-poll", "host-wide busy polling makes every empty read and poll spin up to 50 us; the kernel documentation prefers SO_BUSY_POLL per socket; the add-on also sets napi_defer_hard_irqs and gro_flush_timeout"),
    ("net.ipv4.tcp_fastopen", "latency-profile 3", "removed", "needs TCP_FASTOPEN on each listener to accept data in SYNs, and that data can be replayed"),
    ("net.ipv4.tcp_rmem", "latency-profile 4096 87380 6291456", "removed", "lowered the 131072 initial receive buffer (default since 4.20); receive buffers do not queue a server's replies"),
    ("net.ipv4.tcp_wmem", "latency-profile 4096 16384 4194304", "removed", "equal to the kernel default: a no-op"),
    ("net.ipv4.tcp_rmem", "throughput-profile 4096 87380 >=16777216", "4096 131072 >=16777216", "keeps the 131072 default start (TuneD network-throughput)"),
    ("net.ipv4.tcp_wmem", "throughput-profile 4096 65536 >=16777216", "4096 16384 >=16777216", "65536 was 4x the default on every socket; TuneD keeps 16384"),
    ("vm.dirty_ratio / dirty_background_ratio", "10/3 and 40/10 percent", "dirty_bytes / dirty_background_bytes", "percentages of available memory mean multi-gigabyte bursts on large hosts"),
    ("txqueuelen", "throughput-profile 10000", "removed", "no effect under fq or fq_codel (they have their own limits); under pfifo_fast it deepens the queue that causes buffer bloat"),
    ("DefaultLimitNOFILE", "1048576:1048576 for every service", "1024:1048576; soft raised per unit", "a soft limit above 1024 breaks select(); systemd advises raising it only for the services that need it"),
    ("net.core.default_qdisc", "latency and throughput", "api-base (optional)", "the same for both; it applies to qdiscs created later, so the plan says so"),
    ("net.core.netdev_max_backlog", "throughput-profile >=16384", "api-base >=16384 (optional)", "receive packet steering queues packets in this backlog on every profile that spreads; a drop there costs a retransmission"),
]


def show(name):
    out = subprocess.run([BIN, "profiles", "show", name, "-o", "json"], check=True,
                         capture_output=True, text=True,
                         env={"HOSTPERF_PROFILE_DIR": "/nonexistent", "PATH": os.environ.get("PATH", "")})
    return json.loads(out.stdout)


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def conditions(entry):
    when = entry.get("when")
    if not when:
        return ""
    parts = []
    for w in when if isinstance(when, list) else [when]:
        for k, v in w.items():
            parts.append(f"{k} {', '.join(v) if isinstance(v, list) else v}")
    return "; ".join(parts)


def rows(profile):
    """(display key, bench key, entry) for every setting the profile itself sets."""
    out = []
    me = profile["name"]
    for key, e in profile.get("sysctl", {}).items():
        out.append((key, key, e))
    for key, e in profile.get("sysfs", {}).items():
        out.append((key, key, e))
    cpu = profile.get("cpu", {})
    for name in ("energy_performance_preference", "governor", "max_idle_latency_us"):
        if name in cpu:
            shown = "scaling_governor" if name == "governor" else name
            out.append((f"cpu {shown}", f"cpu.{name}", cpu[name]))
    net = profile.get("network", {})
    for name in ("congestion_control", "default_qdisc", "rps_sock_flow_entries"):
        if name in net:
            bench = {"congestion_control": "net.ipv4.tcp_congestion_control",
                     "default_qdisc": "net.core.default_qdisc",
                     "rps_sock_flow_entries": "net.core.rps_sock_flow_entries"}[name]
            out.append((f"network {name}", bench, net[name]))
    for sel, iface in net.get("interfaces", {}).items():
        for name, v in iface.items():
            if "value" in v:
                out.append((f"network {sel} {name}", f"network.interfaces.{sel}.{name}", v))
            else:
                for param, e in v.items():
                    out.append((f"network {sel} {name} {param}",
                                f"network.interfaces.{sel}.{name}.{param}", e))
    for res, e in profile.get("ulimits", {}).items():
        out.append((f"ulimit {res}", f"ulimits.{res}", e))
    return [(k, b, e) for k, b, e in out if e.get("from", me) == me]


def value(e):
    if "value" in e:
        return e["value"]
    return f"soft {e['soft']}, hard {e['hard']}"


def load_bench():
    try:
        with open(BENCH) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def measured(bench, profile_names, key, current):
    """What docs/bench-results.json says of one key, in one line."""
    if bench is None:
        return "no measurement yet (docs/bench-results.json absent)"
    found = None
    for name in profile_names:
        found = bench.get("keys", {}).get(name, {}).get(key)
        if found:
            break
    if not found:
        return "not measured"
    runs = found.get("measured") or []
    if found.get("reach") == "host-wide" or not runs:
        # The note describes the machine the measurements ran on, not the reader's.
        note = found.get("note") or "not measurable in a namespace"
        return note.replace("this kernel", "the measuring host's kernel")
    parts = []
    for arm, v in sorted(found.get("verdicts", {}).items()):
        run = next((r for r in runs if f"{r['scenario']}/{r['arm']}" == arm
                    and r.get("verdict") == v.get("verdict")), None)
        run = run or next((r for r in runs if f"{r['scenario']}/{r['arm']}" == arm), None)
        if run and run.get("p99_ms"):
            a, b = run["p99_ms"]
            why = ", ".join(run.get("why") or [])
            verdict = f"{v.get('verdict')}: {why}" if why else v.get("verdict")
            parts.append(f"{arm}, p99 {a:.2f} -> {b:.2f} ms ({verdict})")
    text = "measured: " + "; ".join(parts) if parts else "measured, no verdict"
    if str(found.get("value")) != str(current):
        text += f" [with the earlier value {found.get('value')}]"
    return text


def main():
    profiles = {name: show(name) for name, _, _ in LAYERS}
    bench = load_bench()
    lines = [
        "# Built-in profiles",
        "",
        "Generated by `scripts/profiles-doc.py` from `profiles/*.yaml`; do not edit by hand.",
        "",
        "The built-ins come in layers. `api-base` holds what every API host wants;",
        "`latency-profile` and `throughput-profile` include it and lean one way; the add-ons are",
        "opt-in and meant to be included after one of them, in your own profile:",
        "",
        "```yaml",
        "# /etc/hostperf/profiles/api.yaml",
        "include: [latency-profile, nat-node]",
        "```",
        "",
        "`hostperf recommend` picks the layers for a host and says why. A value such as `>=4096`",
        "only ever raises the current value; `optional` settings are skipped where the kernel or",
        "device lacks them; `when:` conditions (virtualization, NUMA nodes, kernel, driver, CPUs,",
        "systemd) are checked against the host, and the plan shows each skipped setting with the",
        "reason, so one profile fits a cloud VM and a 2-socket server.",
        "",
        f"Sources: kernel paths are below `Documentation/` of torvalds/linux. TuneD values are",
        f"from {TUNED}, `profiles/NAME/tuned.conf`.",
        f"Measurements: `docs/bench-results.json` ({'present' if bench else 'absent'}), written by",
        "`bench/profile-evidence.sh`; a per-namespace key is measured alone in the scenario that",
        "exercises it, a host-wide key cannot be measured in a namespace.",
        "",
        "| profile | for | TuneD's closest |",
        "|---|---|---|",
    ]
    for name, purpose, tuned in LAYERS:
        lines.append(f"| `{name}` | {purpose} | {tuned} |")
    lines.append("")
    for name, purpose, tuned in LAYERS:
        p = profiles[name]
        includes = [n for n in p.get("resolved_from", []) if n != name]
        lines += [f"## {name}", "", cell(p.get("description", "")) + ".", ""]
        if includes:
            lines += [f"Includes {', '.join('`' + n + '`' for n in includes)}.", ""]
        lines += [
            "| setting | value | applies when | why: mechanism and trade-off | source | TuneD | measured |",
            "|---|---|---|---|---|---|---|",
        ]
        bench_names = [name] + (["latency-profile", "throughput-profile"] if name == "api-base" else [])
        for key, bench_key, e in rows(p):
            v = value(e)
            opt = " (optional)" if e.get("optional") else ""
            lines.append(
                f"| `{key}` | `{cell(v)}`{opt} | {cell(conditions(e))} | {cell(e.get('reason', ''))} "
                f"| {cell(SOURCES.get(key, '-'))} | {cell(TUNED_VALUES.get(key, '-'))} "
                f"| {cell(measured(bench, bench_names, bench_key, v))} |"
            )
        lines.append("")
    lines += [
        "## TuneD settings not adopted as they are",
        "",
        "| TuneD profile | setting | what hostperf does instead, and why |",
        "|---|---|---|",
    ]
    for prof, setting, why in TUNED_NOT_ADOPTED:
        lines.append(f"| {prof} | `{setting}` | {why} |")
    lines += [
        "",
        "## Considered and left at the kernel's value",
        "",
        "| setting | why |",
        "|---|---|",
    ]
    for key, why in NOT_SET:
        lines.append(f"| `{key}` | {why} |")
    lines += [
        "",
        "## Removed or changed since the previous built-ins",
        "",
        "| setting | was | now | why |",
        "|---|---|---|---|",
    ]
    for key, was, now, why in REMOVED:
        lines.append(f"| `{key}` | {was} | {now} | {why} |")
    lines.append("")
    sys.stdout.write("\n".join(lines))


if __name__ == "__main__":
    main()
