#!/usr/bin/env bash
# Benchmark: `hostperf status` on an applied host, against `hostperf check` of the same
# profile (the drift part of status alone) and the shell an operator would run instead
# (sysctl -n of the keys, the persisted files, tc and the queue files), in one run.
# Prints medians and ratios.
#
# The applied host is a throwaway network namespace with a 4-queue veth and a private /etc
# (a mount namespace; the host's /etc is never touched), where `apply --persist` applied
# latency-profile's per-namespace sysctls and a network section on the veth. Then the same
# with 2000 older snapshots in the journal (status reads newest first and stops at the
# apply in effect), and latency-profile on the captured virtio-2vcpu host (--root).
#
# Usage: bench/status.sh [RUNS]      (root; needs hyperfine, iproute2, procps, util-linux)
set -euo pipefail
runs=${1:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/release/hostperf

if [[ ${HOSTPERF_BENCH_INNER:-} != 1 ]]; then
    for tool in hyperfine ip sysctl unshare tc; do
        command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install hyperfine iproute2 procps util-linux)"; exit 2; }
    done
    (cd "$here" && cargo build --release --quiet)
    work=$(mktemp -d)
    ns=hostperf-bench-$$
    ip netns add "$ns"
    trap 'ip netns del "$ns"; rm -rf "$work"' EXIT
    mkdir -p "$work/etc/sysctl.d"
    ip netns exec "$ns" sh -c 'ip link set lo up && ip link add va0 numtxqueues 4 numrxqueues 4 type veth peer name va1 numtxqueues 4 numrxqueues 4 && ip link set va0 up && ip link set va1 up'
    HOSTPERF_BENCH_INNER=1 WORK=$work unshare --mount --propagation private -- \
        sh -c 'mount --bind "$WORK/etc" /etc && exec ip netns exec "$0" "$1" "$2"' "$ns" "$0" "$runs"

    # The captured host, full latency-profile, read through --root.
    root=$work/virtio
    cp -a "$here/tests/fixtures/hosts/virtio-2vcpu" "$root"
    mkdir -p "$root/etc/sysctl.d" "$root/etc/security/limits.d" "$root/etc/systemd/system"
    export HOSTPERF_PROFILE_DIR=$work/none NO_COLOR=1 HOSTPERF_STATE_DIR=$work/fixture-state
    "$bin" --root "$root" apply latency-profile --persist >/dev/null
    hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/fixture.json" \
        -n "status (captured host)" "$bin --root $root status" \
        -n "check latency-profile (captured host)" "$bin --root $root check latency-profile" >/dev/null
    python3 - "$work/fixture.json" <<'EOF'
import json, sys
r = {x["command"]: x["median"] * 1000 for x in json.load(open(sys.argv[1]))["results"]}
s, c = r["status (captured host)"], r["check latency-profile (captured host)"]
print(f"{'status, latency-profile, captured virtio-2vcpu':<52} {s:7.2f} ms")
print(f"{'check latency-profile, same host':<52} {c:7.2f} ms   status/check {s / c:.2f}x")
EOF
    exit
fi

# Inside: the namespace, with $WORK/etc as /etc.
export HOSTPERF_PROFILE_DIR=$WORK/none NO_COLOR=1 HOSTPERF_STATE_DIR=$WORK/state
"$bin" profiles show latency-profile -o json | python3 -c '
import json, os, sys
p = json.load(sys.stdin)
keys = [k for k in p["sysctl"] if k.startswith("net.") and os.access("/proc/sys/" + k.replace(".", "/"), os.W_OK)]
with open(sys.argv[1] + "/bench.yaml", "w") as y, open(sys.argv[1] + "/keys", "w") as k:
    y.write("name: bench\nsysctl:\n")
    for key in keys:
        value = p["sysctl"][key]["value"]
        y.write(f"  {key}: \"{value}\"\n")
    y.write("""network:
  interfaces:
    va0:
      root_qdisc: pfifo
      txqueuelen: 2000
      channels: {rx: 2, tx: 2}
      rps_cpus: spread
      rps_flow_cnt: 2048
      xps_cpus: spread
""")
    k.write(" ".join(keys))
    print(len(keys), "per-namespace sysctls and 6 va0 settings", file=sys.stderr)
' "$WORK"
"$bin" apply --file "$WORK/bench.yaml" --persist >/dev/null
code=0; "$bin" status >/dev/null || code=$?
[[ $code == 0 ]] || { echo "status exits $code on the applied namespace"; "$bin" status; exit 1; }
keys=$(cat "$WORK/keys")
by_hand="sh -c 'sysctl -n $keys >/dev/null; cat /etc/sysctl.d/90-hostperf.conf /etc/hostperf/applied.yaml >/dev/null; tc qdisc show dev va0 >/dev/null; cat /sys/class/net/va0/tx_queue_len /sys/class/net/va0/queues/*/rps_cpus /sys/class/net/va0/queues/*/xps_cpus >/dev/null; ls /var/lib/hostperf >/dev/null 2>&1 || true'"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$WORK/ns.json" \
    -n status "$bin status" \
    -n check "$bin check --file $WORK/bench.yaml" \
    -n "by hand" "$by_hand" >/dev/null
# 2000 older snapshots (as years of boots would leave): status lists them, reads none.
snap=$(ls "$WORK/state/snapshots/"*.jsonl | head -1)
for i in $(seq -w 1 2000); do
    cp "$snap" "$WORK/state/snapshots/20000101000000-$i-00000000.jsonl"
    sed -i "1s/\"id\":\"[^\"]*\"/\"id\":\"20000101000000-$i-00000000\"/" "$WORK/state/snapshots/20000101000000-$i-00000000.jsonl"
done
hyperfine -N --warmup 3 --runs "$runs" --export-json "$WORK/many.json" \
    -n "status, 2000 older snapshots" "$bin status" >/dev/null
python3 - "$WORK/ns.json" "$WORK/many.json" <<'EOF'
import json, sys
r = {}
for f in sys.argv[1:]:
    r.update({x["command"]: x["median"] * 1000 for x in json.load(open(f))["results"]})
s = r["status"]
print(f"{'status, namespace (sysctls + veth), applied':<52} {s:7.2f} ms")
print(f"{'check of the same profile':<52} {r['check']:7.2f} ms   status/check {s / r['check']:.2f}x")
print(f"{'the same facts by hand (sysctl, cat, tc)':<52} {r['by hand']:7.2f} ms   status/by-hand {s / r['by hand']:.2f}x")
m = r["status, 2000 older snapshots"]
print(f"{'status with 2000 older snapshots':<52} {m:7.2f} ms   {m / s:.2f}x of one")
EOF
