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
# The machine may be shared: each pair is timed in ROUNDS alternating rounds, and the
# figure is the median of the rounds' medians (min in brackets), so a burst of other work
# hits both binaries alike.
rounds=${ROUNDS:-5}
printf '%-36s %16s %16s %7s\n' "command" "ms (min)" "baseline (min)" "ratio"
for case in "${cases[@]}"; do
    IFS='|' read -r name args env <<<"$case"
    cmds=("env $env $bin $args")
    [[ -n $base ]] && cmds+=("env $env $base $args")
    meds=()
    for ((r = 0; r < rounds; r++)); do
        # -i: check exits 1 on drift, diagnose on findings; the time is what counts here.
        hyperfine -N -i --warmup 3 --runs "$((runs / rounds + 1))" --output=pipe --export-json "$json" "${cmds[@]}" >/dev/null 2>&1
        meds+=("$(python3 -c '
import json, sys
print(",".join("%.4f:%.4f" % (x["median"] * 1000, x["min"] * 1000) for x in json.load(open(sys.argv[1]))["results"]))' "$json")")
    done
    python3 - "$name" "${meds[@]}" <<'PY'
import statistics, sys
name, rounds = sys.argv[1], [r.split(",") for r in sys.argv[2:]]
cols = []
for i in range(len(rounds[0])):
    med = statistics.median(float(r[i].split(":")[0]) for r in rounds)
    low = min(float(r[i].split(":")[1]) for r in rounds)
    cols.append((med, low))
ours = "%.2f (%.2f)" % cols[0]
base = "%.2f (%.2f)" % cols[1] if len(cols) > 1 else "-"
ratio = "%.2f" % (cols[0][0] / cols[1][0]) if len(cols) > 1 else "-"
print("%-36s %16s %16s %7s" % (name, ours, base, ratio))
PY
done
