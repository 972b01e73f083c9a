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
# nginx for the probe tests (they run their own, in the foreground on free high ports).
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        # Packages with a service (nginx) must not start it: nothing here may take port 80.
        # Where the image has no policy-rc.d, one that denies every start is put in place
        # for the install and removed after.
        policy=/usr/sbin/policy-rc.d
        own_policy=
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
        fi
        installed=0
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null || installed=$?
        if [[ -n $own_policy ]]; then rm -f "$policy"; fi
        if ((installed)); then exit "$installed"; fi
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
