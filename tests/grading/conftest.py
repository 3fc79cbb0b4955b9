"""Fixtures for the grading tests: one warm fake pool per session, spec helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakepool import FakePool, make_spec  # noqa: F401 - re-exported for old imports

from grading import grader


@pytest.fixture(scope="session")
def pool() -> Iterator[FakePool]:
    p = FakePool()
    yield p
    p.close()


@pytest.fixture(autouse=True)
def _fresh_reference_cache() -> Iterator[None]:
    grader.clear_reference_cache()
    yield
