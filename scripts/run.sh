#!/usr/bin/env bash
# Builds hostperf (release) and runs it: by default the plan for latency-profile on this
# host, which only reads. Any arguments replace that command, e.g.
#   scripts/run.sh check latency-profile -o json
set -euo pipefail
cd "$(dirname "$0")/.."
# The build shows its progress (the first one takes a few minutes); hostperf's output follows.
echo "building hostperf (release)..." >&2
cargo build --release --locked
if (($#)); then
    exec target/release/hostperf "$@"
fi
target/release/hostperf profiles
target/release/hostperf plan latency-profile
