"""Deadlines: the course's late policy and per-student extensions. Instructors only.

Every view goes through `course_view` (access.py); the writes are in dashboard/services.py
and the rule that applies them is dashboard/grades.py (the one effective grade)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from courses.models import pick_language
from dashboard import services
from dashboard.access import INSTRUCTOR, course_lessons, course_students, course_view
from dashboard.grades import course_extensions, policy_of
from dashboard.models import Course
from dashboard.views.common import _ctx, _lesson, _student
from drafts.preferences import page_language


def parse_due(text: str) -> datetime | None:
    """An ISO date-time; one without a zone (a datetime-local field) is in the server's
    time zone. None when it is not a date-time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value


def _policy(request: HttpRequest, course: Course) -> str:
    kind = request.POST.get("late_policy", "")
    try:
        percent = float(request.POST.get("penalty_percent") or 0)
        services.late_policy_set(course=course, kind=kind, penalty=percent / 100)
    except ValueError:
        return _("Choose a policy; a penalty is a percentage above 0 and at most 100.")
    messages.success(request, _("Late policy saved: %(policy)s.") % {
        "policy": policy_of(course).describe()})
    return ""


def _extension(request: HttpRequest, course: Course) -> str:
    student = _student(course, request.POST.get("username", ""))
    lesson = _lesson(course, request.POST.get("lesson", ""))
    due = parse_due(request.POST.get("due", ""))
    if due is None:
        return _("The new deadline must be a date and a time, like 2026-03-08T23:59.")
    services.extension_set(course=course, user=student, lesson=lesson, due=due,
                           comment=request.POST.get("comment", ""), by=request.user)
    messages.success(request, _("Extension saved for %(username)s.") % {
        "username": student.username})
    return ""


@require_http_methods(["GET", "POST"])
@course_view(roles=(INSTRUCTOR,))
def deadlines(request: HttpRequest, course: Course) -> HttpResponse:
    error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "policy":
            error = _policy(request, course)
        elif action == "extension":
            error = _extension(request, course)
        elif action == "clear":
            try:
                services.extension_clear(course=course, pk=int(request.POST.get("pk", "")))
            except ValueError:
                error = _("There is no such extension.")
            else:
                messages.success(request, _("Extension removed."))
        else:
            error = _("Unknown action.")
        if not error:
            return redirect(reverse("dashboard:deadlines", args=[course.slug]))
    lang = page_language()
    lessons: list[dict[str, Any]] = [
        {"lesson": lesson, "title": pick_language(lesson.title, lang)}
        for lesson in course_lessons(course)
    ]
    return render(request, "dashboard/deadlines.html", _ctx(
        request, course, error=error, policy=policy_of(course), lessons=lessons,
        students=course_students(course), extensions=course_extensions(course),
        penalty_percent=f"{course.late_penalty * 100:g}",
        time_zone=timezone.get_current_timezone_name(),
    ))
