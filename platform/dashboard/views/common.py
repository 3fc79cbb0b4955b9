"""What every dashboard view module shares: lookups scoped to the course, the page context."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from courses.models import Exercise, Lesson
from dashboard.access import (
    INSTRUCTOR,
    course_exercises,
    course_lessons,
    course_students,
)
from dashboard.models import Course

OUTCOMES = ["passed", "failed", "error", "timeout", "memory_limit", "output_limit", "rejected",
            "queue_unavailable", "internal_error"]


def _exercise(course: Course, slug: str) -> Exercise:
    exercise = course_exercises(course).filter(slug=slug).first()
    if exercise is None:
        raise Http404(f"There is no exercise {slug!r} in this course.")
    return exercise


def _lesson(course: Course, slug: str) -> Lesson:
    lesson = course_lessons(course).filter(slug=slug).first()
    if lesson is None:
        raise Http404(f"There is no lesson {slug!r} in this course.")
    return lesson


def _student(course: Course, username: str) -> Any:
    user = course_students(course).filter(username=username).first()
    if user is None:
        raise Http404(f"There is no student {username!r} in this course.")
    return user


def _ctx(request: HttpRequest, course: Course, **extra: Any) -> dict[str, Any]:
    return {"course": course, "role": getattr(request, "course_role", None),
            "is_instructor": getattr(request, "course_role", None) == INSTRUCTOR, **extra}
