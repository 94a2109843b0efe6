#!/usr/bin/env bash
# Runs the whole test suite of the switch on a Debian machine as root:
# installs the real peers the interoperability tests talk to, then builds the
# workspace once and runs every test (unit, property, golden-vector, fuzz
# corpus and end-to-end). Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ovs-ofctl >/dev/null 2>&1 || need_apt+=(openvswitch-common)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "installing: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The interoperability tests refuse to skip when this is set.
export SWITCH_REQUIRE_PEERS=1

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
    cargo test --workspace --doc
else
    cargo test --workspace --no-fail-fast
fi
