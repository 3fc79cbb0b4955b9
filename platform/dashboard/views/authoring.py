"""In-browser authoring: lessons and exercises as drafts, preview, Validate, Publish, export.

Every view goes through `course_view` (access.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courses.models import Exercise, Lesson
from courses.rendering import render_markdown
from dashboard import authoring, reads, services
from dashboard.access import (
    INSTRUCTOR,
    course_lessons,
    course_view,
)
from dashboard.models import Course, ExerciseDraft
from dashboard.views.common import _ctx, _lesson
from grading.spec import LANGS, ExerciseSpec

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
            messages.success(request, _("Lesson %(slug)s saved.") % {"slug": lesson.slug})
            return redirect(reverse("dashboard:lesson-edit", args=[course.slug, lesson.slug]))
    per_lang = [{"lang": lang, "title": fields[f"title_{lang}"],
                 "summary": fields[f"summary_{lang}"], "prose": fields[f"prose_{lang}"]}
                for lang in LANGS]
    return render(request, "dashboard/lesson_edit.html", _ctx(
        request, course, lesson=lesson, fields=fields, problems=problems, per_lang=per_lang,
        exercises=lesson.exercises.all() if lesson else [],
        drafts=reads.unpublished_drafts(lesson) if lesson else [],
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
        validation = reads.validation_for(services.spec_hash(draft.spec))
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
        if not slug or reads.slug_taken(slug):
            messages.error(request, _("Choose another slug: “%(slug)s” is empty or taken.")
                           % {"slug": fields["slug"]})
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
    draft, exercise = reads.draft_and_exercise(slug)
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
            messages.success(request, _("Draft discarded."))
            return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug])
                            if exercise else reverse("dashboard:home", args=[course.slug]))
        draft = services.draft_save(lesson=lesson, fields=fields, by=request.user)
        if not draft.problems:
            messages.success(request, _("Draft saved. Validate it, then publish."))
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
    lesson = _editable(course, slug)[0]
    fields = authoring.fields_from_post(request.POST)
    fields["slug"] = slug
    draft = services.draft_save(lesson=lesson, fields=fields, by=request.user)
    wants_json = "application/json" in request.headers.get("Accept", "")
    if draft.spec is None:
        if wants_json:
            return JsonResponse({"error": _("The exercise has format problems."),
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
    validation = reads.validation(pk)
    if validation is None:
        raise Http404("There is no such validation.")
    _lesson_of, _exercise_of, draft = _editable(course, validation.slug)  # 404 unless ours
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
    exercise, draft = _editable(course, slug)[1:]
    if draft is None or draft.spec is None:
        messages.error(request, _("Nothing to publish: save a draft without problems first."))
        return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug]))
    if services.validated(draft) is None:
        messages.error(request, _("Validate this exact draft (and pass) before publishing."))
        return redirect(reverse("dashboard:exercise-edit", args=[course.slug, slug]))
    before = exercise.current_version_id if exercise else None
    exercise = services.publish(draft=draft)
    version = exercise.current_version
    assert version is not None  # publishing always leaves a current version
    if version.pk != before:
        messages.success(request, _("Published %(slug)s as version %(number)s. Regrade past "
                                    "submissions below if scores should follow.")
                         % {"slug": slug, "number": version.number})
    else:
        messages.success(request, _("Published %(slug)s; grading is unchanged (still version "
                                    "%(number)s).") % {"slug": slug, "number": version.number})
    return redirect(reverse("dashboard:exercise", args=[course.slug, slug]))
