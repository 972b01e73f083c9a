#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (when root), then runs every test.
# Tests that need root or network namespaces print why they skipped when they cannot run.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
for tool in ip:iproute2 ss:iproute2 ethtool:ethtool setpriv:util-linux flock:util-linux \
            unshare:util-linux netstat:net-tools python3:python3 sysctl:procps \
            curl:curl prometheus-node-exporter:prometheus-node-exporter promtool:prometheus \
            systemd-analyze:systemd; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
# nginx for the probe tests (they run their own, in the foreground on free high ports).
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
# The bench plot test draws text with a TrueType font.
ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1 || missing+=(fonts-dejavu-core)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        # Packages with daemons (node_exporter, prometheus, nginx) must not start them: the
        # tests start their own on loopback (nothing may take port 80). policy-rc.d is
        # Debian's switch for that.
        policy=/usr/sbin/policy-rc.d created_policy=false status=0
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=true
        fi
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null \
            || status=$?
        if $created_policy; then rm -f "$policy"; fi
        ((status == 0)) || exit "$status"
    else
        echo "note: missing ${missing[*]}; some tests will skip" >&2
    fi
fi
# The package test builds the .deb with cargo-deb (about a minute to compile, once).
if ! cargo deb --version >/dev/null 2>&1; then
    cargo install --locked --quiet cargo-deb || echo "note: cargo-deb not installed; the package test will skip" >&2
fi
# The Ansible role's test runs ansible-playbook from ansible-core (PyPI).
ansible_scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)
if ! command -v ansible-playbook >/dev/null 2>&1 && [[ ! -x $ansible_scripts/ansible-playbook ]]; then
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
        'ansible-core>=2.14' >/dev/null \
        || echo "note: ansible-core not installed; the Ansible role test will skip" >&2
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
