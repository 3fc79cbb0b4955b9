"""Grades: the gradebook (page, CSV, JSON), instructors' overrides and a student's own grades.

Every view goes through `course_view` (access.py)."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from courses.models import pick_language
from dashboard import reads, selectors, services
from dashboard.access import (
    STAFF,
    STUDENT,
    course_lessons,
    course_view,
)
from dashboard.models import Course
from dashboard.views.common import _ctx, _exercise, _student
from drafts.preferences import page_language

# --------------------------------------------------------------------------- gradebook


def _book(request: HttpRequest, course: Course) -> selectors.Gradebook:
    g = request.GET
    return selectors.gradebook(
        course, lang=page_language(), q=g.get("q", "").strip(), lesson=g.get("lesson", ""),
        sort=g.get("sort", ""), descending=g.get("dir") == "desc",
    )


@require_GET
@course_view()
def gradebook(request: HttpRequest, course: Course) -> HttpResponse:
    book = _book(request, course)
    sort, desc = request.GET.get("sort", ""), request.GET.get("dir") == "desc"
    base = request.GET.copy()

    def sort_url(key: str) -> str:
        q = base.copy()
        q["sort"] = key
        q["dir"] = "asc" if (sort == key and desc) else ("desc" if sort == key else
                                                          ("asc" if key == "student" else "desc"))
        return "?" + q.urlencode()

    lang = page_language()
    lessons = [
        {**g, "sort_url": sort_url(f"lesson:{g['lesson'].slug}"),
         # Titles for people; the slug (the CSV's column key) stays in the tooltip.
         "columns": [{"exercise": e, "sort_url": sort_url(e.slug),
                      "title": pick_language(e.spec.title, lang) or e.slug,
                      "max": selectors.max_score(e)} for e in g["exercises"]]}
        for g in book.lessons
    ]
    return render(request, "dashboard/gradebook.html", _ctx(
        request, course, book=book, lessons=lessons,
        all_lessons=[(lesson.slug, pick_language(lesson.title, page_language()))
                     for lesson in course_lessons(course)],
        q=request.GET.get("q", ""), lesson_filter=request.GET.get("lesson", ""),
        sort_student=sort_url("student"), sort_total=sort_url("total"),
        sort_last=sort_url("last"), csv_query=request.GET.urlencode(),
    ))


def _csv_cell(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to a spreadsheet: names are user input.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else value


@require_GET
@course_view()
def gradebook_csv(request: HttpRequest, course: Course) -> HttpResponse:
    header, rows = selectors.gradebook_table(_book(request, course))
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # excel dialect: commas, CRLF, quotes where needed
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    # The BOM makes Excel read UTF-8 (Chinese names) instead of the local code page.
    body = "\ufeff" + buffer.getvalue()
    response = HttpResponse(body.encode("utf-8"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{course.slug}-gradebook.csv"'
    return response


@require_GET
@course_view(api=True)
def api_gradebook(request: HttpRequest, course: Course) -> HttpResponse:
    book = _book(request, course)
    return JsonResponse({
        "course": course.slug,
        "exercises": [
            {"slug": e.slug, "lesson": e.lesson.slug, "max_score": selectors.max_score(e),
             "title": e.spec.title}
            for e in book.exercises
        ],
        "students": [
            {"username": r.user.username, "total": r.total,
             "lessons": {g["lesson"].slug: r.lesson_totals[g["lesson"].pk] for g in book.lessons},
             "exercises": {
                 e.slug: {"score": c.score, "grade": c.grade, "attempts": c.attempts,
                          "passed": c.passed,
                          "last_activity": c.last.isoformat() if c.last else None,
                          "override": c.override is not None, "before_regrade": c.before,
                          "changed": c.changed, "late": c.late,
                          "late_attempts": c.late_attempts,
                          "due": c.due.isoformat() if c.due else None}
                 for e in book.exercises for c in [r.cells[e.pk]]
             }}
            for r in book.rows
        ],
    })


# --------------------------------------------------------------------------- overrides


@require_http_methods(["GET", "POST"])
@course_view()
def override(request: HttpRequest, course: Course, slug: str, username: str) -> HttpResponse:
    exercise = _exercise(course, slug)
    student = _student(course, username)
    current = reads.override_of(course, student, exercise)
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "clear":
            services.override_clear(course=course, user=student, exercise=exercise)
            messages.success(request, _("Override removed for %(username)s.")
                             % {"username": student.username})
            return redirect(reverse("dashboard:gradebook", args=[course.slug]))
        try:
            services.override_set(
                course=course, user=student, exercise=exercise,
                score=float(request.POST.get("score", "")),
                comment=request.POST.get("comment", ""), by=request.user,
            )
        except ValueError as exc:
            # services says "between 0 and max" in English; the reader gets their language.
            error = (_("The score must be between 0 and %(max)s.")
                     % {"max": f"{selectors.max_score(exercise):g}"} if "between" in str(exc)
                     else _("The score must be a number."))
        else:
            messages.success(request, _("Score set for %(username)s on %(slug)s.")
                             % {"username": student.username, "slug": exercise.slug})
            return redirect(reverse("dashboard:gradebook", args=[course.slug]))
    best = selectors.best_effective(exercise, [student.pk], course).get(student.pk)
    return render(request, "dashboard/override.html", _ctx(
        request, course, exercise=exercise, student=student, current=current, best=best,
        max_score=selectors.max_score(exercise), error=error,
    ))


# --------------------------------------------------------------------------- students


@require_GET
@course_view(roles=(STUDENT, *STAFF))
def my_grades(request: HttpRequest, course: Course) -> HttpResponse:
    """A student's own grades, overrides and the instructor's comments."""
    user = request.user
    rows: list[dict[str, Any]] = []
    lang = page_language()
    # The gradebook's own cell: the one effective grade (dashboard/grades.py).
    book = selectors.gradebook(course, lang=lang, only=user)
    cells = next((r.cells for r in book.rows if r.user.pk == user.pk), {})
    for exercise in book.exercises:
        cell = cells.get(exercise.pk) or selectors.Cell(max_score=selectors.max_score(exercise))
        rows.append({"exercise": exercise, "lesson": pick_language(exercise.lesson.title, lang),
                     "title": pick_language(exercise.spec.title, lang), "cell": cell,
                     "override": cell.override, "max": cell.max_score,
                     "optional": selectors.optional_reason(exercise)})
    # The gradebook's own total: weights applied, optional exercises left out.
    total = next((r.total for r in book.rows if r.user.pk == user.pk), 0.0)
    return render(request, "dashboard/my_grades.html", _ctx(
        request, course, rows=rows, total=total, max_total=book.max_total, policy=book.policy))
