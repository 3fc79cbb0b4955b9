"""Run one submission's code through the sandbox and grader (shared by the task and `grade`)."""

from __future__ import annotations

from typing import Any

from grading import grader
from grading.spec import ExerciseSpec
from sandbox import get_pool


def execute(spec: ExerciseSpec, code: str, *, kind: str = "submit",
            author: bool = False) -> dict[str, Any]:
    """`author=True` for code an instructor wrote (Validate, check_lessons): it runs in the
    reference pool's warm parents, never in the ones that serve students."""
    pool = get_pool()
    if author:
        pool = pool.reference_pool()
    if kind == "run":
        return grader.run_cell(spec, code, pool=pool).to_dict()
    return grader.grade(spec, code, pool=pool).to_dict()
