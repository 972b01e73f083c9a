#!/usr/bin/env bash
# Benchmarks for `hostperf diagnose` (benchmarks, not tests), each in throwaway namespaces:
# nothing on the host changes, and everything staged dies with the namespace.
#
#   timewait  30,000 TIME_WAIT sockets: port-exhaustion against the runbook's netstat pipeline
#             and `ss -tan state time-wait`.
#   sockets   100,000 established TCP connections: full `diagnose --interval 0` against
#             `ss -tan | wc -l`; `--from` a snapshot of it against live.
#   procs     5,000 processes holding 265,000 fds (own PID namespace and /proc): full
#             `diagnose --interval 0` and `--check fd-exhaustion` against
#             `ls /proc/*/fd | wc -l`; `--from` a snapshot of it against live.
#   idle      full `diagnose --interval 0` and its peak RSS in a fresh namespace and on the host.
#
# Usage: bench/diagnose.sh [all|timewait|sockets|procs|idle]...   (root; builds --release)
# Needs: unshare, ip, python3, netstat (net-tools), ss, hyperfine, /usr/bin/time (package time).
# RUNS=N sets the runs per command (default 10).
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS="${RUNS:-10}"
BIN="$PWD/target/release/hostperf"

if [ -z "${HOSTPERF_BENCH_INNER:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "run as root (namespaces)" >&2; exit 2; }
    for tool in unshare ip python3 netstat ss hyperfine; do
        command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
    done
    [ -x /usr/bin/time ] || { echo "missing: /usr/bin/time (apt-get install -y time)" >&2; exit 2; }
    cargo build --release --quiet
    scenarios=("$@")
    if [ ${#scenarios[@]} -eq 0 ] || [ "${scenarios[0]}" = all ]; then
        scenarios=(timewait sockets procs idle)
    fi
    for s in "${scenarios[@]}"; do
        case "$s" in
            timewait|sockets) HOSTPERF_BENCH_INNER="$s" unshare -n "$0" ;;
            idle) HOSTPERF_BENCH_INNER=idle unshare -n "$0"; HOSTPERF_BENCH_INNER=idle-host "$0" ;;
            procs) HOSTPERF_BENCH_INNER="$s" unshare -fpn --mount-proc "$0" ;;
            *) echo "unknown scenario $s" >&2; exit 2 ;;
        esac
    done
    exit 0
fi

[ "$HOSTPERF_BENCH_INNER" = idle-host ] || ip link set lo up

# medians CMD... : hyperfine median wall ms of each command, space separated.
medians() {
    local out
    out=$(mktemp)
    hyperfine -N --warmup 2 --runs "$RUNS" -i --export-json "$out" "$@" >/dev/null 2>&1 || \
        hyperfine --warmup 2 --runs "$RUNS" -i --export-json "$out" "$@" >/dev/null
    python3 - "$out" <<'PY'
import json, sys
print(*("%.2f" % (x["median"] * 1000) for x in json.load(open(sys.argv[1]))["results"]))
PY
    rm -f "$out"
}

rss_mib() { # CMD... : peak RSS in MiB
    # diagnose exits 1 when it finds something: only the measurement matters here.
    { /usr/bin/time -v "$@" 2>&1 >/dev/null || true; } |
        awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}'
}

line() { printf '%-66s %10s\n' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

case "$HOSTPERF_BENCH_INNER" in
timewait)
    sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
    sysctl -qw net.ipv4.tcp_max_tw_buckets=262144
    sysctl -qw net.ipv4.tcp_tw_reuse=0
    python3 - 30000 <<'PY'
import socket, sys
n = int(sys.argv[1])
ls = []
for port in range(9001, 9009):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(512); ls.append(s)
for i in range(n):
    l = ls[i % len(ls)]
    c = socket.create_connection(l.getsockname()); a, _ = l.accept()
    c.close(); a.recv(1); a.close()
PY
    cfg=$(mktemp --suffix .yaml)
    printf 'port-exhaustion:\n  warn-pct: 1\n  crit-pct: 2\n' > "$cfg"
    read -r netstat_ms ss_ms port_ms dump_ms < <(medians \
        "sh -c 'netstat -ant | grep TIME_WAIT | wc -l'" \
        "sh -c 'ss -tan state time-wait | wc -l'" \
        "$BIN diagnose --interval 0 --check port-exhaustion" \
        "$BIN diagnose --interval 0 --check port-exhaustion --config $cfg")
    echo "== 30,000 TIME_WAIT sockets (medians of $RUNS, ms)"
    line "netstat -ant | grep TIME_WAIT | wc -l" "$netstat_ms"
    line "ss -tan state time-wait | wc -l" "$ss_ms"
    line "hostperf diagnose --interval 0 --check port-exhaustion" "$port_ms"
    line "  the same, thresholds so low that every socket is dumped" "$dump_ms"
    line "speed-up vs netstat pipeline (x)" "$(ratio "$netstat_ms" "$port_ms")"
    line "worst case against ss (ratio, target <= 1)" "$(ratio "$dump_ms" "$ss_ms")"
    rm -f "$cfg"
    ;;
