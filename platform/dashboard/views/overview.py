"""The dashboard's front page, the course home and the queue health page.

Every view goes through `course_view` (access.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboard import reads, selectors
from dashboard.access import (
    course_students,
    course_view,
)
from dashboard.models import Course
from dashboard.views.common import _ctx
from drafts.preferences import page_language

# --------------------------------------------------------------------------- overview


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """/dashboard/: the courses this user staffs (straight there when it is one)."""
    from django.contrib.auth.views import redirect_to_login
    from django.core.exceptions import PermissionDenied

    from dashboard.access import default_course

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    default_course()
    courses = reads.staffed_courses(request.user)
    if not courses:
        raise PermissionDenied("You are not on the staff of any course.")
    if len(courses) == 1:
        return redirect(reverse("dashboard:home", args=[courses[0].slug]))
    response = render(request, "dashboard/index.html", {"courses": courses})
    response["Cache-Control"] = "private, no-store"
    return response



@require_GET
@course_view()
def home(request: HttpRequest, course: Course) -> HttpResponse:
    lang = page_language()
    return render(request, "dashboard/home.html", _ctx(
        request, course, lessons=selectors.lessons_overview(course, lang),
        students=course_students(course).count(),
        regrades=reads.recent_regrades(course),
    ))


# --------------------------------------------------------------------------- queues


@require_GET
@course_view()
def queues(request: HttpRequest, course: Course) -> HttpResponse:
    return render(request, "dashboard/queues.html", _ctx(
        request, course, health=selectors.queue_health(),
    ))


@require_GET
@course_view(api=True)
def api_queues(request: HttpRequest, course: Course) -> HttpResponse:
    return JsonResponse(selectors.queue_health())
