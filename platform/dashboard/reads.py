"""Small reads the dashboard's views need, so that views never query the ORM themselves.

(`selectors.py` holds the big ones: gradebook, statistics, the submissions browser.)"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from courses.models import Exercise, Lesson
from dashboard.access import STAFF, role_of
from dashboard.models import Course, ExerciseDraft, Membership, Override, Regrade, Validation
from submissions.models import Submission


def staffed_courses(user: Any) -> list[Course]:
    """The courses this user is on the staff of."""
    return [c for c in Course.objects.all() if role_of(user, c) in STAFF]


def course_staff(course: Course) -> QuerySet[Membership]:
    return (Membership.objects.filter(course=course, role__in=STAFF)
            .select_related("user").order_by("role", "user__username"))


def recent_regrades(course: Course, exercise: Exercise | None = None,
                    limit: int = 10) -> list[Regrade]:
    qs = Regrade.objects.filter(course=course).select_related("exercise")
    if exercise is not None:
        qs = qs.filter(exercise=exercise)
    return list(qs[:limit])


def regrade_of(course: Course, pk: int) -> Regrade | None:
    return (Regrade.objects.select_related("exercise", "version", "student")
            .filter(pk=pk, course=course).first())


def exercise_overrides(course: Course, exercise: Exercise) -> QuerySet[Override]:
    return Override.objects.filter(course=course, exercise=exercise).select_related("user")


def override_of(course: Course, student: Any, exercise: Exercise) -> Override | None:
    return Override.objects.filter(course=course, user=student, exercise=exercise).first()


def next_attempt_id(sub: Submission) -> int | None:
    """The student's next attempt at the same exercise (for the browser's "next" link)."""
    later = (Submission.objects.filter(user=sub.user, exercise=sub.exercise, kind=sub.kind,
                                       created_at__gt=sub.created_at)
             .only("id").order_by("created_at", "id").first())
    return later.pk if later else None


# --------------------------------------------------------------------------- authoring


def unpublished_drafts(lesson: Lesson) -> QuerySet[ExerciseDraft]:
    """Drafts in this lesson that are not an exercise yet."""
    return ExerciseDraft.objects.filter(lesson=lesson).exclude(
        slug__in=Exercise.objects.values("slug"))


def slug_taken(slug: str) -> bool:
    return (Exercise.objects.filter(slug=slug).exists()
            or ExerciseDraft.objects.filter(slug=slug).exists())


def draft_and_exercise(slug: str) -> tuple[ExerciseDraft | None, Exercise | None]:
    draft = ExerciseDraft.objects.select_related("lesson").filter(slug=slug).first()
    exercise = (
        Exercise.objects.select_related("lesson", "current_version").filter(slug=slug).first()
    )
    return draft, exercise


def validation_for(spec_hash: str) -> Validation | None:
    return Validation.objects.filter(spec_hash=spec_hash).first()


def validation(pk: int) -> Validation | None:
    return Validation.objects.filter(pk=pk).first()
