#!/usr/bin/env bash
# Sets up both P4Runtime environments on a fresh machine, from PyPI only; safe to re-run.
#
# 1. The server's: installs runtime_server/requirements.txt into the Python that runs kvick
#    (protobuf 7 with upb + grpcio 1.85) and generates runtime_server/gen/ from the descriptors
#    in the p4runtime wheel (P4Runtime) and the finsy wheel (gNMI) (tools/gen_p4rt_stubs.py).
# 2. The test client's: p4runtime-shell in its own venv (it pins protobuf<3.21, which cannot
#    live beside the server's stubs).  Tests find it through KVICK_P4RT_SHELL_PYTHON or at
#    $KVICK_P4RT_SHELL_VENV/bin/python.
#
# 3. finsy's (the tests run its example controllers): its own venv too (protobuf<7).  Tests
#    find it through KVICK_FINSY_PYTHON or at $KVICK_FINSY_VENV/bin/python.
#
# Environment: PYTHON (default: python3), KVICK_P4RT_SHELL_VENV (default: /opt/kvick-p4rt-shell),
# KVICK_FINSY_VENV (default: /opt/kvick-finsy).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
venv="${KVICK_P4RT_SHELL_VENV:-/opt/kvick-p4rt-shell}"
finsy_venv="${KVICK_FINSY_VENV:-/opt/kvick-finsy}"

"$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    -r "$repo/runtime_server/requirements.txt"
"$python" "$repo/tools/gen_p4rt_stubs.py"

# A venv is rebuilt only when its requirements change: the stamp holds their hash.
client_venv() {  # VENV REQUIREMENTS IMPORT
    local venv="$1" requirements="$2" wanted stamp
    wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
    stamp="$venv/.kvick-requirements-sha256"
    if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$wanted" ]]; then
        "$python" -m venv --clear "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$requirements"
        echo "$wanted" > "$stamp"
    fi
    "$venv/bin/python" -c "import $3" \
        || { echo "setup_p4rt_env: $3 does not import in $venv" >&2; exit 1; }
}
client_venv "$venv" "$repo/tools/p4rt_shell_requirements.txt" p4runtime_sh.shell
# The P4 tutorials' runner and p4runtime_lib run in the p4runtime-shell venv: they import
# p4.tmp.p4config_pb2 (PI's, missing from the p4runtime wheel) and Debian's mininet.
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$site/p4/tmp"
touch "$site/p4/tmp/__init__.py"
cp "$repo/tools/p4tmp/p4config_pb2.py" "$site/p4/tmp/p4config_pb2.py"
if [[ -d /usr/lib/python3/dist-packages/mininet ]]; then
    ln -sfn /usr/lib/python3/dist-packages/mininet "$site/mininet"
fi
"$venv/bin/python" -c "import p4.tmp.p4config_pb2" \
    || { echo "setup_p4rt_env: p4.tmp does not import in $venv" >&2; exit 1; }
client_venv "$finsy_venv" "$repo/tools/finsy_requirements.txt" finsy
echo "setup_p4rt_env: server stubs in $repo/runtime_server/gen, client venvs in $venv, $finsy_venv"
