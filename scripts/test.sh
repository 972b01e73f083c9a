#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (when root), then runs every test.
# Tests that need root or network namespaces print why they skipped when they cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in ip:iproute2 ss:iproute2 ethtool:ethtool setpriv:util-linux flock:util-linux \
            unshare:util-linux netstat:net-tools python3:python3 sysctl:procps; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
# The bench plot test draws text with a TrueType font.
ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1 || missing+=(fonts-dejavu-core)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
    else
        echo "note: missing ${missing[*]}; some tests will skip" >&2
    fi
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --all-targets --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for every test binary together. A test that skipped (printed
# "SKIP name: why") passed in cargo's count; it is counted as skipped here.
grep '^SKIP ' "$log" || true
awk '/^test result:/ { p += $4; f += $6; i += $8 } /^SKIP / { s += 1 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p - s, f, i + s }' "$log"
exit "$status"
