"""A commit's replay into the other copy that runs out of memory leaves nothing behind: the
write that needed the replay is refused, and once memory allows the copies become equal (the
operations not replayed are kept, not dropped). Run in a child process under an address-space
limit (RLIMIT_AS) just big enough for one copy's growth, so the allocation really fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from shared_data import CORPUS, needs_corpus

pytestmark = needs_corpus

ROOT = Path(__file__).resolve().parents[1]
BASIC = CORPUS / "tutorial_basic" / "tutorial_basic.json"
BASIC_P4INFO = CORPUS / "tutorial_basic" / "tutorial_basic.p4info.txtpb"

CHILD = r'''
import json, resource, sys
from pathlib import Path
from target import Switch

TABLE, FORWARD, IDS = "MyIngress.ipv4_lpm", "MyIngress.ipv4_forward", 1 << 22
prog = json.loads(Path(sys.argv[1]).read_text())
for p in prog["pipelines"]:
    for t in p["tables"]:
        if t["name"] == TABLE:
            t["max_size"] = IDS
sw = Switch(pool_size=256, buf_size=2304)
sw.load(prog, sys.argv[2])
pl, ti = sw.pipeline, sw._table(TABLE).index
aid = sw.table_action_ref(TABLE, FORWARD)
pl.entry_set(ti, 0, aid, [1, 1])
pl.settle()
vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:"))
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
# The last id grows one copy's entry arrays to 4 M ids (2 x 16 MiB): room for one copy only.
resource.setrlimit(resource.RLIMIT_AS, (vm * 1024 + (48 << 20), hard))
pl.entry_set(ti, IDS - 1, aid, [7, 7])
assert pl.entry_get(ti, IDS - 1) == (aid, [7, 7])
try:
    pl.settle()                 # the replay into the other copy
    print("the replay found memory: the limit did not bite")
    sys.exit(2)
except MemoryError:
    pass
assert pl.entry_get(ti, IDS - 1) == (aid, [7, 7]), "the live copy changed"
resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
pl.entry_set(ti, 1, aid, [2, 2])    # a section on the other copy, published
for eid, want in ((IDS - 1, [7, 7]), (0, [1, 1]), (1, [2, 2])):
    got = pl.entry_get(ti, eid)
    assert got == (aid, want), f"entry {eid}: {got} after the copies swapped"
pl.entry_set(ti, 2, aid, [3, 3])    # and back to the first copy
assert [pl.entry_get(ti, e)[1] for e in (IDS - 1, 0, 1, 2)] == [[7, 7], [1, 1], [2, 2], [3, 3]]
print("ok")
'''


def test_a_replay_out_of_memory_is_retried_not_lost() -> None:
    r = subprocess.run([sys.executable, "-c", CHILD, str(BASIC), str(BASIC_P4INFO)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout + r.stderr
