"""Controls passed to other controls' constructors (p4-guide's instantiation/extern-ref-4.p4,
copied unchanged into tests/p4/p4guide/, Apache-2.0 header kept): leaf_ctrl's instance my_leaf
goes to ctrl1 and ctrl2, and those to ctrl3, which applies them; ctrl2 applies it twice. The one
counter ingressImpl.my_leaf.c counts every apply, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

from target import Switch
from target.compiler.driver import compile_file, compile_text
from target.compiler.errors import CompileError

P4GUIDE = Path(__file__).parent / "p4" / "p4guide"


@pytest.mark.parametrize("engine", ["off", "wait"])
def test_control_instances_as_constructor_arguments(engine: str) -> None:
    document, p4info = compile_file(P4GUIDE / "extern-ref-4.p4")
    assert [c["name"] for c in document["counter_arrays"]] == ["ingressImpl.my_leaf.c"]
    sw = Switch(native=engine)
    sw.load(document, p4info=p4info)
    if engine == "wait":
        assert sw.native_ready()
    frame = bytes([0, 0, 0, 0, 0, 5]) + bytes(6) + b"\x08\x00" + bytes(46)
    assert len(sw.process([(1, frame), (1, frame)])) == 2
    # ctrl3 applies ctrl1 with idx + 10 (ctrl1: + 0) and ctrl2 with idx + 20 (ctrl2: + 1, + 2)
    counted = {i: sw.counter_read("ingressImpl.my_leaf.c", i)[0] for i in range(256)}
    assert {i: n for i, n in counted.items() if n} == {15: 2, 26: 2, 27: 2}


def test_direct_invocation_twice_with_an_extern_instance_is_refused() -> None:
    text = (P4GUIDE / "extern-ref-4.p4").read_text().replace(
        "        ctrl3_inst.apply((bit<32>) hdr.ethernet.dstAddr[7:0]);",
        "        leaf_ctrl.apply(1);\n        leaf_ctrl.apply(2);")
    with pytest.raises(CompileError) as err:
        compile_text(text, "twice.p4")
    first = str(err.value).splitlines()[0]
    assert first.startswith("twice.p4:") and "invoked directly more than once" in first, str(err.value)
