"""One exercise's statistics, the submissions browser and regrades.

Every view goes through `course_view` (access.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from courses.feedback_ui import feedback_strings
from courses.models import pick_language
from dashboard import reads, selectors, services
from dashboard.access import (
    INSTRUCTOR,
    course_exercises,
    course_students,
    course_submissions,
    course_view,
)
from dashboard.models import Course, Regrade, RegradeResult
from dashboard.views.common import OUTCOMES, _ctx, _exercise, _student
from drafts.preferences import page_language, use_preferred_language
from grading import scoring
from submissions.models import Submission

# --------------------------------------------------------------------------- one exercise


@require_GET
@course_view()
def exercise_detail(request: HttpRequest, course: Course, slug: str) -> HttpResponse:
    exercise = _exercise(course, slug)
    stats = selectors.exercise_stats(course, exercise)
    return render(request, "dashboard/exercise.html", _ctx(
        request, course, exercise=exercise, stats=stats,
        title=pick_language(exercise.spec.title, page_language()),
        time_to_pass=selectors.humanize_seconds(stats["median_seconds_to_pass"]),
        charts={"attempts": stats["attempts_distribution"], "diagnostics": stats["diagnostics"]},
        regrades=reads.recent_regrades(course, exercise, limit=5),
        overrides=reads.exercise_overrides(course, exercise),
        students=course_students(course),
        versions=exercise.versions.order_by("-number")[:5],
    ))


@require_GET
@course_view(api=True)
def api_exercise(request: HttpRequest, course: Course, slug: str) -> HttpResponse:
    exercise = _exercise(course, slug)
    return JsonResponse({"exercise": slug, **selectors.exercise_stats(course, exercise)})


# --------------------------------------------------------------------------- submissions


@require_GET
@course_view()
def submissions(request: HttpRequest, course: Course) -> HttpResponse:
    g = request.GET
    filters = {k: g.get(k, "").strip() for k in ("student", "exercise", "outcome", "diagnostic")}
    kind = g.get("kind", "submit")
    rows = selectors.browse_submissions(
        course, kind=kind, student=filters["student"], exercise=filters["exercise"],
        outcome=filters["outcome"], diagnostic=filters["diagnostic"])
    return render(request, "dashboard/submissions.html", _ctx(
        request, course, rows=rows, filters=filters, kind=kind, outcomes=OUTCOMES,
        exercises=course_exercises(course),
    ))


@require_GET
@use_preferred_language  # the verdict reads in the teacher's language, as on the lesson page
@course_view()
def submission_detail(request: HttpRequest, course: Course, pk: int) -> HttpResponse:
    # This course's students only: a lesson shared with another course has theirs too.
    sub = get_object_or_404(
        course_submissions(course).select_related("user", "exercise", "version"), pk=pk
    )
    previous, diff = selectors.submission_diff(sub)
    later = reads.next_attempt_id(sub)
    latest = selectors.latest_regrades([sub.pk]).get(sub.pk)
    graded = sub.status == Submission.Status.GRADED
    return render(request, "dashboard/submission.html", _ctx(
        request, course, sub=sub, previous=previous, next=later, diff=diff,
        regrades=sub.regrade_results.select_related("version", "regrade").defer("verdict")
        .order_by("-id"),
        latest=latest,
        diagnostics=selectors.diagnostics_of(sub.verdict),
        # The lesson page's feedback component draws both verdicts from the same JSON the
        # student's page reads (GET /api/submissions/<id>), with the same strings.
        code_lines=sub.code.split("\n"),
        verdict_json=scoring.apply(sub.to_json()) if graded else None,
        regrade_json=_regrade_verdict(sub, latest) if latest is not None else None,
        feedback_ui=feedback_strings(),
        page_lang=page_language(),
    ))


def _regrade_verdict(sub: Submission, result: RegradeResult) -> dict[str, Any]:
    """A regrade result as verdict JSON: its stored verdict, its row's outcome and score,
    the score rule applied (grading/scoring.py) as everywhere a verdict is shown."""
    return scoring.apply({
        **(result.verdict or {}), "id": sub.pk, "kind": sub.kind, "status": "graded",
        "outcome": result.outcome, "score": result.score, "max_score": result.max_score,
    })


# --------------------------------------------------------------------------- regrade


@require_POST
@course_view(roles=(INSTRUCTOR,))
def regrade_start(request: HttpRequest, course: Course, slug: str) -> HttpResponse:
    exercise = _exercise(course, slug)
    username = request.POST.get("student", "").strip()
    student = _student(course, username) if username else None
    try:
        regrade = services.regrade_start(course=course, exercise=exercise, by=request.user,
                                         student=student)
    except services.RegradeBusy as busy:  # one regrade per exercise at a time
        # services words it in English with the running job's details; other languages
        # get the rule and what to do.
        messages.error(request, str(busy) if page_language() == "en" else _(
            "Another regrade of this exercise is running; regrades of one exercise run one "
            "at a time. Start this one when it has finished."))
        return redirect(reverse("dashboard:exercise", args=[course.slug, exercise.slug]))
    return redirect(reverse("dashboard:regrade", args=[course.slug, regrade.pk]))


def _regrade(course: Course, pk: int) -> Regrade:
    regrade = reads.regrade_of(course, pk)
    if regrade is None:
        raise Http404("There is no such regrade in this course.")
    return regrade


@require_GET
@course_view()
def regrade_detail(request: HttpRequest, course: Course, pk: int) -> HttpResponse:
    regrade = _regrade(course, pk)
    return render(request, "dashboard/regrade.html", _ctx(
        request, course, regrade=regrade,
        changes=services.regrade_changes(regrade) if regrade.finished else [],
        results=selectors.regrade_result_rows(regrade),
    ))


@require_GET
@course_view(api=True)
def api_regrade(request: HttpRequest, course: Course, pk: int) -> HttpResponse:
    regrade = _regrade(course, pk)
    return JsonResponse({
        "id": regrade.pk, "exercise": regrade.exercise.slug, "version": regrade.version.number,
        "status": regrade.status, "total": regrade.total, "done": regrade.done,
        "failed": regrade.failed,
        "changes": [
            {"student": c["user"].username, "before": c["before"], "after": c["after"]}
            for c in (services.regrade_changes(regrade) if regrade.finished else [])
        ],
    })
