"""The student's pages: the course index with progress, and a lesson with its exercise cells."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.models import current_user
from courses.feedback_ui import feedback_strings
from courses.models import Exercise, pick_language
from courses.rendering import highlight_python, render_markdown, render_prose, strip_title
from courses.selectors import (
    attempts_by_exercise,
    best_scores,
    lessons_with_progress,
    passed_exercise_ids,
    visible_lessons,
)
from dashboard.grades import counts, optional_reason, student_deadlines
from drafts.models import Draft
from drafts.preferences import page_language, use_preferred_language


@login_required
@use_preferred_language
def course_index(request: HttpRequest) -> HttpResponse:
    lang = page_language()
    rows = [
        {**row, "title": pick_language(row["lesson"].title, lang),
         "summary": pick_language(row["lesson"].summary, lang),
         "complete": row["total"] > 0 and row["done"] == row["total"]}
        for row in lessons_with_progress(request.user)
    ]
    return render(request, "courses/index.html", {"rows": rows})


@login_required
@use_preferred_language
def lesson_page(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = visible_lessons(request.user).filter(slug=slug).first()
    if lesson is None:  # no such lesson, or not open yet (lesson.yaml `opens`)
        raise Http404(f"There is no lesson {slug!r}.")
    lang = page_language()
    exercises = {
        e.slug: e
        for e in Exercise.objects.filter(lesson=lesson, current_version__isnull=False)
        .select_related("current_version")
    }
    ex_list = list(exercises.values())
    state = {
        "passed": passed_exercise_ids(request.user),
        "best": best_scores(request.user, ex_list),
        "attempts": attempts_by_exercise(request.user, ex_list),
        "drafts": {d.exercise_id: d for d in Draft.objects.filter(
            user=current_user(request), exercise__in=ex_list)},
        "due": student_deadlines(request.user, ex_list),
        "user_id": request.user.pk,
    }
    blocks = render_prose(strip_title(pick_language(lesson.prose, lang)))
    items: list[dict[str, Any]] = []
    toc: list[dict[str, Any]] = []
    placed = set()
    for block in blocks:
        if block.kind == "exercise":
            exercise = exercises.get(block.value)
            if exercise is None:
                continue
            placed.add(exercise.slug)
            items.append(_exercise_item(exercise, lang, state))
        else:
            items.append({"kind": "html", "html": block.value})
            toc += [{"id": i, "title": t, "exercise": False} for i, t in block.headings]
            continue
        toc.append(_toc_entry(items[-1]))
    for slug_, exercise in exercises.items():  # exercises the prose forgot still get a cell
        if slug_ not in placed:
            items.append(_exercise_item(exercise, lang, state))
            toc.append(_toc_entry(items[-1]))
    lessons = list(visible_lessons(request.user))
    index = [x.pk for x in lessons].index(lesson.pk)
    previous = lessons[index - 1] if index > 0 else None
    following = lessons[index + 1] if index + 1 < len(lessons) else None
    # Optional exercises count in neither x nor n of "x of n" (each says why on its cell).
    cells = [i for i in items if i["kind"] == "exercise" and not i["optional"]]
    context = {
        "lesson": lesson,
        "title": pick_language(lesson.title, lang),
        "items": items,
        "toc": toc,
        "done": sum(1 for c in cells if c["passed"]),
        "total": len(cells),
        "previous": previous,
        "previous_title": pick_language(previous.title, lang) if previous else "",
        "next": following,
        "next_title": pick_language(following.title, lang) if following else "",
        "ui": ui_strings(),
        "page_lang": lang,
    }
    return render(request, "courses/lesson.html", context)


def _toc_entry(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"exercise-{item['data']['slug']}",
        "title": item["data"]["title"],
        "exercise": True,
        "passed": item["passed"],
    }


def _exercise_item(exercise: Exercise, lang: str, state: dict[str, Any]) -> dict[str, Any]:
    data = exercise.public_data(lang)
    draft = state["drafts"].get(exercise.id)
    hints = [pick_language(dict(h), lang).strip() for h in exercise.spec.hints]
    shown = min(draft.hints_shown, len(hints)) if draft else 0
    return {
        "kind": "exercise",
        "exercise": exercise,
        "data": data,
        "prompt_html": render_markdown(data["prompt"]),
        "setup_html": highlight_python(data["setup"]) if data["setup"].strip() else "",
        "passed": exercise.id in state["passed"],
        "optional": optional_reason(exercise) if not counts(exercise) else "",
        "due": state["due"].due_for(state["user_id"], exercise.id),
        "best": state["best"].get(exercise.id),
        # The editor opens on the saved draft, else on the starter code.
        "code": draft.code if draft is not None else data["starter"],
        "draft_saved_at": draft.updated_at.isoformat() if draft is not None else "",
        "attempts": state["attempts"].get(exercise.id, []),
        # Read by lesson.js through json_script (no inline script, CSP-safe).
        "state_id": f"cell-{exercise.slug}",
        "state": {
            "attempts": state["attempts"].get(exercise.id, []),
            "hints": hints[:shown],
            "hint_count": len(hints),
        },
    }


def ui_strings() -> dict[str, str]:
    """Every text the lesson script shows, in the page language (passed via json_script):
    the feedback component's (shared with the dashboard) and the lesson page's own."""
    return {
        **feedback_strings(),
        "sending": _("Sending…"),
        "queued": _("Queued…"),
        "queued_position": _("Queued, position %(position)s…"),
        "running": _("Running…"),
        "done": _("Done"),
        "could_not_send": _("Could not send your code: %(message)s"),
        "saved": _("Draft saved"),
        "saved_locally": _("Saved in this browser; not yet on the server"),
        "draft_too_large": _("Too large to save on the server: kept in this browser only."),
        "draft_refused": _("The server refused this draft (%(message)s): kept in this browser "
                           "only."),
        "restore": _("Restore"),
        "restored": _("Attempt restored into the editor (Ctrl-Z brings your text back)."),
        "no_attempts": _("No attempts yet."),
        "hint_button": _("Show a hint (%(next)s of %(count)s)"),
        "no_more_hints": _("No more hints"),
        "pending": _("pending"),
        "progress": _("%(done)s of %(total)s exercises passed"),
        "last_attempt": _("Your last attempt (%(when)s)"),
        "show_attempt": _("Show this attempt's feedback and code"),
        "attempt_of": _("Attempt of %(when)s (read-only)"),
        "attempt_code": _("The code of this attempt"),
        "close": _("Close"),
        "loading": _("Loading…"),
        "late": _("late"),
    }
