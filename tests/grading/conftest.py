"""Fixtures for the grading tests: one warm fake pool per session, spec helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakepool import FakePool

from grading import grader
from grading.spec import CheckSpec, ExerciseSpec


@pytest.fixture(scope="session")
def pool() -> Iterator[FakePool]:
    p = FakePool()
    yield p
    p.close()


@pytest.fixture(autouse=True)
def _fresh_reference_cache() -> Iterator[None]:
    grader.clear_reference_cache()
    yield


def make_spec(setup: str, solution: str, *checks: CheckSpec, **kw) -> ExerciseSpec:
    return ExerciseSpec(
        slug=kw.pop("slug", "test-exercise"),
        lesson="test",
        setup=setup,
        solution=solution,
        starter="",
        checks=tuple(checks),
        **kw,
    )
