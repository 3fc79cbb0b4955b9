"""The HTTP API of design.md: submit code, read a verdict."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import ratelimit
from accounts.models import current_user
from dashboard.access import may_read_submission
from dashboard.grades import latest_regrades
from dashboard.models import RegradeResult
from drafts.preferences import page_language, preferred_language
from grading import scoring
from grading.scoring import counted_score
from submissions import workers
from submissions.models import Submission
from submissions.selectors import exercise_to_submit, polled_submission
from submissions.services import (
    NOTICE_FIELDS,
    CodeRejected,
    SubmissionRefused,
    code_rejection,
    done_key,
    rate_limited_messages,
    stored_from_notice,
    submission_create,
    submission_rate,
    submission_rate_and_wait_slot,
)

MAX_WAIT_SECONDS = 25.0
# A long poll's slot frees itself this long after its wait at the latest (see ratelimit.slot).
WAIT_SLOT_MARGIN_SECONDS = 10.0


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def api_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """JSON 401 instead of a redirect to the login page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return _error(401, "Log in, or send 'Authorization: Token <your token>'.")
        return view(request, *args, **kwargs)

    return wrapped


def _read_code(request: HttpRequest) -> tuple[str | None, str, str | None]:
    """Return (code, kind, problem). Bytes that are not UTF-8 survive as surrogates."""
    text = request.body.decode("utf-8", errors="surrogateescape")
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, "", f"The body must be JSON like {{\"code\": \"...\"}} ({exc.msg})."
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        return None, "", 'The body must be a JSON object with a string field "code".'
    kind = body.get("kind", Submission.Kind.SUBMIT)
    if kind not in Submission.Kind.values:
        return None, "", 'The field "kind" must be "submit" or "run".'
    return body["code"], kind, None


def _rejected(request: HttpRequest, rejected: CodeRejected) -> JsonResponse:
    """400 (413: too large) with the reason in the caller's language as `error`, and in
    every page language as `messages`."""
    text = _in_callers_language(request, rejected.messages)
    return _error(rejected.status, text, reason=rejected.reason, messages=rejected.messages)


def _in_callers_language(request: HttpRequest, messages: dict[str, str]) -> str:
    """`messages[lang]` for the caller's saved (else active) language, English otherwise."""
    lang = preferred_language(request.user) or page_language()
    return messages.get(lang) or messages["en"]


# What a regrade's verdict does not replace: the row's own identity.
_ROW_KEYS = frozenset({"id", "exercise", "kind", "status", "queue", "version", "created_at"})


def verdict_json(sub: Submission, regrade: RegradeResult | None = None) -> dict[str, Any]:
    """The verdict JSON as it counts, the one the grades are made of (dashboard/grades.py).

    A finished regrade's verdict replaces the first one (`regraded` then gives the version
    it was graded against and the first outcome and score), and the score rule
    (grading/scoring.py) is applied, so a row graded before the rule never shows points a
    run that did not reach the end could not earn."""
    data = sub.to_json()
    if (regrade is not None and sub.status == Submission.Status.GRADED
            and isinstance(regrade.verdict, dict)):
        data.update({k: v for k, v in regrade.verdict.items() if k not in _ROW_KEYS})
        data["outcome"] = regrade.outcome
        data["regraded"] = {"version": regrade.version.number, "outcome": sub.outcome,
                            "score": counted_score(sub.outcome, sub.score)}
    return scoring.apply(data)


def _wait_seconds(request: HttpRequest) -> float | None:
    try:
        return min(MAX_WAIT_SECONDS, max(0.0, float(request.GET.get("wait", 0))))
    except ValueError:
        return None


@require_POST
@api_login_required
def submission_create_view(request: HttpRequest, slug: str) -> HttpResponse:
    """Submit; with `?wait=S` the answer waits (up to S s) for the verdict: one round trip."""
    wait = _wait_seconds(request)
    if wait is None:
        return _error(400, "wait must be a number of seconds.")
    exercise = exercise_to_submit(slug)  # with its current version, one precompiled query
    if exercise is None:
        return _error(404, f"There is no exercise {slug!r}.", exercise=slug)
    code, kind, problem = _read_code(request)
    if problem is not None or code is None:
        return _error(400, problem or "No code.")
    # Before the rate limit and before any row: refused code is never an attempt.
    rejected = code_rejection(code)
    if rejected is not None:
        return _rejected(request, rejected)
    # The rate limit and, for a submit that will wait, a long-poll slot: one round trip.
    slot_token = None
    if wait:
        decision, slot_token = submission_rate_and_wait_slot(
            request.user, wait + WAIT_SLOT_MARGIN_SECONDS)
    else:
        decision = submission_rate(request.user)
    with ratelimit.held_slot("long-poll", str(request.user.pk), slot_token) as held:
        if not decision.allowed:
            texts = rate_limited_messages(decision.retry_after)
            response = _error(429, _in_callers_language(request, texts),
                              retry_after=decision.retry_after, reason="rate-limited",
                              messages=texts)
            response["Retry-After"] = str(decision.retry_after)
            return response
        try:
            sub = submission_create(user=request.user, exercise=exercise, code=code, kind=kind)
        except CodeRejected as refusal:
            return _rejected(request, refusal)
        except SubmissionRefused as refused:  # one in flight per student, or budget used up
            response = _error(429, _in_callers_language(request, refused.messages),
                              retry_after=refused.retry_after, reason=refused.reason,
                              messages=refused.messages)
            response["Retry-After"] = str(refused.retry_after)
            return response
        # Beyond the long-poll cap (no slot) the answer is the current status at once.
        if wait and held and sub.status != Submission.Status.GRADED:
            sub = _wait_graded(sub, wait)
    url = reverse("api-submission", args=[sub.pk])
    return JsonResponse({**verdict_json(sub), "url": url}, status=202,
                        headers={"Location": url})


