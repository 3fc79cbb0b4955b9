"""Celery tasks of the dashboard: validations run on the exercise's queue like submissions
do; regrades on its low-priority `-bulk` queue (services.bulk_queue)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db.models import F, Q
from django.utils import timezone

from courses.soundness import check_exercise
from dashboard import services
from dashboard.models import RegradeResult, Validation
from grading.spec import ExerciseSpec

log = logging.getLogger(__name__)
MAX_TRIES = 3
STALE_CLAIM_SECONDS = 120  # a result running longer is presumed lost with its worker


def execute(spec: ExerciseSpec, code: str, *, kind: str = "submit",
            author: bool = False) -> dict[str, Any]:
    """The worker's grading path (imported late: the grader lives in another app)."""
    from grading.runner import execute as run

    return run(spec, code, kind=kind, author=author)


def _claim_result(result_id: int) -> RegradeResult | None:
    now = timezone.now()
    claimable = Q(status=RegradeResult.Status.PENDING) | Q(
        status=RegradeResult.Status.RUNNING,
        started_at__lt=now - timedelta(seconds=STALE_CLAIM_SECONDS),
    )
    taken = RegradeResult.objects.filter(claimable, pk=result_id).update(
        status=RegradeResult.Status.RUNNING, started_at=now, tries=F("tries") + 1
    )
    if taken != 1:
        return None
    return RegradeResult.objects.select_related("submission", "version").get(pk=result_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def regrade_submission(result_id: int) -> None:
    result = _claim_result(result_id)
    if result is None:
        return  # done already, or another worker has it
    try:
        verdict = execute(result.version.spec, result.submission.code, kind="submit")
    except Exception as exc:
        log.exception("regrading submission %s failed (try %s)", result.submission_id,
                      result.tries)
        if result.tries >= MAX_TRIES:
            services.regrade_result_finish(result, None, error=type(exc).__name__)
        else:
            RegradeResult.objects.filter(pk=result.pk).update(status=RegradeResult.Status.PENDING)
            regrade_submission.apply_async((result.pk,), queue=services.bulk_queue(
                result.version.spec.queue), countdown=1)
        return
    services.regrade_result_finish(result, verdict)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def validate_exercise(validation_id: int) -> None:
    validation = services.validation_claim(validation_id)
    if validation is None:
        return
    # A version of its own, so the worker's reference cache never mixes drafts.
    spec = replace(ExerciseSpec.from_dict(validation.spec),
                   version=f"draft-{validation.spec_hash[:16]}")
    try:
        # An instructor's draft: it runs where references run, never beside students; the
        # worker serves the exercise's own queue, so its device is there.
        soundness = check_exercise(spec, lambda s, code: execute(s, code, author=True),
                                   gpu_available=True)
        report = soundness.to_dict()
    except Exception as exc:
        log.exception("validating %s failed", validation.slug)
        report = {"ok": False, "problems": [f"the grader failed: {type(exc).__name__}: {exc}"]}
    Validation.objects.filter(pk=validation.pk).update(
        status=Validation.Status.DONE, passed=report["ok"], report=report,
        finished_at=timezone.now(),
    )
