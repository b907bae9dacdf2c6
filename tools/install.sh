#!/usr/bin/env bash
# Install kvick on a fresh Debian or Ubuntu machine and build it in place, safe to re-run:
#  1. as root with apt: the system packages (C toolchain, libxdp/libbpf headers for AF_XDP,
#     iproute2/ethtool/ping for the veth test bed, trafgen for bench/kernel_vs_kvick.py,
#     openssl for the TLS tests, mininet and net-tools for the P4 tutorials' runner,
#     libnghttp2-dev for the native gRPC front end, socat for the collector of finsy's INT
#     example and its traffic);
#  2. kvick into $PYTHON (default python3), editable, with the P4Runtime/gNMI server's
#     dependencies and the test and benchmark extras; the build compiles the Cython modules and
#     generates the P4Runtime/gNMI message classes (setup.py).
# Quiet: the build's output goes to build/install.log and is shown only when something fails.
# Without root or apt the system packages must already be there; a missing header is named.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
log="$repo/build/install.log"
mkdir -p "$repo/build"
: > "$log"

SYSTEM_PACKAGES=(build-essential pkg-config python3-dev python3-pip python3-venv
                 libxdp-dev libbpf-dev iproute2 ethtool iputils-ping netsniff-ng tcpdump
                 openssl mininet net-tools libnghttp2-dev socat)

fail() {
    echo "install: $1" >&2
    if [[ -s "$log" ]]; then
        echo "--- last lines of $log:" >&2
        tail -n 40 "$log" >&2
    fi
    exit 1
}

if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq >>"$log" 2>&1 || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        "${SYSTEM_PACKAGES[@]}" >>"$log" 2>&1 || fail "apt-get install ${SYSTEM_PACKAGES[*]} failed"
fi

# What the C build needs, checked before a long build fails on it.
for need in "cc:gcc or cc (apt install build-essential)" \
            "header:xdp/xsk.h:libxdp-dev" "header:bpf/libbpf.h:libbpf-dev" \
            "header:nghttp2/nghttp2.h:libnghttp2-dev"; do
    case "$need" in
        cc:*) command -v cc >/dev/null || fail "no C compiler: install ${need#cc:}" ;;
        header:*)
            IFS=: read -r _ header package <<<"$need"
            echo "#include <$header>" | cc -E -x c - >/dev/null 2>&1 \
                || fail "the header <$header> is missing: install $package (apt install $package)" ;;
    esac
done
"$python" -c "import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
    || fail "Python.h is missing for $python: install python3-dev"

# Debian's own python3 refuses pip installs outside a venv (PEP 668); this installer is the
# machine's setup, so it installs into the Python it was given, as asked.
export PIP_BREAK_SYSTEM_PACKAGES=1
pip=("$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore)
cd "$repo"
# The build's own requirements (pyproject.toml [build-system]), so that the editable install
# below builds in this environment and `setup.py build_ext --inplace` works afterwards.
mapfile -t build_requires < <("$python" -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))")
"${pip[@]}" "${build_requires[@]}" >>"$log" 2>&1 || fail "installing the build requirements failed"
# One build: the editable install compiles the extensions (in parallel) and puts them beside
# their sources, generates the message classes and installs the `kvick` command.
"${pip[@]}" --no-build-isolation -e ".[test,bench]" >>"$log" 2>&1 || fail "building kvick failed"
"$python" -c "import target.loop, runtime_server.server" >>"$log" 2>&1 \
    || fail "kvick does not import after the build"
echo "install: kvick built in $repo (the kvick command: $(command -v kvick || echo "$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/kvick"))"
