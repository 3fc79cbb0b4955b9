"""Prove an exercise sound: the reference passes, the starter does not, runs agree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grading.spec import ExerciseSpec

Execute = Callable[[ExerciseSpec, str], dict[str, Any]]  # (spec, code) -> verdict dict


@dataclass
class Soundness:
    slug: str
    ok: bool = True
    skipped: str = ""  # why it was not checked here (e.g. needs a GPU)
    problems: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    def fail(self, message: str) -> None:
        self.ok = False
        self.problems.append(message)

    def line(self) -> str:
        if self.skipped:
            return f"SKIP  {self.slug}: {self.skipped}"
        if self.ok:
            return f"ok    {self.slug} ({self.duration_ms:.0f} ms)"
        return f"FAIL  {self.slug}: " + "; ".join(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "ok": self.ok, "skipped": self.skipped,
                "problems": self.problems, "line": self.line()}


def _summary(verdict: dict[str, Any]) -> tuple[Any, ...]:
    checks = tuple((c.get("name"), c.get("passed"), c.get("points")) for c in verdict["checks"])
    return verdict["outcome"], verdict.get("score"), checks


def _why(verdict: dict[str, Any]) -> str:
    if verdict.get("error"):
        return str(verdict["error"].get("message", ""))[:300]
    bad = [c for c in verdict.get("checks", []) if not c.get("passed")]
    return "; ".join(f"{c.get('name')}: {c.get('message', '')}"[:200] for c in bad[:3])


def check_exercise(spec: ExerciseSpec, execute: Execute, *, gpu_available: bool) -> Soundness:
    result = Soundness(spec.slug)
    if spec.queue == "gpu" and not gpu_available:
        result.skipped = "needs the gpu queue; no GPU on this machine (proven where one is)"
        return result
    first = execute(spec, spec.solution)
    result.duration_ms = float(first.get("duration_ms") or 0)
    if first["outcome"] != "passed" or first.get("score") != spec.max_score:
        result.fail(
            f"the reference solution got {first['outcome']} "
            f"{first.get('score')}/{spec.max_score}: {_why(first)}"
        )
    starter = execute(spec, spec.starter)
    if starter["outcome"] == "passed":
        result.fail("the starter code passes; it must not")
    second = execute(spec, spec.solution)
    if _summary(first) != _summary(second):
        result.fail("two runs of the reference solution disagree (is something unseeded?)")
    return result
