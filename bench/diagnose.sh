#!/usr/bin/env bash
# Benchmark for `hostperf diagnose` (a benchmark, not a test).
#
# In a fresh network namespace (nothing on the host changes), make ~30,000 TIME_WAIT sockets on
# loopback, then time:
#   - the runbook's `netstat -ant | grep TIME_WAIT | wc -l`
#   - `ss -tan state time-wait | wc -l`
#   - `hostperf diagnose --interval 0 --check port-exhaustion`
#   - `hostperf diagnose --interval 0` (all checks), plus its peak RSS
# Medians over several runs (hyperfine when installed, else a date +%s%N loop).
#
# Usage: bench/diagnose.sh [SOCKETS]   (root or `unshare -rn` capable; builds --release)
# Needs: unshare, ip, python3, netstat (net-tools), ss, /usr/bin/time (package `time`);
#        hyperfine optional (apt-get install -y hyperfine net-tools time).
set -euo pipefail

cd "$(dirname "$0")/.."
N="${1:-30000}"
RUNS="${RUNS:-15}"

if [ -z "${HOSTPERF_BENCH_INNER:-}" ]; then
    cargo build --release --quiet
    for tool in unshare ip python3 netstat ss; do
        command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
    done
    [ -x /usr/bin/time ] || { echo "missing: /usr/bin/time (apt-get install -y time)" >&2; exit 2; }
    exec env HOSTPERF_BENCH_INNER=1 unshare -n "$0" "$@"
fi

BIN="$PWD/target/release/hostperf"
ip link set lo up
# Per-namespace settings only (this namespace is thrown away when the script ends).
sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
sysctl -qw net.ipv4.tcp_max_tw_buckets=262144
sysctl -qw net.ipv4.tcp_tw_reuse=0

echo "== creating $N TIME_WAIT sockets on 127.0.0.1 (client closes first)"
python3 - "$N" <<'PY'
import socket, sys
n = int(sys.argv[1])
listeners = []
for port in range(9001, 9009):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(512)
    listeners.append(s)
for i in range(n):
    l = listeners[i % len(listeners)]
    c = socket.create_connection(l.getsockname())
    a, _ = l.accept()
    c.close()            # client closes first: the client side ends in TIME_WAIT
    a.recv(1)            # EOF
    a.close()
PY
grep '^TCP:' /proc/net/sockstat

median_loop() { # CMD...: median wall ms over RUNS runs
    local t=()
    for _ in $(seq "$RUNS"); do
        local s e
        s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
        t+=($(( (e - s) / 1000 )))
    done
    printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

NETSTAT_CMD="netstat -ant | grep TIME_WAIT | wc -l"
SS_CMD="ss -tan state time-wait | wc -l"
PORT_CMD="$BIN diagnose --interval 0 --check port-exhaustion"
FULL_CMD="$BIN diagnose --interval 0"
# With thresholds this low sockstat cannot rule out a busy destination, so port-exhaustion
# must take the full inet_diag dump of every TIME_WAIT socket: the worst case.
DUMP_CFG=$(mktemp --suffix .yaml)
printf 'port-exhaustion:\n  warn-pct: 1\n  crit-pct: 2\n' > "$DUMP_CFG"
DUMP_CMD="$BIN diagnose --interval 0 --check port-exhaustion --config $DUMP_CFG"

if command -v hyperfine >/dev/null; then
    out=$(mktemp)
    hyperfine -N --warmup 2 --runs "$RUNS" -i --export-json "$out" \
        "sh -c '$NETSTAT_CMD'" "sh -c '$SS_CMD'" "$PORT_CMD" "$FULL_CMD" "$DUMP_CMD" >/dev/null 2>&1 || \
    hyperfine --warmup 2 --runs "$RUNS" -i --export-json "$out" \
        "$NETSTAT_CMD" "$SS_CMD" "$PORT_CMD" "$FULL_CMD" "$DUMP_CMD" >/dev/null
    read -r netstat_ms ss_ms port_ms full_ms dump_ms < <(python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(*("%.2f" % (x["median"] * 1000) for x in r))
PY
)
    rm -f "$out"
    method="hyperfine medians, $RUNS runs"
else
    netstat_ms=$(median_loop sh -c "$NETSTAT_CMD")
    ss_ms=$(median_loop sh -c "$SS_CMD")
    port_ms=$(median_loop $PORT_CMD)
    full_ms=$(median_loop $FULL_CMD)
    dump_ms=$(median_loop $DUMP_CMD)
    method="date +%s%N loop medians, $RUNS runs"
fi

rss_kib=$(/usr/bin/time -v $FULL_CMD 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')
tw_now=$(awk '/^TCP:/ {for (i=1;i<NF;i++) if ($i=="tw") print $(i+1)}' /proc/net/sockstat)

echo "== results ($method; $tw_now TIME_WAIT sockets at the end)"
printf '%-58s %8s ms\n' "netstat -ant | grep TIME_WAIT | wc -l" "$netstat_ms"
printf '%-58s %8s ms\n' "ss -tan state time-wait | wc -l" "$ss_ms"
printf '%-58s %8s ms\n' "hostperf diagnose --interval 0 --check port-exhaustion" "$port_ms"
printf '%-58s %8s ms\n' "hostperf diagnose --interval 0 (all checks)" "$full_ms"
printf '%-58s %8s ms\n' "  port-exhaustion forced to dump all 30k (worst case)" "$dump_ms"
awk -v n="$netstat_ms" -v s="$ss_ms" -v p="$port_ms" 'BEGIN {
    printf "speed-up vs netstat pipeline: %.1fx (target >= 20x)\n", n / p
    printf "speed-up vs ss:               %.1fx (target > 1x)\n", s / p }'
awk -v f="$full_ms" -v r="$rss_kib" 'BEGIN {
    printf "full diagnose: %.2f ms (target < 20 ms), peak RSS %.1f MiB (target < 10 MiB)\n", f, r / 1024 }'
rm -f "$DUMP_CFG"
echo "== port-exhaustion finding"
$PORT_CMD || true
