"""Run code through the sandbox and the grader: the one path the worker takes for
submissions, regrades and validations, and `manage.py grade` / `check_lessons` take.

Plain Python (no Django), so the soundness checks depend on grading, not on submissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grading import grader
from grading.pool import Pool
from grading.spec import ExerciseSpec
from sandbox import get_pool

if TYPE_CHECKING:
    from sandbox import Job, RunReport


def execute(spec: ExerciseSpec, code: str, *, kind: str = "submit",
            author: bool = False, usage: dict[str, float] | None = None) -> dict[str, Any]:
    """The verdict JSON (`kind="submit"`) or the Run view (`kind="run"`) of `code`.

    `author=True` for code an instructor wrote (Validate, check_lessons): it runs in the
    reference pool's warm parents, never in the ones that serve students.

    `usage`, if given, receives the sandbox time of this code's own runs (`wall_ms`,
    `cpu_ms`, as the pool measured them): the student's budget is charged with it."""
    pool: Pool = get_pool()
    if author:
        pool = get_pool().reference_pool()
    if usage is not None:
        pool = _Metered(pool, usage)
    if kind == "run":
        return grader.run_cell(spec, code, pool=pool).to_dict()
    return grader.grade(spec, code, pool=pool).to_dict()


class _Metered:
    """The pool, adding up the time of each run it does. Reference runs go through
    `reference_pool()` (handed through untouched), so only the code's own runs count."""

    def __init__(self, pool: Pool, usage: dict[str, float]) -> None:
        self._pool, self._usage = pool, usage

    def run(self, job: Job) -> RunReport:
        report = self._pool.run(job)
        for key, value in (("wall_ms", report.duration_ms), ("cpu_ms", report.cpu_ms)):
            if isinstance(value, int | float):
                self._usage[key] = self._usage.get(key, 0.0) + float(value)
        return report

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)
