"""People: the join link, staff roles, the students with their set-password links, and
bulk import from CSV. Instructors only (a TA reads the gradebook, nothing here).

Every view goes through `course_view` (access.py); the writes are in accounts.services and
accounts.roster.
"""

from __future__ import annotations

import csv
import io

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import roster, services
from dashboard import reads
from dashboard.access import INSTRUCTOR, course_students, course_view
from dashboard.models import Course
from dashboard.views.common import _ctx

INSTRUCTORS_ONLY = (INSTRUCTOR,)


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


def _people_url(course: Course) -> str:
    return reverse("dashboard:people", args=[course.slug])


@require_GET
@course_view(roles=INSTRUCTORS_ONLY)
def people(request: HttpRequest, course: Course) -> HttpResponse:
    link = services.join_link(course)
    staff = reads.course_staff(course)
    return render(request, "dashboard/people.html", _ctx(
        request, course, link=link, join_url=services.join_url(_base_url(request), link),
        staff=staff, students=course_students(course),
    ))


@require_POST
@course_view(roles=INSTRUCTORS_ONLY)
def join_rotate(request: HttpRequest, course: Course) -> HttpResponse:
    services.rotate_join_code(course)
    messages.success(request, _("The join link has a new code; the old link no longer works."))
    return redirect(_people_url(course))


@require_POST
@course_view(roles=INSTRUCTORS_ONLY)
def join_signup(request: HttpRequest, course: Course) -> HttpResponse:
    is_open = request.POST.get("open") == "1"
    services.set_signup_open(course, is_open)
    messages.success(request, _("Sign-up through the join link is now open.") if is_open
                     else _("Sign-up through the join link is now closed."))
    return redirect(_people_url(course))


@require_POST
@course_view(roles=INSTRUCTORS_ONLY)
def staff(request: HttpRequest, course: Course) -> HttpResponse:
    """Add an instructor or a TA (an existing account), or remove one."""
    username = request.POST.get("username", "")
    try:
        if request.POST.get("action") == "remove":
            services.remove_staff(course, username, by=request.user)
            messages.success(request, _("%(username)s is no longer on the staff.")
                             % {"username": username})
        else:
            membership = services.add_staff(course, username, request.POST.get("role", ""),
                                            by=request.user)
            messages.success(request, _("%(username)s is now %(role)s of this course.") % {
                "username": membership.user.username,
                "role": _("an instructor") if membership.role == INSTRUCTOR
                else _("a teaching assistant")})
    except services.AccountError as exc:
        messages.error(request, str(exc))
    return redirect(_people_url(course))


@require_POST
@course_view(roles=INSTRUCTORS_ONLY)
def reset_link(request: HttpRequest, course: Course, username: str) -> HttpResponse:
    """A set-password link for one student of this course, shown to the instructor only."""
    try:
        student, url = services.student_reset_url(course, username, _base_url(request))
    except services.AccountError as exc:
        messages.error(request, str(exc))
        return redirect(_people_url(course))
    response = render(request, "dashboard/people_reset_link.html",
                      _ctx(request, course, student=student, url=url))
    return response


@require_http_methods(["GET", "POST"])
@course_view(roles=INSTRUCTORS_ONLY)
def import_students(request: HttpRequest, course: Course) -> HttpResponse:
    """Upload (or paste) a CSV; show every bad row, or what was imported and the links."""
    report = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        data: bytes | str = upload.read(roster.MAX_BYTES + 1) if upload else request.POST.get(
            "text", "")
        report = roster.import_roster(course, data, base_url=_base_url(request))
    counts = {s: report.count(s) for s in ("created", "enrolled", "unchanged")} if report else {}
    return render(request, "dashboard/people_import.html", _ctx(
        request, course, report=report, counts=counts, columns=",".join(roster.COLUMNS[:4]),
        email_configured=settings.EMAIL_CONFIGURED,
    ))


@require_POST
@course_view(roles=INSTRUCTORS_ONLY)
def links_csv(request: HttpRequest, course: Course) -> HttpResponse:
    """The set-password links of the students named (those of this course who still have no
    password), as CSV. Links are made afresh: they are not stored anywhere."""
    wanted = set(request.POST.getlist("username"))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["username", "email", "first_name", "last_name", "set_password_link"])
    base = _base_url(request)
    for user in course_students(course).filter(username__in=wanted):
        if user.has_usable_password() or not services.may_get_reset_link(user):
            continue
        writer.writerow([_cell(user.username), _cell(user.email), _cell(user.first_name),
                         _cell(user.last_name), services.set_password_url(base, user)])
    response = HttpResponse(("\ufeff" + buffer.getvalue()).encode("utf-8"),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{course.slug}-set-password-links.csv"')
    return response


def _cell(value: str) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet: names are user input.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