def _visible_submission(request: HttpRequest, pk: int) -> Submission | None:
    sub = polled_submission(pk)  # one precompiled query, whatever its status
    if sub is None:
        return None
    # Course-scoped, as in the dashboard: staff of another course get nothing here.
    if not may_read_submission(request.user, sub):
        return None  # same answer as "does not exist": ids reveal nothing
    return sub


@require_GET
@api_login_required
def submission_detail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The verdict JSON; `?wait=S` (up to 25 s) answers as soon as it is graded (long poll)."""
    sub = _visible_submission(request, pk)
    if sub is None:
        return _error(404, f"There is no submission {pk} of yours.")
    wait = _wait_seconds(request)
    if wait is None:
        return _error(400, "wait must be a number of seconds.")
    if wait and sub.status != Submission.Status.GRADED:
        sub = _wait_graded_capped(request, sub, wait)
    # `code`: the attempt's code, for the owner and the course's staff only (the only users
    # _visible_submission lets through); the lesson page shows it beside an old verdict.
    # A regrade replaces only a graded verdict: a queued or running poll is one query.
    regrade = (latest_regrades([sub.pk], with_verdicts=True).get(sub.pk)
               if sub.status == Submission.Status.GRADED else None)
    return JsonResponse({**verdict_json(sub, regrade), "code": sub.code})


def _wait_graded_capped(request: HttpRequest, sub: Submission, wait: float) -> Submission:
    """`_wait_graded`, if the user has fewer than LONG_POLL_MAX_PER_USER waits open.

    Each open wait holds a web worker thread: beyond the cap (many tabs, a script) the
    answer is the current status at once, and the client polls again.
    """
    with ratelimit.slot(
        "long-poll", str(request.user.pk), settings.LONG_POLL_MAX_PER_USER,
        wait + WAIT_SLOT_MARGIN_SECONDS,
    ) as held:
        if not held:
            return sub
        return _wait_graded(sub, wait)


def _wait_graded(sub: Submission, wait: float) -> Submission:
    """Re-read the row until graded or `wait` is over, sleeping on the worker's notice.

    `sub` must be freshly read (or just created) and not graded.
    """
    deadline = time.monotonic() + wait
    key = done_key(sub.pk)
    # The caller has just created or read the row and seen it ungraded: wait first instead of
    # re-reading it at once (one query less per submission under load). No wake-up is lost:
    # the notice is a list entry that outlives a verdict stored before BLPOP starts.
    fresh = True
    stored: dict[str, Any] | None = None
    while True:
        if stored is not None:  # the worker's notice holds what it stored: no re-read
            for field, value in stored.items():
                setattr(sub, field, value)
        elif not fresh:
            sub.refresh_from_db(fields=list(NOTICE_FIELDS))
        fresh = False
        left = deadline - time.monotonic()
        if sub.status == Submission.Status.GRADED or left <= 0:
            return sub
        # Hand the database connection back (to the pool) while waiting: hundreds of
        # waiting students must not hold hundreds of PostgreSQL connections. An idle SQLite
        # connection holds no lock and no server: keep it (reopening one costs more CPU
        # than the submit's queries, issue #15).
        if not connection.in_atomic_block and connection.vendor != "sqlite":
            connection.close()
        try:
            # Wake every 5 s even without news: a notice is lost if Redis restarts meanwhile.
            popped = workers.redis_waiting_client().blpop(
                [key], timeout=max(0.01, min(left, 5.0)))
            stored = stored_from_notice(popped[1], sub) if popped else None
        except redis.RedisError:
            time.sleep(min(max(left, 0.0), 1.0))  # Redis away: poll the database gently


@require_GET
@api_login_required
def submission_list_view(request: HttpRequest, slug: str) -> HttpResponse:
    """The caller's own attempts at an exercise, newest first."""
    subs = (
        Submission.objects.filter(user=current_user(request), exercise__slug=slug)
        .select_related("exercise", "version")[:50]
    )
    regrades = latest_regrades([s.pk for s in subs], with_verdicts=True)
    return JsonResponse(
        {"submissions": [{**verdict_json(s, regrades.get(s.pk)), "code": s.code} for s in subs]}
    )


def submission_create_or_list(request: HttpRequest, slug: str) -> HttpResponse:
    """POST submits; GET lists the caller's own attempts."""
    if request.method == "POST":
        return submission_create_view(request, slug)
    return submission_list_view(request, slug)
