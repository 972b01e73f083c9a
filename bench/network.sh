#!/usr/bin/env bash
# Benchmark: the network section at scale and check on real host shapes, in one run.
#
# 1. `hostperf check` of a network: section naming N veth interfaces (txqueuelen, root qdisc,
#    rps_cpus each) inside a throwaway network namespace, against what an operator would run
#    instead: one batched `tc qdisc show` plus one `grep` over the same sysfs files. Measured
#    at N = 100 and N = 300: linear growth keeps the ratio to the shell flat.
# 2. plan and check of both built-in profiles on the 64-CPU fixture host (x86-2s-mlx5:
#    2 sockets, SMT, isolated CPUs, mlx5 on node 1), through its netlink double.
# 3. `hostperf check latency-profile` on this host, time and peak RSS, with and without 5,000
#    sleeping processes (check must not read every process's name to find irqbalance).
#
# Writes nothing outside the namespace and a temp dir; the sleeping processes are this
# script's children and are killed by PID at the end.
#
# Usage: bench/network.sh [RUNS]      (root; needs hyperfine, iproute2, time)
# HOSTPERF_BASELINE=/path/to/an/older/hostperf also times that binary on the same runs, for
# before/after figures.
set -euo pipefail
runs=${1:-30}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/release/hostperf
base=${HOSTPERF_BASELINE:-}
export HOSTPERF_PROFILE_DIR=/nonexistent NO_COLOR=1

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join("%.2f" % (x["median"]*1000) for x in r))' "$1"; }
ratio() { python3 -c "print(round($1/$2, 2))"; }

if [[ ${HOSTPERF_BENCH_INNER:-} == 1 ]]; then
    # Inside the namespace (with its own /sys): N interfaces, a profile naming each.
    n=$2
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    {
        for ((i = 0; i < n; i += 2)); do
            echo "link add hpb$i type veth peer name hpb$((i + 1))"
        done
        for ((i = 0; i < n; i++)); do echo "link set hpb$i up"; done
    } | ip -batch -
    {
        echo "network:"
        echo "  interfaces:"
        for ((i = 0; i < n; i++)); do
            printf '    hpb%d: {txqueuelen: 1000, root_qdisc: noqueue, rps_cpus: "0"}\n' "$i"
        done
    } >"$work/net.yaml"
    "$bin" check --file "$work/net.yaml" >/dev/null || { echo "check does not pass: the bench measures a passing check"; exit 1; }
    shell="tc qdisc show | grep -c noqueue; grep -H . /sys/class/net/hpb*/tx_queue_len /sys/class/net/hpb*/queues/rx-*/rps_cpus | wc -l"
    extra=()
    [[ -n $base ]] && extra=(-n "baseline check ($n interfaces)" "$base check --file $work/net.yaml")
    hyperfine -N --warmup 3 --runs "$runs" -i --export-json "$work/n.json" \
        -n "hostperf check ($n interfaces)" "$bin check --file $work/net.yaml" \
        -n "tc qdisc show + grep ($n interfaces)" "sh -c '$shell'" "${extra[@]}" >/dev/null
    read -r hp sh old < <(median "$work/n.json")
    printf '%-48s %8s ms\n' "hostperf check, $n veth interfaces" "$hp"
    printf '%-48s %8s ms\n' "tc qdisc show + grep of sysfs, $n interfaces" "$sh"
    printf '%-48s %8s\n' "ratio hostperf / shell, $n interfaces" "$(ratio "$hp" "$sh")"
    [[ -n $base ]] && printf '%-48s %8s ms (ratio to shell %s)\n' "baseline check, $n interfaces" "$old" "$(ratio "$old" "$sh")"
    exit
fi

for tool in hyperfine ip tc /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install hyperfine iproute2 time)"; exit 2; }
done
(cd "$here" && cargo build --release --quiet)
echo "runs per command: $runs (medians)"

# 1. The network section at scale, each size in a fresh namespace.
for n in 100 300; do
    ns=hp-bench-net-$$-$n
    ip netns add "$ns"
    HOSTPERF_BENCH_INNER=1 ip netns exec "$ns" "$0" "$runs" "$n" || true
    ip netns del "$ns"
done

# 2. The 64-CPU fixture host.
work=$(mktemp -d)
pids=()
cleanup() {
    ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
root=$here/tests/fixtures/hosts/x86-2s-mlx5
hyperfine -N --warmup 3 --runs "$runs" -i --export-json "$work/fixture.json" \
    "$bin --root $root plan latency-profile" \
    "$bin --root $root check latency-profile" \
    "$bin --root $root plan throughput-profile" \
    "$bin --root $root check throughput-profile" >/dev/null
read -r pl cl pt ct < <(median "$work/fixture.json")
printf '%-48s %8s ms\n' "64-CPU fixture: plan latency-profile" "$pl"
printf '%-48s %8s ms\n' "64-CPU fixture: check latency-profile" "$cl"
printf '%-48s %8s ms\n' "64-CPU fixture: plan throughput-profile" "$pt"
printf '%-48s %8s ms\n' "64-CPU fixture: check throughput-profile" "$ct"

# 3. check latency-profile on this host, then with 5,000 sleeping processes.
live() {
    local cmds=("$bin check latency-profile")
    [[ -n $base ]] && cmds+=("$base check latency-profile")
    hyperfine -N --warmup 3 --runs "$runs" -i --export-json "$work/live.json" "${cmds[@]}" >/dev/null
    local ms old rss
    read -r ms old < <(median "$work/live.json")
    rss=$( { /usr/bin/time -v "$bin" check latency-profile >/dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' || true)
    printf '%-48s %8s ms, peak RSS %s KiB\n' "check latency-profile (this host, $1)" "$ms" "$rss"
    [[ -n $base ]] && printf '%-48s %8s ms\n' "baseline check latency-profile ($1)" "$old"
    return 0
}
live "$(ls /proc | grep -c '^[0-9]') processes"
for ((i = 0; i < 5000; i++)); do
    sleep 3600 &
    pids+=($!)
done
live "$(ls /proc | grep -c '^[0-9]') processes"
kill "${pids[@]}" 2>/dev/null || true
pids=()
