#!/usr/bin/env bash
# The P4Runtime/gNMI client environments the tests drive kvick with, from PyPI only; safe to
# re-run. (kvick's own server dependencies and generated message classes come with kvick's
# install: tools/install.sh or `pip install .`.) Each client pins protobuf below kvick's, so
# each lives in its own venv and talks to kvick over gRPC, as real controllers do:
#
# 1. p4runtime-shell (it pins protobuf<3.21 and p4runtime 1.4.1).  Tests find it through
#    KVICK_P4RT_SHELL_PYTHON or at $KVICK_P4RT_SHELL_VENV/bin/python.
# 2. finsy (the tests run its example controllers; it pins protobuf<7).  Tests find it through
#    KVICK_FINSY_PYTHON or at $KVICK_FINSY_VENV/bin/python.
#
# Environment: PYTHON (default: python3), KVICK_P4RT_SHELL_VENV (default: /opt/kvick-p4rt-shell),
# KVICK_FINSY_VENV (default: /opt/kvick-finsy).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
venv="${KVICK_P4RT_SHELL_VENV:-/opt/kvick-p4rt-shell}"
finsy_venv="${KVICK_FINSY_VENV:-/opt/kvick-finsy}"

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
echo "setup_p4rt_env: client venvs in $venv, $finsy_venv"
