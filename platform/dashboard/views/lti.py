"""LTI on the dashboard (docs/lti.md): the URLs and keys to give an LMS administrator, the
LMSs registered for this course, and its grade passbacks with a Retry for failed ones.
Instructors only; everything is scoped to the course in the URL."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.access import INSTRUCTOR, course_view
from dashboard.models import Course
from dashboard.views.common import _ctx
from lti.forms import PlatformForm
from lti.models import Passback, Platform
from lti.services import queue_passbacks
from lti.views import NO_PASSBACK, REGISTERED, SENDING_AGAIN, tool_urls

INSTRUCTORS_ONLY = (INSTRUCTOR,)


def _page(course: Course) -> str:
    return reverse("dashboard:lti", args=[course.slug])


@require_http_methods(["GET", "POST"])
@course_view(roles=INSTRUCTORS_ONLY)
def lti(request: HttpRequest, course: Course) -> HttpResponse:
    """GET: the page; POST: register an LMS for this course."""
    form = PlatformForm(request.POST or None, instance=Platform(course=course))
    if request.method == "POST" and form.is_valid():
        platform = form.save()
        messages.success(request, str(REGISTERED)
                         % {"name": platform.name})
        return redirect(_page(course))
    passbacks = (Passback.objects.filter(line_item__context__course=course)
                 .select_related("user", "line_item__lesson", "line_item__exercise",
                                 "line_item__context__platform")
                 .order_by("status", "-updated_at")[:500])
    return render(request, "lti/dashboard.html", _ctx(
        request, course, form=form, urls=tool_urls(request),
        platforms=Platform.objects.filter(course=course), passbacks=passbacks,
        failed=sum(1 for p in passbacks if p.status == Passback.Status.FAILED),
    ), status=400 if request.method == "POST" else 200)


@require_POST
@course_view(roles=INSTRUCTORS_ONLY)
def lti_retry(request: HttpRequest, course: Course, pk: int) -> HttpResponse:
    """Send a passback again (now, in a Celery task): a failed one, or any one asked for."""
    passback = (Passback.objects.select_related("user")
                .filter(pk=pk, line_item__context__course=course).first())
    if passback is None:  # gone (the student or the link was removed), or another course's
        messages.error(request, NO_PASSBACK)
        return redirect(_page(course))
    queue_passbacks([passback.pk])
    messages.success(request, str(SENDING_AGAIN)
                     % {"user": passback.user.username})
    return redirect(_page(course))
