#!/usr/bin/env bash
# Builds the Debian package target/debian/hostperf_VERSION-1_ARCH.deb: the release binary,
# the man pages and shell completions generated from the CLI definitions (packaging/xtask,
# written to target/assets/), then cargo-deb packs what Cargo.toml's
# [package.metadata.deb] lists. Prints the package's path on the last line.
# Needs cargo-deb (`cargo install --locked cargo-deb`; scripts/test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deb --version >/dev/null 2>&1; then
    echo "package.sh: cargo-deb is missing; install it with: cargo install --locked cargo-deb" >&2
    exit 2
fi
# One release build for both: xtask links the same hostperf library the binary does.
cargo build --release --locked --quiet -p hostperf -p xtask
cargo run --release --locked --quiet -p xtask -- assets target/assets >&2
# --no-build: cargo-deb packs the binary built above instead of building again.
deb=$(cargo deb --no-build --locked --quiet --output target/debian/ "$@" | tail -n 1)
echo "$deb"
