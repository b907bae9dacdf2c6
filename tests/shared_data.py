"""Where the tests find the project's shared data: the STF corpus and the route tables.

The data lives beside the checkout as ../shared, or wherever $KVICK_SHARED points
($KVICK_CORPUS overrides the corpus alone). A clone without it still runs every other test:
what needs the data is skipped with a reason naming the missing path and how to get it, and
CI (KVICK_REQUIRE_ALL=1, see conftest.py) turns such a skip into a failure. Nothing here reads
the data at import time, so a missing folder never breaks collection.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from target.rib import shared_data_dir

SHARED = shared_data_dir()
CORPUS = Path(os.environ.get("KVICK_CORPUS") or SHARED / "corpus")
RIB = SHARED / "data" / "rib"
HOW_TO_GET = "put the project's shared data beside the checkout as ../shared, or set KVICK_SHARED=DIR"


def missing(path: Path) -> str:
    """The skip reason for a missing piece of shared data."""
    return f"shared test data missing: {path} ({HOW_TO_GET})"


def needs(path: Path) -> pytest.MarkDecorator:
    """Skip the marked test (or module, as `pytestmark`) when `path` does not exist."""
    return pytest.mark.skipif(not path.exists(), reason=missing(path))


needs_corpus = needs(CORPUS)


def program(name: str) -> str:
    """A corpus program's path without suffix: add ".json" or ".p4info.txtpb"."""
    return str(CORPUS / name / name)


def require(path: Path) -> Path:
    """`path`, or skip the running test when it is missing (for use inside tests and fixtures)."""
    if not path.exists():
        pytest.skip(missing(path))
    return path


def corpus_params(names: Callable[[], list]) -> list:
    """Parameters from `names()` over the corpus, or one skipped parameter saying the corpus is
    missing (an empty parameter list would skip without saying why)."""
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=missing(CORPUS)), id="no-corpus")]
    return names()
