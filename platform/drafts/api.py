"""JSON endpoints of the lesson page: autosaved drafts and hints revealed one at a time."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from accounts.models import current_user
from courses.models import Exercise, pick_language
from drafts.models import Draft
from drafts.preferences import page_language
from submissions.api import api_login_required
from submissions.models import Submission


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _exercise(slug: str) -> Exercise | None:
    return (
        Exercise.objects.select_related("current_version")
        .filter(slug=slug, current_version__isnull=False)
        .first()
    )


def _draft_json(draft: Draft | None) -> dict:
    if draft is None:
        return {"code": None, "updated_at": None, "hints_shown": 0}
    return {
        "code": draft.code,
        "updated_at": draft.updated_at.isoformat(),
        "hints_shown": draft.hints_shown,
    }


@require_http_methods(["GET", "PUT", "POST"])
@api_login_required
def draft_view(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the caller's draft of a cell ({"code": null} if none). PUT/POST {"code"}: save it."""
    exercise = _exercise(slug)
    if exercise is None:
        return _error(404, f"There is no exercise {slug!r}.")
    draft = Draft.objects.filter(user=current_user(request), exercise=exercise).first()
    if request.method == "GET":
        return JsonResponse(_draft_json(draft))
    try:
        body = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _error(400, 'The body must be JSON like {"code": "..."}.')
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return _error(400, 'The body must be a JSON object with a string field "code".')
    code = body["code"]
    # Surrogates cannot be stored as UTF-8 text; a draft over the submission limit is useless.
    if len(code.encode("utf-8", "surrogatepass")) > settings.MAX_CODE_BYTES:
        return _error(413, f"A draft may hold at most {settings.MAX_CODE_BYTES // 1024} KB.")
    if _has_surrogates(code):
        code = code.encode("utf-8", "replace").decode("utf-8")
    if draft is None:
        draft = Draft.objects.create(user=current_user(request), exercise=exercise, code=code)
    elif draft.code != code:
        draft.code = code
        draft.save(update_fields=["code", "updated_at"])
    return JsonResponse(_draft_json(draft))


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _hint_texts(exercise: Exercise, lang: str) -> list[str]:
    return [pick_language(dict(h), lang).strip() for h in exercise.spec.hints]


@require_http_methods(["GET", "POST"])
@api_login_required
def hints_view(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the hints this user has already revealed. POST: reveal the next one, only that one.

    Hints come from the exercise's spec; the solution is never part of the answer.
    """
    exercise = _exercise(slug)
    if exercise is None:
        return _error(404, f"There is no exercise {slug!r}.")
    texts = _hint_texts(exercise, page_language())
    draft = Draft.objects.filter(user=current_user(request), exercise=exercise).first()
    shown = min(draft.hints_shown if draft else 0, len(texts))
    if request.method == "POST" and shown < len(texts):
        if draft is None:
            draft = Draft.objects.create(
                user=current_user(request), exercise=exercise, code=exercise.spec.starter
            )
        shown += 1
        draft.hints_shown = shown
        draft.save(update_fields=["hints_shown"])
    return JsonResponse({"count": len(texts), "shown": shown, "hints": texts[:shown]})


@require_http_methods(["GET"])
@api_login_required
def queue_position_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Where the caller's queued submission stands: 1 = next to be graded on its queue.

    One indexed count (status, created_at); the lesson page asks only while it waits.
    """
    sub = (
        Submission.objects.filter(pk=pk, user=current_user(request))
        .only("id", "status", "queue", "created_at")
        .first()
    )
    if sub is None:
        return _error(404, f"There is no submission {pk} of yours.")
    if sub.status != Submission.Status.QUEUED:
        return JsonResponse({"id": sub.pk, "status": sub.status, "position": None})
    ahead = Submission.objects.filter(
        status=Submission.Status.QUEUED, queue=sub.queue, created_at__lt=sub.created_at
    ).count()
    return JsonResponse({"id": sub.pk, "status": sub.status, "position": ahead + 1})
