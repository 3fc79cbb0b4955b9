"""Dashboard pages and their JSON API. Every view goes through `course_view` (access.py)."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses.models import Exercise, Lesson, pick_language
from courses.rendering import render_markdown
from dashboard import authoring, selectors, services
from dashboard.access import (
    INSTRUCTOR,
    STAFF,
    STUDENT,
    course_exercises,
    course_lessons,
    course_students,
    course_submissions,
    course_view,
)
from dashboard.models import Course, ExerciseDraft, Override, Regrade, Validation
from grading.spec import LANGS, ExerciseSpec
from submissions.models import Submission

OUTCOMES = ["passed", "failed", "error", "timeout", "memory_limit", "output_limit", "rejected",
            "queue_unavailable", "internal_error"]


def _lang() -> str:
    return "zh-hans" if (get_language() or "en").startswith("zh") else "en"


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


# --------------------------------------------------------------------------- overview


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """/dashboard/: the courses this user staffs (straight there when it is one)."""
    from django.contrib.auth.views import redirect_to_login
    from django.core.exceptions import PermissionDenied

    from dashboard.access import default_course, role_of

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    default_course()
    courses = [c for c in Course.objects.all() if role_of(request.user, c) in STAFF]
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
    lang = _lang()
    return render(request, "dashboard/home.html", _ctx(
        request, course, lessons=selectors.lessons_overview(course, lang),
        students=course_students(course).count(),
        regrades=Regrade.objects.filter(course=course).select_related("exercise")[:10],
    ))


# --------------------------------------------------------------------------- gradebook


def _book(request: HttpRequest, course: Course) -> selectors.Gradebook:
    g = request.GET
    return selectors.gradebook(
        course, lang=_lang(), q=g.get("q", "").strip(), lesson=g.get("lesson", ""),
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

    lessons = [
        {**g, "sort_url": sort_url(f"lesson:{g['lesson'].slug}"),
         "columns": [{"exercise": e, "sort_url": sort_url(e.slug),
                      "max": selectors._max_score(e)} for e in g["exercises"]]}
        for g in book.lessons
    ]
    return render(request, "dashboard/gradebook.html", _ctx(
        request, course, book=book, lessons=lessons,
        all_lessons=[(lesson.slug, pick_language(lesson.title, _lang()))
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
            {"slug": e.slug, "lesson": e.lesson.slug, "max_score": selectors._max_score(e)}
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
                          "changed": c.changed}
                 for e in book.exercises for c in [r.cells[e.pk]]
             }}
            for r in book.rows
        ],
    })


# --------------------------------------------------------------------------- one exercise


@require_GET
@course_view()
def exercise_detail(request: HttpRequest, course: Course, slug: str) -> HttpResponse:
    exercise = _exercise(course, slug)
    stats = selectors.exercise_stats(course, exercise)
    return render(request, "dashboard/exercise.html", _ctx(
        request, course, exercise=exercise, stats=stats,
        title=pick_language(exercise.spec.title, _lang()),
        time_to_pass=selectors.humanize_seconds(stats["median_seconds_to_pass"]),
        charts={"attempts": stats["attempts_distribution"], "diagnostics": stats["diagnostics"]},
        regrades=Regrade.objects.filter(course=course, exercise=exercise)[:5],
        overrides=Override.objects.filter(course=course, exercise=exercise).select_related("user"),
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
    rows = selectors.browse_submissions(course, kind=kind, **filters)
    return render(request, "dashboard/submissions.html", _ctx(
        request, course, rows=rows, filters=filters, kind=kind, outcomes=OUTCOMES,
        exercises=course_exercises(course),
    ))


@require_GET
@course_view()
def submission_detail(request: HttpRequest, course: Course, pk: int) -> HttpResponse:
    # This course's students only: a lesson shared with another course has theirs too.
    sub = get_object_or_404(
        course_submissions(course).select_related("user", "exercise", "version"), pk=pk
    )
    previous, diff = selectors.submission_diff(sub)
    later = (Submission.objects.filter(user=sub.user, exercise=sub.exercise, kind=sub.kind,
                                       created_at__gt=sub.created_at)
             .only("id").order_by("created_at", "id").first())
    return render(request, "dashboard/submission.html", _ctx(
        request, course, sub=sub, previous=previous, next=later, diff=diff,
        regrades=sub.regrade_results.select_related("version", "regrade").defer("verdict")
        .order_by("-id"),
        latest=selectors.latest_regrades([sub.pk]).get(sub.pk),
        diagnostics=selectors.diagnostics_of(sub.verdict),
    ))


# --------------------------------------------------------------------------- overrides


@require_http_methods(["GET", "POST"])
@course_view()
def override(request: HttpRequest, course: Course, slug: str, username: str) -> HttpResponse:
    exercise = _exercise(course, slug)
    student = _student(course, username)
    current = Override.objects.filter(course=course, user=student, exercise=exercise).first()
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "clear":
            services.override_clear(course=course, user=student, exercise=exercise)
            messages.success(request, f"Override removed for {student.username}.")
            return redirect(reverse("dashboard:gradebook", args=[course.slug]))
        try:
            services.override_set(
                course=course, user=student, exercise=exercise,
                score=float(request.POST.get("score", "")),
                comment=request.POST.get("comment", ""), by=request.user,
            )
        except ValueError as exc:
            error = str(exc) if "between" in str(exc) else "The score must be a number."
        else:
            messages.success(request, f"Score set for {student.username} on {exercise.slug}.")
            return redirect(reverse("dashboard:gradebook", args=[course.slug]))
    best = selectors.best_effective(exercise, [student.pk]).get(student.pk)
    return render(request, "dashboard/override.html", _ctx(
        request, course, exercise=exercise, student=student, current=current, best=best,
        max_score=selectors._max_score(exercise), error=error,
    ))


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
        messages.error(request, str(busy))
        return redirect(reverse("dashboard:exercise", args=[course.slug, exercise.slug]))
    return redirect(reverse("dashboard:regrade", args=[course.slug, regrade.pk]))


def _regrade(course: Course, pk: int) -> Regrade:
    return get_object_or_404(Regrade.objects.select_related("exercise", "version", "student"),
                             pk=pk, course=course)


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


# --------------------------------------------------------------------------- authoring


@require_http_methods(["GET", "POST"])
@course_view(roles=(INSTRUCTOR,))
def lesson_edit(request: HttpRequest, course: Course, slug: str = "") -> HttpResponse:
    lesson = _lesson(course, slug) if slug else None
    fields = authoring.lesson_fields(lesson)
    problems: list[str] = []
    if request.method == "POST":
        fields = authoring.lesson_fields_from_post(request.POST)
        doc, problems = authoring.check_lesson(lesson, fields)
        if doc is not None:
            lesson = services.lesson_save(lesson=lesson, doc=doc, course=course)
            messages.success(request, f"Lesson {lesson.slug} saved.")
            return redirect(reverse("dashboard:lesson-edit", args=[course.slug, lesson.slug]))
    per_lang = [{"lang": lang, "title": fields[f"title_{lang}"],
                 "summary": fields[f"summary_{lang}"], "prose": fields[f"prose_{lang}"]}
                for lang in LANGS]
    return render(request, "dashboard/lesson_edit.html", _ctx(
        request, course, lesson=lesson, fields=fields, problems=problems, per_lang=per_lang,
        exercises=lesson.exercises.all() if lesson else [],
        drafts=ExerciseDraft.objects.filter(lesson=lesson).exclude(
            slug__in=Exercise.objects.values("slug")) if lesson else [],
    ))


@require_GET
@course_view(roles=(INSTRUCTOR,))
def lesson_export(request: HttpRequest, course: Course, slug: str) -> HttpResponse:
    lesson = _lesson(course, slug)
    response = HttpResponse(authoring.export_zip(authoring.lesson_doc(lesson)),
                            content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{lesson.slug}.zip"'
    return response


def _draft_context(request: HttpRequest, course: Course, lesson: Lesson, fields: dict[str, str],
                   draft: ExerciseDraft | None, exercise: Exercise | None) -> dict[str, Any]:
    validation = None
    if draft is not None and draft.spec is not None:
        validation = Validation.objects.filter(spec_hash=services.spec_hash(draft.spec)).first()
    per_lang = [
        {"lang": lang, "title": fields.get(f"title_{lang}", ""),
         "prompt": fields.get(f"prompt_{lang}", ""),
         "hints": [{"number": i, "text": fields.get(f"hint{i}_{lang}", "")}
                   for i in range(1, authoring.MAX_HINTS + 1)]}
        for lang in LANGS
    ]
    return _ctx(
        request, course, lesson=lesson, fields=fields, draft=draft, exercise=exercise,
        validation=validation,
        can_publish=draft is not None and services.validated(draft) is not None,
        per_lang=per_lang, queues=["cpu", "gpu", "any"],
    )


@require_http_methods(["GET", "POST"])
@course_view(roles=(INSTRUCTOR,))
def exercise_new(request: HttpRequest, course: Course, lesson: str) -> HttpResponse:
    obj = _lesson(course, lesson)
    if request.method == "POST":
        fields = authoring.fields_from_post(request.POST)
        slug = slugify(fields["slug"])
        if not slug or Exercise.objects.filter(slug=slug).exists() or \
                ExerciseDraft.objects.filter(slug=slug).exists():
            messages.error(request, f"Choose another slug: {fields['slug']!r} is empty or taken.")
        else:
            fields["slug"] = slug
            services.draft_save(lesson=obj, fields=fields, by=request.user)
            return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug]))
    else:
        fields = dict.fromkeys(authoring.FIELD_NAMES, "")
        fields.update(queue="cpu", seed="0", checks="- name: result\n  points: 1\n")
    return render(request, "dashboard/exercise_edit.html",
                  _draft_context(request, course, obj, fields, None, None) | {"new": True})


def _editable(course: Course, slug: str) -> tuple[Lesson, Exercise | None, ExerciseDraft | None]:
    draft = ExerciseDraft.objects.select_related("lesson").filter(slug=slug).first()
    exercise = (
        Exercise.objects.select_related("lesson", "current_version").filter(slug=slug).first()
    )
    lesson = draft.lesson if draft else (exercise.lesson if exercise else None)
    if lesson is None or not course_lessons(course).filter(pk=lesson.pk).exists():
        raise Http404(f"There is no exercise {slug!r} in this course.")
    return lesson, exercise, draft


@require_http_methods(["GET", "POST"])
@course_view(roles=(INSTRUCTOR,))
def exercise_edit(request: HttpRequest, course: Course, slug: str) -> HttpResponse:
    lesson, exercise, draft = _editable(course, slug)
    if request.method == "POST":
        fields = authoring.fields_from_post(request.POST)
        fields["slug"] = slug  # renaming would orphan submissions
        if request.POST.get("action") == "discard" and draft is not None:
            draft.delete()
            messages.success(request, "Draft discarded.")
            return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug])
                            if exercise else reverse("dashboard:home", args=[course.slug]))
        draft = services.draft_save(lesson=lesson, fields=fields, by=request.user)
        if not draft.problems:
            messages.success(request, "Draft saved. Validate it, then publish.")
        return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug]))
    if draft is not None:
        fields = draft.fields
    elif exercise is not None and exercise.current_version is not None:
        fields = authoring.fields_from_spec(exercise.spec)
    else:
        raise Http404(f"There is no exercise {slug!r}.")
    return render(request, "dashboard/exercise_edit.html",
                  _draft_context(request, course, lesson, fields, draft, exercise))


@require_POST
@course_view(roles=(INSTRUCTOR,), api=True)
def exercise_preview(request: HttpRequest, course: Course) -> HttpResponse:
    fields = authoring.fields_from_post(request.POST)
    previews = []
    for lang in LANGS:
        previews.append({
            "lang": lang, "title": fields[f"title_{lang}"],
            "prompt_html": render_markdown(fields[f"prompt_{lang}"]),
            "hints": [fields[f"hint{i}_{lang}"] for i in range(1, authoring.MAX_HINTS + 1)
                      if fields[f"hint{i}_{lang}"].strip()],
        })
    html = render_to_string("dashboard/_preview.html", {"previews": previews, "fields": fields})
    return JsonResponse({"html": html})


@require_POST
@course_view(roles=(INSTRUCTOR,))
def exercise_validate(request: HttpRequest, course: Course, slug: str) -> HttpResponse:
    """Save the form as the draft, then queue check_lessons for it."""
    lesson, _, _ = _editable(course, slug)
    fields = authoring.fields_from_post(request.POST)
    fields["slug"] = slug
    draft = services.draft_save(lesson=lesson, fields=fields, by=request.user)
    wants_json = "application/json" in request.headers.get("Accept", "")
    if draft.spec is None:
        if wants_json:
            return JsonResponse({"error": "The exercise has format problems.",
                                 "problems": draft.problems}, status=400)
        return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug]))
    validation = services.validation_start(spec=ExerciseSpec.from_dict(draft.spec), by=request.user)
    if wants_json:
        return JsonResponse({"id": validation.pk, "url": reverse(
            "dashboard:api-validation", args=[course.slug, validation.pk])}, status=202)
    return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug]))


@require_GET
@course_view(roles=(INSTRUCTOR,), api=True)
def api_validation(request: HttpRequest, course: Course, pk: int) -> HttpResponse:
    validation = get_object_or_404(Validation, pk=pk)
    _editable(course, validation.slug)  # 404 unless the exercise belongs to this course
    draft = ExerciseDraft.objects.filter(slug=validation.slug).first()
    return JsonResponse({
        "id": validation.pk, "exercise": validation.slug, "status": validation.status,
        "passed": validation.passed, "report": validation.report,
        # Publishing is allowed once the draft as saved now has passed.
        "can_publish": bool(draft and services.validated(draft)),
        "html": render_to_string("dashboard/_validation.html", {"v": validation}),
    })


@require_POST
@course_view(roles=(INSTRUCTOR,))
def exercise_publish(request: HttpRequest, course: Course, slug: str) -> HttpResponse:
    _, exercise, draft = _editable(course, slug)
    if draft is None or draft.spec is None:
        messages.error(request, "Nothing to publish: save a draft without problems first.")
        return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug]))
    if services.validated(draft) is None:
        messages.error(request, "Validate this exact draft (and pass) before publishing.")
        return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug]))
    before = exercise.current_version_id if exercise else None
    exercise = services.publish(draft=draft)
    version = exercise.current_version
    if version.pk != before:
        messages.success(request, f"Published {slug} as version {version.number}. "
                                  "Regrade past submissions below if scores should follow.")
    else:
        messages.success(request, f"Published {slug}; grading is unchanged "
                                  f"(still version {version.number}).")
    return redirect(reverse("dashboard:exercise", args=[course.slug, slug]))


# --------------------------------------------------------------------------- students


@require_GET
@course_view(roles=(STUDENT, *STAFF))
def my_grades(request: HttpRequest, course: Course) -> HttpResponse:
    """A student's own grades, overrides and the instructor's comments."""
    user = request.user
    rows = []
    overrides = {o.exercise_id: o for o in Override.objects.filter(course=course, user=user)}
    book = selectors.gradebook(course, lang=_lang(), only=user)
    cells = next((r.cells for r in book.rows if r.user.pk == user.pk), {})
    for exercise in book.exercises:
        cell = cells.get(exercise.pk) or selectors.Cell()
        rows.append({"exercise": exercise, "lesson": pick_language(exercise.lesson.title, _lang()),
                     "title": pick_language(exercise.spec.title, _lang()), "cell": cell,
                     "override": overrides.get(exercise.pk),
                     "max": selectors._max_score(exercise)})
    return render(request, "dashboard/my_grades.html", _ctx(request, course, rows=rows))

