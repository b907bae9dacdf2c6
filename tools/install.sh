#!/usr/bin/env bash
# Install what kvick needs on a fresh Debian machine and build it in place (run as root).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"

if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    apt-get -o DPkg::Lock::Timeout=120 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
        build-essential pkg-config libxdp-dev libbpf-dev iproute2 ethtool tcpdump openssl \
        mininet net-tools >/dev/null
fi
"$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "cython>=3.0" "numpy>=1.24" "lark>=1.1" "scapy>=2.5" "pytest>=7" "ruff" "setuptools>=65" wheel
cd "$repo"
"$python" tools/write_opcodes.py
"$python" setup.py build_ext --inplace -q -j 2
"$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --no-build-isolation --no-deps -e .
echo "install: kvick built in $repo"
