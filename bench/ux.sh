#!/usr/bin/env bash
# Benchmark: what the operator-experience layer (table layout, stream handling, JSON
# documents, logging) costs the commands people run most. Times, in one run, with
# hyperfine: `check latency-profile` (a pipe, and fitted to 80 columns), `plan`, `check -o
# json`, and `diagnose --interval 0`, against a baseline binary built from an older commit
# when HOSTPERF_BASELINE names one. Prints medians in ms and the ratio to the baseline.
#
# Budgets (issue 10): check latency-profile under 10 ms, diagnose --interval 0 under 20 ms.
#
# Usage: bench/ux.sh [RUNS]                        (reads only; needs hyperfine)
#        HOSTPERF_BASELINE=/path/to/older/hostperf bench/ux.sh
# A baseline from main:  git archive main | tar -x -C /tmp/base && (cd /tmp/base && cargo build --release)
set -euo pipefail
runs=${1:-100}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/target/release/hostperf
command -v hyperfine >/dev/null || { echo "missing hyperfine (apt-get install hyperfine)"; exit 2; }
(cd "$here" && cargo build --release --quiet)
export HOSTPERF_PROFILE_DIR=/nonexistent NO_COLOR=1
base=${HOSTPERF_BASELINE:-}
json=$(mktemp)
trap 'rm -f "$json"' EXIT

# name | arguments | environment
cases=(
    "check latency-profile (pipe)|check latency-profile|"
    "check latency-profile (COLUMNS=80)|check latency-profile|COLUMNS=80"
    "check latency-profile -o json|check latency-profile -o json|"
    "plan latency-profile|plan latency-profile|"
    "diagnose --interval 0|diagnose --interval 0|"
)
printf '%-40s %10s %10s %7s\n' "command" "ms" "baseline" "ratio"
for case in "${cases[@]}"; do
    IFS='|' read -r name args env <<<"$case"
    cmds=("env $env $bin $args")
    [[ -n $base ]] && cmds+=("env $env $base $args")
    # -i: check exits 1 on drift, diagnose on findings; the time is what counts here.
    hyperfine -N -i --warmup 5 --runs "$runs" --output=pipe --export-json "$json" "${cmds[@]}" >/dev/null 2>&1
    read -r ms base_ms < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(" ".join("%.2f" % (x["median"] * 1000) for x in r), "-" if len(r) == 1 else "")' "$json")
    ratio=-
    [[ $base_ms != - && -n $base_ms ]] && ratio=$(python3 -c "print('%.2f' % ($ms / $base_ms))")
    printf '%-40s %10s %10s %7s\n' "$name" "$ms" "${base_ms:--}" "$ratio"
done
