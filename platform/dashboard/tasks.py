"""Celery tasks of the dashboard: validations run on the exercise's queue like submissions
do; regrades on its low-priority `-bulk` queue (services.bulk_queue)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from celery import shared_task

from courses.soundness import check_exercise
from dashboard import services
from dashboard.models import RegradeResult
from grading.spec import ExerciseSpec
from submissions import jobs

log = logging.getLogger(__name__)


def execute(spec: ExerciseSpec, code: str, *, kind: str = "submit",
            author: bool = False) -> dict[str, Any]:
    """The worker's grading path (imported late: web processes must not load torch)."""
    from grading.runner import execute as run

    return run(spec, code, kind=kind, author=author)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def regrade_submission(self: Any, result_id: int) -> None:
    if not jobs.claim(services.REGRADE_JOB, result_id, self.request.hostname or ""):
        return  # done already, or another worker has it
    result = RegradeResult.objects.select_related("submission", "version").get(pk=result_id)
    try:
        spec = result.version.spec.for_student(result.submission.user_id)  # their variant
        verdict = execute(spec, result.submission.code, kind="submit")
    except Exception as exc:
        log.exception("regrading submission %s failed (try %s)", result.submission_id,
                      result.tries)
        if result.tries >= jobs.max_tries():
            services.regrade_result_finish(result, None, error=type(exc).__name__)
        else:
            services.regrade_result_retry(result)
        return
    services.regrade_result_finish(result, verdict)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def validate_exercise(self: Any, validation_id: int) -> None:
    validation = services.validation_claim(validation_id, self.request.hostname or "")
    if validation is None:
        return
    # A version of its own, so the worker's reference cache never mixes drafts.
    spec = replace(ExerciseSpec.from_dict(validation.spec),
                   version=f"draft-{validation.spec_hash[:16]}")
    try:
        # An instructor's draft: it runs where references run, never beside students; the
        # worker serves the exercise's own queue, so its device is there.
        soundness = check_exercise(spec, lambda s, code: execute(s, code, author=True),
                                   gpu_available=True,
                                   run=lambda s, code: execute(s, code, kind="run", author=True))
        report = soundness.to_dict()
    except Exception as exc:
        log.exception("validating %s failed", validation.slug)
        report = {"ok": False, "problems": [f"the grader failed: {type(exc).__name__}: {exc}"]}
    services.validation_finish(validation, report)
