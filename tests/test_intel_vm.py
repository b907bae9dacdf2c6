"""Boot one QEMU guest with four emulated Intel 82576 NICs (two wires) and run the driver's
in-VM suite (tests/vm/guest_intel.py): link, send/receive with bytes checked, ring wrap-around,
RSS, RX ring full, stop/restart, kvick routing tutorial_basic's traffic from one wire to the
other packet by packet (pagemap and VFIO), the same on two workers with each port split into
an RSS queue and a TX queue per worker, refusals, VFIO through the virtual IOMMU, device
removal.

`pytest -m vm` runs just this. Needs root, QEMU >= 8 and a guest kernel (tools/setup_vm.sh);
without them the test is skipped with the reason, unless KVICK_REQUIRE_VM=1 (CI), where it fails.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from target.rib import shared_data_dir

REPO = Path(__file__).resolve().parent.parent
RUNNER = REPO / "tests" / "vm" / "run_vm.sh"


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 not installed (run tools/setup_vm.sh)"
    if not list(Path("/boot").glob("vmlinuz-*")):
        return "no guest kernel in /boot (run tools/setup_vm.sh)"
    if shutil.which("busybox") is None:
        return "busybox not installed (run tools/setup_vm.sh)"
    return None


@pytest.mark.vm
@pytest.mark.root
def test_intel_driver_in_vm():
    reason = _missing()
    if reason:
        if os.environ.get("KVICK_REQUIRE_VM") == "1":
            pytest.fail(f"VM suite required but cannot run: {reason}")
        pytest.skip(reason)
    # The guest sees the host's file system: the shared data is where the host finds it.
    command = (f"cd {REPO} && KVICK_SHARED={shared_data_dir()} "
               f"PYTHONDONTWRITEBYTECODE=1 {sys.executable} -m pytest "
               f"-p no:cacheprovider --color=no -q -rA tests/vm/guest_intel.py 2>&1")
    proc = subprocess.run(["bash", str(RUNNER), command], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "VM_TIMEOUT": "540"})
    tail = "\n".join(proc.stdout.splitlines()[-60:])
    assert proc.returncode == 0, (f"in-VM suite failed (exit {proc.returncode}):\n{tail}\n"
                                  f"{proc.stderr[-2000:]}")
    assert " passed" in tail and "failed" not in tail, tail
