#!/usr/bin/env bash
# What the real-interface drivers, their tests, the PTF suite and bench/kernel_vs_kvick.py need on
# a fresh Debian machine (run as root): iproute2/ethtool/ping for the veth test bed, libxdp and
# libbpf headers for the AF_XDP driver, trafgen (netsniff-ng) as the benchmark's sender, ptf.
# Run it before tools/install.sh, whose build needs the libxdp headers. Safe to re-run.
set -euo pipefail
python="${PYTHON:-python3}"

if [[ "$(id -u)" != 0 ]]; then
    echo "setup_net: needs root (apt, netns, veth)" >&2
    exit 1
fi
apt-get -o DPkg::Lock::Timeout=120 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
    iproute2 ethtool iputils-ping pkg-config libxdp-dev libbpf-dev netsniff-ng >/dev/null
"$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "ptf==0.10.0" "matplotlib>=3.6"
echo "setup_net: veth test bed tools, libxdp/libbpf, trafgen and ptf installed"
