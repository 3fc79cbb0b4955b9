"""Prove the shipped exercises sound through the real grader (grading.grader.grade).

The rules are courses.soundness.check_exercise, the same `check_lessons` and the dashboard's
Validate apply; only the sandbox differs: the grading tests' stand-in (tests/grading/
fakepool.py: a warm process that forks one child per run, no isolation) by default, or the
real one with CONTENT_SANDBOX=real (needs what the sandbox needs: see docs/sandbox.md).
There is no comparator here: every value is judged by the grader.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "grading"))

from fakepool import FakePool

from courses.soundness import Soundness, check_exercise
from grading import grader
from grading.pool import Pool
from grading.spec import ExerciseSpec


@contextmanager
def content_pool() -> Iterator[Pool]:
    """The stand-in sandbox, or the real one if CONTENT_SANDBOX=real."""
    if os.environ.get("CONTENT_SANDBOX") == "real":
        from sandbox import get_pool

        yield get_pool()
        return
    pool = FakePool()
    try:
        yield pool
    finally:
        pool.close()


def soundness(specs: Iterable[ExerciseSpec], pool: Pool) -> dict[str, Soundness]:
    """check_exercise for every spec, grading through `pool`; a GPU exercise is checked
    only where torch sees a GPU."""
    import torch

    gpu = torch.cuda.is_available()

    def execute(spec: ExerciseSpec, code: str) -> dict[str, Any]:
        return grader.grade(spec, code, pool=pool).to_dict()

    def run(spec: ExerciseSpec, code: str) -> dict[str, Any]:
        return grader.run_cell(spec, code, pool=pool).to_dict()

    return {spec.slug: check_exercise(spec, execute, gpu_available=gpu, run=run)
            for spec in specs}
