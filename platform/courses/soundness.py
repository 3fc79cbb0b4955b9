"""Prove an exercise sound: the reference passes, the starter does not, runs agree.

The one set of rules: `manage.py check_lessons`, the dashboard's Validate (a worker runs it
for a draft) and the content tests (tests/courses) all call `check_exercise`, each with its
own way to run code (`execute`: the sandbox and grader, or the tests' stand-in sandbox).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from grading.spec import ExerciseSpec

Execute = Callable[[ExerciseSpec, str], dict[str, Any]]  # (spec, code) -> verdict dict
RUNS = ("reference", "reference_again", "starter")


@dataclass
class Soundness:
    slug: str
    ok: bool = True
    skipped: str = ""  # why it was not checked here (e.g. needs a GPU)
    problems: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    # A short summary of each run (RUNS), for the Validate report.
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

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
                "problems": self.problems, "line": self.line(), **self.runs}


def summary(verdict: dict[str, Any]) -> dict[str, Any]:
    """What a report keeps of a run: outcome, score and each check's result (no values)."""
    error = verdict.get("error") if isinstance(verdict.get("error"), dict) else None
    return {
        "outcome": verdict.get("outcome"),
        "score": verdict.get("score"),
        "max_score": verdict.get("max_score"),
        "checks": [
            {k: c.get(k) for k in ("name", "passed", "points", "max_points", "diagnostic",
                                   "message")}
            for c in verdict.get("checks") or [] if isinstance(c, dict)
        ],
        "error": error.get("message") if error else None,
    }


def _agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def key(s: dict[str, Any]) -> tuple[Any, ...]:
        checks = tuple((c.get("name"), c.get("passed"), c.get("points")) for c in s["checks"])
        return s["outcome"], s["score"], checks

    return key(a) == key(b)


def _why(verdict: dict[str, Any]) -> str:
    """The reason a run did not pass: its error, its outcome-level note, or failing checks."""
    if isinstance(verdict.get("error"), dict) and verdict["error"].get("message"):
        return str(verdict["error"]["message"])[:300]
    note = verdict.get("message")
    if isinstance(note, dict) and note.get("en"):
        return str(note["en"])[:300]
    bad = [c for c in verdict.get("checks") or [] if isinstance(c, dict) and not c.get("passed")]
    why = "; ".join(f"{c.get('name')}: {c.get('message') or c.get('diagnostic') or ''}"[:200]
                    for c in bad[:3])
    return why or str(verdict.get("outcome"))


def check_exercise(spec: ExerciseSpec, execute: Execute, *, gpu_available: bool,
                   run: Execute | None = None) -> Soundness:
    """Run the reference twice and the starter once through `execute`; the rules:
    the reference passes with the full score, the starter does not pass, and the two
    reference runs agree (outcome, score and every check).

    An exercise with `variants: N` is proven variant by variant (every rule, for each of
    `spec.for_variant(0..N-1)`); with `run` (code → the Run view: `kind="run"`), the
    reference's checked values must also differ between some two variants, or the
    variants would give every student the same numbers."""
    result = Soundness(spec.slug)
    if spec.queue == "gpu" and not gpu_available:
        result.skipped = "needs the gpu queue; no GPU on this machine (proven where one is)"
        return result
    if spec.variants < 2:
        return _check_one(spec, execute, result)
    seen: dict[str, int] = {}
    per_variant: list[dict[str, Any]] = []
    for index in range(spec.variants):
        one = _check_one(spec.for_variant(index), execute, Soundness(spec.slug))
        result.duration_ms += one.duration_ms
        per_variant.append(one.runs)
        if index == 0:  # the report's reference/starter keys are variant 0's runs
            result.runs.update(one.runs)
        for problem in one.problems:
            result.fail(f"variant {index}: {problem}")
        if run is not None:
            values = run(spec.for_variant(index), spec.solution).get("values") or {}
            seen.setdefault(repr(sorted(values.items())), index)
    result.runs["variants"] = {"count": spec.variants, "runs": per_variant}
    if run is not None and len(seen) < 2:
        result.fail(f"all {spec.variants} variants give the reference the same values: does "
                    "the setup read VARIANT (or draw from the seeded generator)?")
    return result


def _check_one(spec: ExerciseSpec, execute: Execute, result: Soundness) -> Soundness:
    first = execute(spec, spec.solution)
    second = execute(spec, spec.solution)
    starter = execute(spec, spec.starter)
    result.duration_ms = float(first.get("duration_ms") or 0)
    result.runs = {name: summary(v) for name, v in zip(RUNS, (first, second, starter),
                                                        strict=True)}
    score = first.get("score") or 0
    if first.get("outcome") != "passed" or score < spec.max_score:
        result.fail(
            f"the reference solution got {first.get('outcome')} "
            f"{first.get('score')}/{spec.max_score}: {_why(first)}"
        )
    if starter.get("outcome") == "passed":
        result.fail("the starter code already passes: the checks test nothing it lacks")
    if not _agree(result.runs["reference"], result.runs["reference_again"]):
        result.fail("two runs of the reference solution disagree (is something unseeded?)")
    return result
