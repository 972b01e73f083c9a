#!/usr/bin/env bash
# Benchmark: hostperf bench's load generator against wrk (Debian's wrk 4), same server, same
# run, alternating, medians of ROUNDS.
#
#  1. Ceiling: keep-alive, 16 connections, as fast as each can go (wrk closed loop; hostperf
#     offered far above capacity, so its achieved rate is its ceiling). Requests/s.
#  2. Low load: 1 connection, about 1000 requests/s (wrk paced by a Lua delay() of 1 ms;
#     hostperf at --rate 1000). p50 latency.
#
# The server is hostperf bench's own (hyper, one thread), pinned to CPU 0; the generators to
# CPU 1. Everything runs on loopback inside a throwaway network namespace.
#
# Usage: bench/loadgen-vs-wrk.sh [ROUNDS] [SECONDS]   (root; needs wrk, iproute2, python3)
set -euo pipefail
rounds=${1:-3}
secs=${2:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/release/hostperf
for tool in wrk ip taskset python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk iproute2 util-linux python3)"; exit 2; }
done
(cd "$here" && cargo build --release --quiet)
ns=hostperf-wrk-$$
work=$(mktemp -d)
ip netns add "$ns"
server=
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
ip netns exec "$ns" ip link set lo up
export HOSTPERF_PROFILE_DIR=/nonexistent NO_COLOR=1
ip netns exec "$ns" taskset -c 0 "$bin" bench --serve 127.0.0.1:8080 2>/dev/null &
server=$!
sleep 0.5
url=http://127.0.0.1:8080/
cat >"$work/delay.lua" <<'EOF'
function delay() return 1 end
EOF
inns() { ip netns exec "$ns" taskset -c 1 "$@"; }
# wrk prints latency with a unit; convert to microseconds.
wrk_us() { python3 -c 'import re,sys
v=sys.argv[1]; m=re.match(r"([0-9.]+)(us|ms|s)$", v)
print(float(m.group(1))*{"us":1,"ms":1e3,"s":1e6}[m.group(2)])' "$1"; }
ours_field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"r": r}))' "$1" "$2"; }

for ((i = 1; i <= rounds; i++)); do
    inns wrk -t1 -c16 -d"${secs}s" "$url" >"$work/wrk-max.txt"
    awk '/^Requests\/sec/ {print $2}' "$work/wrk-max.txt" >>"$work/wrk-max"
    inns "$bin" bench --target 127.0.0.1:8080 --rate 1000000 --connections 16 \
        --duration "$secs" --warmup 1 >"$work/ours-max.json"
    ours_field "$work/ours-max.json" 'r["achieved_rps"]' >>"$work/ours-max"
    inns wrk -t1 -c1 -d"${secs}s" --latency -s "$work/delay.lua" "$url" >"$work/wrk-low.txt"
    wrk_us "$(awk '$1 == "50%" {print $2}' "$work/wrk-low.txt")" >>"$work/wrk-p50"
    awk '/^Requests\/sec/ {print $2}' "$work/wrk-low.txt" >>"$work/wrk-low-rps"
    inns "$bin" bench --target 127.0.0.1:8080 --rate 1000 --connections 1 \
        --duration "$secs" --warmup 1 >"$work/ours-low.json"
    ours_field "$work/ours-low.json" 'r["latency_ms"]["p50"] * 1000' >>"$work/ours-p50"
done
median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wm=$(median "$work/wrk-max"); om=$(median "$work/ours-max")
wp=$(median "$work/wrk-p50"); op=$(median "$work/ours-p50")
wl=$(median "$work/wrk-low-rps")
echo "rounds: $rounds x ${secs}s, medians; server on CPU 0, generators on CPU 1"
printf '%-52s %10s\n' "wrk -t1 -c16 (closed loop), req/s" "$wm"
printf '%-52s %10s\n' "hostperf generator, 16 conns, offered 1M/s, req/s" "$om"
printf '%-52s %10s\n' "ratio hostperf / wrk" "$(python3 -c "print(round($om/$wm, 3))")"
printf '%-52s %10s\n' "wrk -c1 + 1 ms delay ($wl req/s), p50 us" "$wp"
printf '%-52s %10s\n' "hostperf --rate 1000 -c1, p50 us (from due time)" "$op"
printf '%-52s %10s\n' "difference hostperf - wrk, us" "$(python3 -c "print(round($op-$wp, 1))")"
