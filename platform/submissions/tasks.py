"""Celery entry points: take an id, claim the row, call the services."""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from lti import hooks as lti_hooks
from submissions import jobs, services, workers

log = logging.getLogger(__name__)
_stops: list[Any] = []
# The database being away (restart, failover, network blip) is worth waiting out.
DB_DOWN = (OperationalError, InterfaceError)
FINISH_PATIENCE_SECONDS = 60


def _backoff(retries: int) -> float:
    return min(30.0, 0.5 * 2**retries)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             max_retries=10)
def grade_submission(self, submission_id: int) -> None:
    try:
        sub = services.submission_claim(submission_id, worker=self.request.hostname or "")
    except DB_DOWN as exc:
        connection.close()
        log.warning("database unavailable claiming submission %s (retry %s): %s",
                    submission_id, self.request.retries, exc)
        # Past max_retries the row stays queued and the sweeper re-publishes it.
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    if sub is None:
        return  # graded already, or another worker holds it: a re-delivery does nothing
    # Imported here, not at the top: web processes import this module to publish the task
    # and must not load torch (tens of MB, and a slower garbage collector for every request).
    from grading.runner import execute

    usage: dict[str, float] = {}
    started = time.monotonic()
    try:
        # The student's own variant of the exercise (itself when it has none).
        spec = sub.version.spec.for_student(sub.user_id)
        verdict = execute(spec, sub.code, kind=sub.kind, usage=usage)
    except Exception as exc:
        log.exception("grading submission %s failed (try %s)", sub.pk, sub.tries)
        reason = type(exc).__name__
        if sub.tries >= jobs.max_tries():
            _store(lambda: services.submission_fail(sub, reason), sub.pk)
        else:
            _store(lambda: services.submission_requeue(sub), sub.pk)
        return
    # Charged to the student's sandbox budget only once a verdict is stored (a platform
    # failure above costs them nothing).
    charge = services.measured_charge(usage, (time.monotonic() - started) * 1000)
    # Once stored, an LMS-launched student's grade goes back to the LMS (lti/hooks.py).
    _store(lambda: services.submission_finish(sub, verdict, charge)
           and lti_hooks.submission_graded(sub), sub.pk)


def _store(write: Any, submission_id: int) -> None:
    """Write a result, waiting out a short database outage rather than losing the work.

    If the database stays away longer, the row stays `running` and the sweeper re-queues it.
    """
    deadline = time.monotonic() + FINISH_PATIENCE_SECONDS
    attempt = 0
    while True:
        try:
            write()
            return
        except DB_DOWN as exc:
            connection.close()
            if time.monotonic() > deadline:
                log.error("could not store submission %s: %s", submission_id, exc)
                return
            log.warning("database unavailable storing submission %s: %s", submission_id, exc)
            time.sleep(_backoff(attempt))
            attempt += 1
        except DatabaseError:
            log.exception("could not store submission %s", submission_id)
            return


@worker_ready.connect
def _on_worker_ready(sender, **kwargs) -> None:
    queues = list(sender.app.amqp.queues.consume_from)
    _stops.append(workers.start_heartbeat(queues, sender.hostname))
    # One sweeper for every kind of job: submissions, regrade results, validations.
    _stops.append(workers.start_sweeper(jobs.sweep, settings.SWEEP_INTERVAL_SECONDS))
    # Warm the sandbox pools now so the first student does not pay for importing torch;
    # the reference pool (warm parents that never serve students) and the companion (warm
    # parents with pandas and the first optimizer as well, for the exercises that use
    # them: sandbox/pool.py ON_DEMAND) start beside it.
    from sandbox import get_pool

    get_pool().reference_pool()
    get_pool().companion()


@worker_shutdown.connect
def _on_worker_shutdown(**kwargs) -> None:
    for stop in _stops:
        stop.set()
