"""Writes for submissions: create (validate, route, enqueue), claim and finish."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from courses.models import Exercise
from submissions import workers
from submissions.models import Submission

log = logging.getLogger(__name__)

# A running submission older than this is presumed lost with its worker and may be re-claimed.
STALE_RUNNING = timedelta(seconds=120)


def code_problem(code: str) -> str | None:
    """Return why `code` must not run, or None."""
    try:
        raw = code.encode("utf-8")
    except UnicodeEncodeError:
        return "Your code is not valid UTF-8 text."
    if len(raw) > settings.MAX_CODE_BYTES:
        return (
            f"Your code is {len(raw) // 1024} KB; the limit is "
            f"{settings.MAX_CODE_BYTES // 1024} KB."
        )
    if "\x00" in code:
        return "Your code contains a NUL byte; it looks like binary data, not Python text."
    return None


def _storable(code: str) -> str:
    """Keep what can be kept of rejected code (no surrogates, bounded size)."""
    safe = code.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    limit = settings.MAX_CODE_BYTES
    return safe if len(safe) <= limit else safe[:limit] + "\n# … cut: over the size limit\n"


def route(queue: str) -> tuple[str, bool]:
    """Pick the Celery queue for an exercise queue; say whether a worker serves it now."""
    try:
        live = workers.online()
    except redis.RedisError:
        return ("gpu" if queue == "gpu" else "cpu"), False
    if queue == "any":
        queue = "cpu" if live["cpu"] or not live["gpu"] else "gpu"
    return queue, live.get(queue, 0) > 0


def verdict_without_run(outcome: str, message: str, max_score: float) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "passed": False,
        "score": 0.0,
        "max_score": max_score,
        "checks": [],
        "stdout": "",
        "error": {"type": outcome, "message": message, "messages": {"en": message}},
        "duration_ms": 0,
    }


def submission_create(
    *, user: Any, exercise: Exercise, code: str, kind: str = Submission.Kind.SUBMIT
) -> Submission:
    """Store the submission, then queue it once the row is committed."""
    version = exercise.current_version
    assert version is not None, f"exercise {exercise.slug} has no version; run sync_lessons"
    spec = version.spec
    queue, served = route(spec.queue)
    sub = Submission(
        user=user, exercise=exercise, version=version, kind=kind, queue=queue,
        max_score=spec.max_score, code=code,
    )
    problem = code_problem(code)
    if problem is None and spec.queue == "gpu" and not served:
        problem = "No GPU worker is online right now, so this exercise cannot run. Try later."
        outcome = "queue_unavailable"
    else:
        outcome = "rejected"
    if problem is not None:
        sub.code = _storable(code)
        _finish_fields(sub, verdict_without_run(outcome, problem, spec.max_score))
        sub.save()
        return sub
    with transaction.atomic():
        sub.save()
        transaction.on_commit(lambda: enqueue(sub))
    return sub


def enqueue(sub: Submission) -> bool:
    """Publish the grading task; if the broker is down the sweeper publishes it later."""
    from submissions.tasks import grade_submission

    try:
        grade_submission.apply_async(
            (sub.pk,), queue=sub.queue, retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception as exc:  # kombu raises several types; the row stays queued either way
        log.warning("could not queue submission %s: %s", sub.pk, exc)
        return False
    return True


def submission_claim(submission_id: int) -> Submission | None:
    """Take a submission for grading, or None if another worker has it (or it is done)."""
    now = timezone.now()
    claimable = Q(status=Submission.Status.QUEUED) | Q(
        status=Submission.Status.RUNNING, started_at__lt=now - STALE_RUNNING
    )
    taken = Submission.objects.filter(claimable, pk=submission_id).update(
        status=Submission.Status.RUNNING, started_at=now, tries=F("tries") + 1
    )
    if taken != 1:
        return None
    return Submission.objects.select_related("exercise", "version").get(pk=submission_id)


def _finish_fields(sub: Submission, verdict: dict[str, Any]) -> None:
    sub.status = Submission.Status.GRADED
    sub.outcome = verdict["outcome"]
    sub.score = verdict.get("score")
    sub.max_score = verdict.get("max_score", sub.max_score)
    sub.verdict = verdict
    sub.finished_at = timezone.now()


def submission_finish(sub: Submission, verdict: dict[str, Any]) -> bool:
    """Store the verdict unless someone else already graded this submission."""
    _finish_fields(sub, verdict)
    done = Submission.objects.filter(pk=sub.pk, status=Submission.Status.RUNNING).update(
        status=sub.status, outcome=sub.outcome, score=sub.score, max_score=sub.max_score,
        verdict=sub.verdict, finished_at=sub.finished_at,
    )
    return done == 1


def submission_fail(sub: Submission, message: str) -> None:
    """The platform's fault, after retries: tell the student plainly."""
    text = f"The grader failed on our side ({message}). Please submit again; we are sorry."
    submission_finish(sub, verdict_without_run("internal_error", text, sub.max_score))


def submission_requeue(sub: Submission) -> None:
    """Hand a submission back to the queue after a platform failure."""
    Submission.objects.filter(pk=sub.pk, status=Submission.Status.RUNNING).update(
        status=Submission.Status.QUEUED
    )
    enqueue(sub)
