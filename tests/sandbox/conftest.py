"""A real, strict sandbox pool for the tests (every layer on; we run as root here)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sbhelpers, harness_echo

from sbhelpers import HARNESS, HERE

from sandbox import SandboxPool


@pytest.fixture(scope="session")
def pool() -> Iterator[SandboxPool]:
    p = SandboxPool(harness=HARNESS, pythonpath=[str(HERE)], size=1, strict=True)
    p.wait_ready()
    yield p
    p.close()
