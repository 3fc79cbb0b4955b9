"""Template context: whether the navigation bar offers the dashboard to this user."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from dashboard.access import STAFF, default_course, role_of
from dashboard.models import Course


def staff_links(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_course_staff": False}
    # A handful of courses at most: one role lookup each is cheap next to rendering a page.
    courses = list(Course.objects.all()) or [default_course()]
    staff = any(role_of(user, course) in STAFF for course in courses)
    return {"is_course_staff": staff or user.is_superuser}
