"""Helpers shared by the P4Runtime tests: the corpus programs and their P4Info."""

from __future__ import annotations

import json
import os
from pathlib import Path

from google.protobuf import text_format

from runtime_server.proto import p4info_pb2

CORPUS = Path(os.environ.get("KVICK_CORPUS", Path(__file__).resolve().parents[2] / "shared" /
                             "corpus"))


def corpus_programs() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if (p / f"{p.name}.json").exists())


def load_p4info(name: str) -> p4info_pb2.P4Info:
    p4info = p4info_pb2.P4Info()
    text_format.Parse((CORPUS / name / f"{name}.p4info.txtpb").read_text(), p4info)
    return p4info


def load_json(name: str) -> dict:
    return json.loads((CORPUS / name / f"{name}.json").read_text())


def json_bytes(name: str) -> bytes:
    return (CORPUS / name / f"{name}.json").read_bytes()
