from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language

from courses.models import Exercise, Lesson, pick_language
from courses.rendering import render_markdown, render_prose
from courses.selectors import best_scores, lessons_with_progress, passed_exercise_ids


def _lang() -> str:
    return "zh-hans" if (get_language() or "en").startswith("zh") else "en"


@login_required
def course_index(request: HttpRequest) -> HttpResponse:
    lang = _lang()
    rows = [
        {**row, "title": pick_language(row["lesson"].title, lang),
         "summary": pick_language(row["lesson"].summary, lang)}
        for row in lessons_with_progress(request.user)
    ]
    return render(request, "courses/index.html", {"rows": rows})


@login_required
def lesson_page(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = Lesson.objects.filter(slug=slug).first()
    if lesson is None:
        raise Http404(f"There is no lesson {slug!r}.")
    lang = _lang()
    exercises = {
        e.slug: e
        for e in Exercise.objects.filter(lesson=lesson, current_version__isnull=False)
        .select_related("current_version")
    }
    passed = passed_exercise_ids(request.user)
    best = best_scores(request.user, list(exercises.values()))
    blocks, toc = render_prose(pick_language(lesson.prose, lang))
    items = []
    placed = set()
    for block in blocks:
        if block.kind == "exercise":
            exercise = exercises.get(block.value)
            if exercise is None:
                continue
            placed.add(exercise.slug)
            items.append(_exercise_item(exercise, lang, passed, best))
        else:
            items.append({"kind": "html", "html": block.value})
    for slug_, exercise in exercises.items():  # exercises the prose forgot still get a cell
        if slug_ not in placed:
            items.append(_exercise_item(exercise, lang, passed, best))
    lessons = list(Lesson.objects.all())
    index = [x.pk for x in lessons].index(lesson.pk)
    context = {
        "lesson": lesson,
        "title": pick_language(lesson.title, lang),
        "items": items,
        "toc": toc,
        "previous": lessons[index - 1] if index > 0 else None,
        "next": lessons[index + 1] if index + 1 < len(lessons) else None,
    }
    return render(request, "courses/lesson.html", context)


def _exercise_item(exercise: Exercise, lang: str, passed: set[int], best: dict[int, float]) -> dict:
    data = exercise.public_data(lang)
    return {
        "kind": "exercise",
        "exercise": exercise,
        "data": data,
        "prompt_html": render_markdown(data["prompt"]),
        "passed": exercise.id in passed,
        "best": best.get(exercise.id),
    }
