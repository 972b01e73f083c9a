#!/usr/bin/env bash
# Benchmark: hostperf apply and check against `sysctl -p` of the same keys (and
# `tuned-adm verify` where TuneD runs), in one run. Prints medians and ratios.
#
# Writes happen only inside a throwaway network namespace, on per-namespace net.* keys
# (the ones latency-profile sets that a namespace can take). `check` of the full
# latency-profile is also timed on the live host: it only reads.
#
# Usage: bench/apply-check.sh [RUNS]      (root; needs hyperfine, iproute2, procps, time)
#        HOSTPERF_BASELINE=/path/to/older/hostperf bench/apply-check.sh   also times that
#        binary's apply in the same run (before/after figures for a change).
#
# apply's cost over `sysctl -p` is the journal: one fdatasync of the new snapshot and the
# fsync of its directory before the first write, one fdatasync of the `applied` record
# after the last (so an interrupted apply is never mistaken for a finished one). On a disk
# shared with busy builds an fdatasync alone can take milliseconds: compare within one run.
set -euo pipefail
runs=${1:-50}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/release/hostperf

if [[ ${HOSTPERF_BENCH_INNER:-} != 1 ]]; then
    for tool in hyperfine ip sysctl /usr/bin/time; do
        command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install hyperfine iproute2 procps time)"; exit 2; }
    done
    (cd "$here" && cargo build --release --quiet)
    ns=hostperf-bench-$$
    ip netns add "$ns"
    trap 'ip netns del "$ns"' EXIT
    HOSTPERF_BENCH_INNER=1 ip netns exec "$ns" "$0" "$runs"
    # check only reads, so the full profile is timed on the live host itself.
    export HOSTPERF_PROFILE_DIR=/nonexistent NO_COLOR=1
    json=$(mktemp)
    base_check=()
    [[ -n ${HOSTPERF_BASELINE:-} ]] && base_check=("$HOSTPERF_BASELINE check latency-profile")
    hyperfine -N --warmup 3 --runs "$runs" -i --export-json "$json" "$bin check latency-profile" "${base_check[@]}" >/dev/null
    read -r live_ms base_ms < <(python3 -c 'import json,sys; print(" ".join("%.3f" % (r["median"]*1000) for r in json.load(open(sys.argv[1]))["results"]))' "$json")
    rm -f "$json"
    rss_kib=$( { /usr/bin/time -v "$bin" check latency-profile >/dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' || true)
    printf '%-44s %8s\n' "hostperf check latency-profile (host, full)" "$live_ms"
    [[ -n ${base_ms:-} ]] && printf '%-44s %8s\n' "baseline check latency-profile (host, full)" "$base_ms"
    printf '%-44s %8s\n' "peak RSS of that check (KiB)" "$rss_kib"
    if command -v tuned-adm >/dev/null && tuned-adm active >/dev/null 2>&1; then
        hyperfine -N --runs 10 -i "tuned-adm verify" | grep -E 'Time'
    else
        echo "tuned-adm verify: not measured (the TuneD daemon is not running here: no systemd/D-Bus)"
    fi
    exit
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOSTPERF_PROFILE_DIR=$work/none NO_COLOR=1

# The per-namespace keys of latency-profile, as a hostperf profile and as a sysctl.conf.
"$bin" profiles show latency-profile -o json | python3 -c '
import json, os, sys
p = json.load(sys.stdin)
keys = [k for k in p["sysctl"] if k.startswith("net.") and os.access("/proc/sys/" + k.replace(".", "/"), os.W_OK)]
with open(sys.argv[1] + "/ns.yaml", "w") as y, open(sys.argv[1] + "/ns.conf", "w") as c, open(sys.argv[1] + "/orig.conf", "w") as o:
    y.write("sysctl:\n")
    for k in keys:
        v = p["sysctl"][k]["value"]
        y.write(f"  {k}: \"{v}\"\n")
        # sysctl -p cannot express bounds; give it the bound value itself.
        c.write(f"{k} = " + " ".join(f.lstrip("<>=") for f in v.split()) + "\n")
        o.write(f"{k} = " + " ".join(open("/proc/sys/" + k.replace(".", "/")).read().split()) + "\n")
    print(len(keys), "per-namespace keys:", " ".join(keys), file=sys.stderr)
' "$work"

state=$work/state
# Each run starts from the original values; the state directory persists, as on a real host.
reset="sysctl -q -p $work/orig.conf"
baseline=()
if [[ -n ${HOSTPERF_BASELINE:-} ]]; then
    baseline=(-n "baseline apply" "$HOSTPERF_BASELINE --state-dir $work/state-baseline apply --file $work/ns.yaml")
fi
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/apply.json" \
    --prepare "sh -c '$reset'" \
    -n "hostperf apply" "$bin --state-dir $state apply --file $work/ns.yaml" \
    -n "sysctl -p" "sysctl -q -p $work/ns.conf" "${baseline[@]}" >/dev/null
"$bin" --state-dir "$state" apply --file "$work/ns.yaml" >/dev/null
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/check.json" \
    -n "hostperf check (ns keys)" "$bin check --file $work/ns.yaml" \
    -n "sysctl -n (same keys)" "sysctl -n $(sed 's/ =.*//' "$work/ns.conf" | tr '\n' ' ')" >/dev/null
sh -c "$reset"

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join("%.3f" % (x["median"]*1000) for x in r))' "$1"; }
read -r apply_ms sysctlp_ms baseline_ms < <(median "$work/apply.json")
read -r check_ms sysctln_ms < <(median "$work/check.json")
echo "runs per command: $runs (medians, ms)"
printf '%-44s %8s\n' "hostperf apply (ns keys, journal fsynced)" "$apply_ms"
printf '%-44s %8s\n' "sysctl -p (same keys)" "$sysctlp_ms"
printf '%-44s %8s\n' "ratio apply / sysctl -p" "$(python3 -c "print(round($apply_ms/$sysctlp_ms, 2))")"
if [[ -n ${baseline_ms:-} ]]; then
    printf '%-44s %8s\n' "baseline apply ($HOSTPERF_BASELINE)" "$baseline_ms"
    printf '%-44s %8s\n' "ratio baseline apply / sysctl -p" "$(python3 -c "print(round($baseline_ms/$sysctlp_ms, 2))")"
fi
printf '%-44s %8s\n' "snapshots in the state dir after the runs" "$(ls "$state/snapshots" | wc -l)"
printf '%-44s %8s\n' "hostperf check (ns keys)" "$check_ms"
printf '%-44s %8s\n' "sysctl -n (same keys, read only)" "$sysctln_ms"
printf '%-44s %8s\n' "ratio check / sysctl -n" "$(python3 -c "print(round($check_ms/$sysctln_ms, 2))")"