sockets)
    sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
    # 12 workers, each with its own listener, open 8,400 connections to it and hold both ends
    # (16,800 fds each, under the 20,000 hard limit of this machine): 100,800 connections.
    # Its own process group (setsid), so that one kill ends the workers too.
    setsid python3 - >/dev/null 2>&1 <<'PY' &
import os, socket, sys, time, signal
def worker(port, n):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(4096)
    held = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port)); a, _ = l.accept(); held += [c, a]
    open("/tmp/hostperf-bench-ready-%d" % port, "w").close()
    signal.pause()
for k in range(12):
    if os.fork() == 0:
        worker(19000 + k, 8400); os._exit(0)
signal.pause()
PY
    holder=$!
    while [ "$(ls /tmp/hostperf-bench-ready-19* 2>/dev/null | wc -l)" -lt 12 ]; do sleep 0.5; done
    rm -f /tmp/hostperf-bench-ready-19*
    grep '^TCP:' /proc/net/sockstat
    snap=$(mktemp --suffix .tar.gz)
    "$BIN" snapshot --interval 0 "$snap" 2>/dev/null
    read -r ss_ms full_ms from_ms < <(medians \
        "sh -c 'ss -tan | wc -l'" \
        "$BIN diagnose --interval 0" \
        "$BIN diagnose --from $snap")
    rss=$(rss_mib "$BIN" diagnose --interval 0)
    echo "== 100,800 established connections (201,600 sockets; medians of $RUNS, ms)"
    line "ss -tan | wc -l" "$ss_ms"
    line "hostperf diagnose --interval 0 (all checks)" "$full_ms"
    line "hostperf diagnose --from snapshot of the same ($(du -k "$snap" | cut -f1) KiB)" "$from_ms"
    line "diagnose against ss (ratio, target <= 1)" "$(ratio "$full_ms" "$ss_ms")"
    line "--from against live (ratio, target <= 2)" "$(ratio "$from_ms" "$full_ms")"
    line "peak RSS of diagnose --interval 0 (MiB)" "$rss"
    kill -- -"$holder"
    rm -f "$snap"
    ;;
procs)
    mount -t proc proc /proc 2>/dev/null || true
    # 5,000 processes, each with 53 open fds (50 inherited from the parent): 265,000 fds.
    python3 - >/dev/null 2>&1 <<'PY' &
import os, signal
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(50)]
for i in range(5000):
    if os.fork() == 0:
        signal.pause(); os._exit(0)
open("/tmp/hostperf-bench-procs-ready", "w").close()
signal.pause()
PY
    while [ ! -e /tmp/hostperf-bench-procs-ready ]; do sleep 0.5; done
    rm -f /tmp/hostperf-bench-procs-ready
    echo "processes: $(ls -d /proc/[0-9]* | wc -l), fds: $(ls /proc/*/fd 2>/dev/null | grep -c '^[0-9]')"
    snap=$(mktemp --suffix .tar.gz)
    "$BIN" snapshot --interval 0 "$snap" 2>/dev/null
    read -r ls_ms full_ms fd_ms from_ms < <(medians \
        "sh -c 'ls /proc/*/fd | wc -l'" \
        "$BIN diagnose --interval 0" \
        "$BIN diagnose --interval 0 --check fd-exhaustion" \
        "$BIN diagnose --from $snap")
    rss=$(rss_mib "$BIN" diagnose --interval 0)
    echo "== 5,000 processes holding 265,000 fds (medians of $RUNS, ms)"
    line "ls /proc/*/fd | wc -l" "$ls_ms"
    line "hostperf diagnose --interval 0 (all checks)" "$full_ms"
    line "hostperf diagnose --interval 0 --check fd-exhaustion" "$fd_ms"
    line "hostperf diagnose --from snapshot of the same ($(du -k "$snap" | cut -f1) KiB)" "$from_ms"
    line "diagnose against ls (ratio, target <= 1.5)" "$(ratio "$full_ms" "$ls_ms")"
    line "--from against live (ratio, target <= 2)" "$(ratio "$from_ms" "$full_ms")"
    line "peak RSS of diagnose --interval 0 (MiB)" "$rss"
    rm -f "$snap"
    ;;
idle|idle-host)
    read -r ms < <(medians "$BIN diagnose --interval 0")
    rss=$(rss_mib "$BIN" diagnose --interval 0)
    where="in a fresh network namespace"
    [ "$HOSTPERF_BENCH_INNER" = idle ] || where="on the host ($(ls -d /proc/[0-9]* | wc -l) processes)"
    echo "== full diagnose --interval 0 $where (median of $RUNS; targets < 20 ms, < 10 MiB)"
    line "wall time (ms)" "$ms"
    line "peak RSS (MiB)" "$rss"
    ;;
esac
