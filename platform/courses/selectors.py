"""Reads for the course pages."""

from __future__ import annotations

from typing import Any

from django.db.models import Max

from courses.models import Exercise, Lesson
from submissions.models import Submission


def best_scores(user: Any, exercises: list[Exercise]) -> dict[int, float]:
    """Best graded score per exercise id for this user."""
    rows = (
        Submission.objects.filter(
            user=user, exercise__in=exercises, kind=Submission.Kind.SUBMIT,
            status=Submission.Status.GRADED,
        )
        .values("exercise_id")
        .annotate(best=Max("score"))
    )
    return {r["exercise_id"]: r["best"] or 0.0 for r in rows}


def passed_exercise_ids(user: Any) -> set[int]:
    return set(
        Submission.objects.filter(user=user, kind=Submission.Kind.SUBMIT, outcome="passed")
        .values_list("exercise_id", flat=True)
        .distinct()
    )


def lessons_with_progress(user: Any) -> list[dict[str, Any]]:
    passed = passed_exercise_ids(user)
    result = []
    for lesson in Lesson.objects.prefetch_related("exercises"):
        ids = [e.id for e in lesson.exercises.all()]
        done = sum(1 for i in ids if i in passed)
        result.append({"lesson": lesson, "total": len(ids), "done": done})
    return result


def attempts_by_exercise(
    user: Any, exercises: list[Exercise], per_exercise: int = 20
) -> dict[int, list[dict[str, Any]]]:
    """The user's graded-or-pending Submit attempts per exercise id, newest first, with code
    (their own code only: this feeds the history list and its "restore" buttons)."""
    rows = (
        Submission.objects.filter(user=user, exercise__in=exercises, kind=Submission.Kind.SUBMIT)
        .order_by("-created_at", "-id")
        .values("id", "exercise_id", "status", "outcome", "score", "max_score", "created_at",
                "code")
    )
    result: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        bucket = result.setdefault(row["exercise_id"], [])
        if len(bucket) < per_exercise:
            bucket.append({
                "id": row["id"], "status": row["status"], "outcome": row["outcome"],
                "score": row["score"], "max_score": row["max_score"],
                "created_at": row["created_at"].isoformat(), "code": row["code"],
            })
    return result
