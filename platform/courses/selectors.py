"""Reads for the course pages.

Grades and progress are the effective grades of `dashboard.grades` (regrades, overrides
and the score rule applied), the same ones My grades, the gradebook and its CSV show: a
student's page never reads raw submission scores.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from courses.models import Exercise, Lesson
from dashboard.access import staffed_courses
from dashboard.grades import counts, latest_regrades, student_deadlines, student_grades
from grading.scoring import counted_score
from submissions.models import Submission


def _all_exercises() -> list[Exercise]:
    return list(Exercise.objects.filter(current_version__isnull=False)
                .select_related("current_version"))


def best_scores(user: Any, exercises: list[Exercise]) -> dict[int, float]:
    """The effective grade per exercise id for this user (exercises with a grade only)."""
    return {
        exercise_id: cell.grade
        for exercise_id, cell in student_grades(user, exercises).items()
        if cell.grade is not None
    }


def passed_exercise_ids(user: Any, exercises: list[Exercise] | None = None) -> set[int]:
    """Ids of the exercises this user has passed (by the effective grade)."""
    exercises = _all_exercises() if exercises is None else exercises
    return {i for i, cell in student_grades(user, exercises).items() if cell.passed}


def visible_lessons(user: Any) -> QuerySet[Lesson]:
    """The lessons `user` may open: staff (site staff, or staff of any course) see every
    lesson; a student sees a lesson once its `opens` has passed (lesson.yaml)."""
    lessons = Lesson.objects.all()
    if getattr(user, "is_staff", False) or (user.is_authenticated and staffed_courses(user)):
        return lessons
    return lessons.filter(Q(opens__isnull=True) | Q(opens__lte=timezone.now()))


def lessons_with_progress(user: Any) -> list[dict[str, Any]]:
    """Each visible lesson with its "x of n": optional exercises (`dashboard.grades.counts`)
    are in neither x nor n."""
    passed = passed_exercise_ids(user)
    result = []
    for lesson in visible_lessons(user).prefetch_related("exercises__current_version"):
        ids = [e.id for e in lesson.exercises.all() if counts(e)]
        done = sum(1 for i in ids if i in passed)
        result.append({"lesson": lesson, "total": len(ids), "done": done})
    return result


def attempts_by_exercise(
    user: Any, exercises: list[Exercise], per_exercise: int = 20
) -> dict[int, list[dict[str, Any]]]:
    """The user's graded-or-pending Submit attempts per exercise id, newest first, with code
    (their own code only: this feeds the history list and its "restore" buttons).

    Outcome and score are the effective ones (a finished regrade's, scored by the score
    rule), `regraded` says when a regrade gave them, `late` when it came after the student's
    deadline (its score is still the one graded: the late policy applies to the grade)."""
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
                "created": row["created_at"],
            })
    shown = [a for bucket in result.values() for a in bucket]
    due = student_deadlines(user, exercises)
    for exercise_id, bucket in result.items():
        for attempt in bucket:
            attempt["late"] = due.is_late(user.pk, exercise_id, attempt["created"])
            del attempt["created"]
    regrades = latest_regrades([a["id"] for a in shown])
    for attempt in shown:
        rg = regrades.get(attempt["id"])
        if rg is not None:
            attempt.update(outcome=rg.outcome, score=rg.score, max_score=rg.max_score)
        attempt["regraded"] = rg is not None
        attempt["score"] = counted_score(attempt["outcome"], attempt["score"])
    return result
