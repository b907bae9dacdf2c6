"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest
from netns import TestBed, leftovers


@pytest.fixture
def bed():  # noqa: ANN201
    """Network namespaces and veth pairs for one test; nothing may be left behind."""
    with TestBed() as b:
        yield b
    assert leftovers() == []
