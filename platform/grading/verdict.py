"""The verdict JSON: its one builder, for graded runs and for code that never ran.

Plain Python (no torch, no Django): the web process builds the verdicts of submissions that
never reach a worker (rejected, superseded, no worker, the platform's fault) with the same
`Verdict.to_dict` the grader uses, and `stored_json` wraps a stored verdict in the fields the
database adds. The keys are the fixed contract of docs/contract.md ("Verdict JSON").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grading import bounds


@dataclass
class CheckResult:
    name: str
    passed: bool
    points: float
    max_points: float
    diagnostic: str | None = None
    messages: dict[str, str] = field(default_factory=dict)
    hidden: bool = False
    # Notebook-style display of the reference's and the student's value, side by side on
    # the page. Only for failed visible checks (never hidden ones; assert checks: actual
    # only); None = not shown, and the key is left out of the JSON.
    expected: str | None = None
    actual: str | None = None
    # False when the attempt's outcome does not count (grading.scoring, the score rule).
    counted: bool = True
    # The comparator's facts (shapes…), for notes only the code can add
    # (``diagnostics.annotate``); never part of the verdict JSON.
    facts: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "passed": self.passed,
            "points": self.points,
            "max_points": self.max_points,
            "diagnostic": self.diagnostic,
            "message": self.messages.get("en", ""),
            "messages": self.messages,
            "hidden": self.hidden,
            "counted": self.counted,
        }
        if not self.hidden:  # belt and braces: a hidden check never carries values
            if self.expected is not None:
                data["expected"] = self.expected
            if self.actual is not None:
                data["actual"] = self.actual
        return data


@dataclass
class Verdict:
    exercise: str
    outcome: str
    score: float = 0.0
    max_score: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    stdout: str = ""
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    queue: str = "cpu"
    output_truncated: bool = False
    message: dict[str, str] | None = None  # outcome-level note (limits, rejections)

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def diagnostics(self) -> list[str]:
        codes = [self.error["diagnostic"]] if self.error and self.error.get("diagnostic") else []
        codes += [c.diagnostic for c in self.checks if c.diagnostic and c.diagnostic not in codes]
        return list(dict.fromkeys(codes))

    def to_dict(self) -> dict[str, Any]:
        """The verdict JSON of docs/contract.md, minus ``id``/``status`` (see `stored_json`).

        At most ``bounds.VERDICT_MAX_BYTES`` serialized: larger verdicts (only a forged
        export or a huge stdout makes one) have their largest texts cut, visibly."""
        return bounds.cap_verdict(
            {
                "exercise": self.exercise,
                "outcome": self.outcome,
                "passed": self.passed,
                "score": _round(self.score),
                "max_score": _round(self.max_score),
                "checks": [c.to_dict() for c in self.checks],
                "stdout": self.stdout,
                "error": self.error,
                "queue": self.queue,
                "duration_ms": round(self.duration_ms, 1),
                # extensions
                "diagnostics": self.diagnostics,
                "output_truncated": self.output_truncated,
                "message": self.message,
            }
        )


@dataclass
class RunView:
    """What the Run button shows: output and the error, no grading."""

    exercise: str
    outcome: str  # "ok" | "error" | "timeout" | "memory_limit" | "output_limit" | "rejected" | …
    stdout: str = ""
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    output_truncated: bool = False
    names: dict[str, str] = field(default_factory=dict)  # checked name → short summary
    message: dict[str, str] | None = None
    # checked name → multi-line preview (value, shape, dtype); the page prefers it to names
    values: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return bounds.cap_verdict(
            {  # the same cap as a verdict's
                "exercise": self.exercise,
                "outcome": self.outcome,
                "stdout": self.stdout,
                "error": self.error,
                "duration_ms": round(self.duration_ms, 1),
                "output_truncated": self.output_truncated,
                "names": self.names,
                "values": self.values,
                "message": self.message,
            }
        )


def _round(x: float) -> float:
    return round(float(x), 6)


def verdict_without_run(
    outcome: str, messages: dict[str, str] | str, max_score: float, *, exercise: str = "",
    error_type: str = "", queue: str = "cpu",
) -> dict[str, Any]:
    """The verdict of code that was not run (rejected, superseded, no worker, the
    platform's fault): no checks, score 0, the reason as the error (shown once: no
    outcome-level `message` beside it)."""
    if isinstance(messages, str):
        messages = {"en": messages}
    text = messages.get("en", "")
    return Verdict(
        exercise=exercise, outcome=outcome, max_score=max_score, queue=queue,
        error={"type": error_type or outcome, "message": text, "line": None,
               "diagnostic": None, "messages": dict(messages)},
    ).to_dict()


def stored_json(verdict: dict[str, Any] | None, *, graded: bool, **row: Any) -> dict[str, Any]:
    """The verdict JSON of a stored submission: the database's fields (`id`, `exercise`,
    `kind`, `status`, `queue`, `version`, `created_at`, `outcome`) around the stored
    verdict; the row's own values win. Before grading, only the row's fields (and no
    `outcome`)."""
    if not graded:
        row.pop("outcome", None)
        return row
    return {**row, **(verdict or {}), **{k: v for k, v in row.items()
                                        if k in _ROW_WINS}}


# What the row knows better than the stored verdict (a verdict stored by an older grader,
# or by a regrade, may say otherwise).
_ROW_WINS = frozenset({"id", "exercise", "status", "outcome", "queue"})
