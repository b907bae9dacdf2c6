"""Helpers shared by the P4Runtime tests: the corpus programs and their P4Info.

Each loader skips the calling test when the shared corpus is missing (see shared_data.py).
"""

from __future__ import annotations

import json

from google.protobuf import text_format
from shared_data import CORPUS, corpus_params, require

from runtime_server.proto import p4info_pb2

__all__ = ["CORPUS", "corpus_programs", "load_p4info", "load_json", "json_bytes"]


def corpus_programs() -> list:
    """Every corpus program with a BMv2 JSON, as test parameters (one skipped one without data)."""
    return corpus_params(
        lambda: sorted(p.name for p in CORPUS.iterdir() if (p / f"{p.name}.json").exists()))


def load_p4info(name: str) -> p4info_pb2.P4Info:
    p4info = p4info_pb2.P4Info()
    text_format.Parse(require(CORPUS / name / f"{name}.p4info.txtpb").read_text(), p4info)
    return p4info


def load_json(name: str) -> dict:
    return json.loads(require(CORPUS / name / f"{name}.json").read_text())


def json_bytes(name: str) -> bytes:
    return require(CORPUS / name / f"{name}.json").read_bytes()
