#!/usr/bin/env bash
# Runs the whole test suite of the switch on a Debian machine as root:
# installs the real peers the interoperability tests talk to, then builds the
# workspace once and runs every test (unit, property, golden-vector, fuzz
# corpus and end-to-end). Exits non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ovs-ofctl >/dev/null 2>&1 || need_apt+=(openvswitch-common)
command -v ovs-vswitchd >/dev/null 2>&1 || need_apt+=(openvswitch-switch)
command -v ping >/dev/null 2>&1 || need_apt+=(iputils-ping)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ "${#need_apt[@]}" -gt 0 ]; then
    echo "installing: ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The controllers the OpenFlow tests run against (os-ken, Faucet) live in a
# virtual environment at .venv, pinned by tests/controllers-requirements.txt;
# faucet's own metadata names an unreachable dependency, hence --no-deps.
# simple_switch_13.py ships only in the os-ken 1.4.1 wheel, which is kept in
# .venv/wheels and read by the tests.
if [ ! -x .venv/bin/osken-manager ] || [ ! -x .venv/bin/faucet ]; then
    echo "installing the test controllers into .venv"
    python3 -m venv .venv
    .venv/bin/pip install -q -r tests/controllers-requirements.txt
    .venv/bin/pip install -q --no-deps faucet==1.10.12
fi
if ! ls .venv/wheels/os_ken-1.4.1-*.whl >/dev/null 2>&1; then
    .venv/bin/pip download -q --no-deps -d .venv/wheels os-ken==1.4.1
fi

# The interoperability tests refuse to skip when this is set.
export SWITCH_REQUIRE_PEERS=1

if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --no-fail-fast
    cargo test --workspace --doc
else
    cargo test --workspace --no-fail-fast
fi
