#!/usr/bin/env bash
# Builds hostperf (release) and runs it: by default the plan for latency-profile on this
# host, which only reads. Any arguments replace that command, e.g.
#   scripts/run.sh check latency-profile -o json
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --quiet
if (($#)); then
    exec target/release/hostperf "$@"
fi
target/release/hostperf profiles
target/release/hostperf plan latency-profile
