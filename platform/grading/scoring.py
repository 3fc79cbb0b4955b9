"""The one score rule: points count only when the cell ran to the end.

An attempt scores the points of its passed checks only when its outcome is ``passed`` or
``failed``. Any other outcome (``error``, ``timeout``, ``memory_limit``, ``output_limit``,
``rejected``, ``queue_unavailable``, ``internal_error``, and any outcome added later)
scores 0 and is never passed. Its checks are still shown, so the student sees what was
already right, but each carries ``points: 0`` and ``counted: false``, and the verdict's
``message`` says why in one sentence. docs/grading.md, "The score rule".

Plain Python, no torch and no Django: the grader applies it to every new verdict
(``withhold``), the web side to stored rows (``counted_score``) and to verdicts stored
before the rule (``apply``), so that a verdict graded under the old rule never counts a
crashed run as full marks anywhere.
"""

from __future__ import annotations

from typing import Any

from grading.messages import render

# The outcomes whose checks count: the cell ran to the end.
COUNTED_OUTCOMES = frozenset({"passed", "failed"})


def counts(outcome: str | None) -> bool:
    """Whether an attempt with this outcome scores its checks' points."""
    return outcome in COUNTED_OUTCOMES


def counted_score(outcome: str | None, score: float | None) -> float | None:
    """The score an attempt is worth under the rule (None stays None: not graded yet)."""
    if score is None:
        return None
    return float(score) if counts(outcome) else 0.0


def note(passed: int, total: int) -> dict[str, str]:
    """The sentence that tells the student the rule, in en and zh-hans."""
    return render("not-counted", {"passed": passed, "total": total})


def _with_note(message: Any, passed: int, total: int) -> dict[str, str]:
    extra = note(passed, total)
    if not isinstance(message, dict) or not message:
        return extra
    out: dict[str, str] = {}
    for lang, text in extra.items():
        base = str(message.get(lang) or message.get("en") or "")
        out[lang] = text if text in base else f"{base} {text}".strip()
    return out


def withhold(verdict: Any) -> None:
    """Set ``verdict.score`` (a ``grader.Verdict``) by the rule: the sum of its checks'
    points if the outcome counts, else 0 with every check marked as not counted."""
    if counts(verdict.outcome):
        verdict.score = sum(c.points for c in verdict.checks)
        return
    right = sum(1 for c in verdict.checks if c.passed)
    for check in verdict.checks:
        check.points = 0.0
        check.counted = False
    verdict.score = 0.0
    if right:  # only where points were held back: otherwise 0 needs no explaining
        verdict.message = _with_note(verdict.message, right, len(verdict.checks))


def apply(verdict: dict[str, Any]) -> dict[str, Any]:
    """A stored verdict JSON with the rule applied (a copy; the same dict if nothing changes).

    For verdicts graded before the rule, or built elsewhere; a verdict ``withhold``
    already treated comes back equal."""
    if not isinstance(verdict, dict) or "outcome" not in verdict or counts(verdict["outcome"]):
        return verdict
    raw = verdict.get("checks")
    checks = [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []
    already = verdict.get("passed") is False and not verdict.get("score") and all(
        c.get("counted") is False and not c.get("points") for c in checks
    )
    if already:
        return verdict
    out = dict(verdict)
    out["passed"] = False
    if out.get("score") is not None:
        out["score"] = 0.0
    right = sum(1 for c in checks if c.get("passed"))
    if isinstance(raw, list):
        out["checks"] = [
            {**c, "points": 0.0, "counted": False} if isinstance(c, dict) else c for c in raw
        ]
    if right:
        out["message"] = _with_note(out.get("message"), right, len(checks))
    return out
