"""Celery entry points: take an id, claim the row, call the services."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready, worker_shutdown

from submissions import services, workers
from submissions.runner import execute

log = logging.getLogger(__name__)
MAX_TRIES = 3
_heartbeat = None


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def grade_submission(submission_id: int) -> None:
    sub = services.submission_claim(submission_id)
    if sub is None:
        return  # graded already, or another worker holds it: a re-delivery does nothing
    try:
        verdict = execute(sub.version.spec, sub.code, kind=sub.kind)
    except Exception as exc:
        log.exception("grading submission %s failed (try %s)", sub.pk, sub.tries)
        if sub.tries >= MAX_TRIES:
            services.submission_fail(sub, type(exc).__name__)
        else:
            services.submission_requeue(sub)
        return
    services.submission_finish(sub, verdict)


@worker_ready.connect
def _on_worker_ready(sender, **kwargs) -> None:
    global _heartbeat
    queues = [q.name for q in sender.app.amqp.queues.consuming_from]
    _heartbeat = workers.start_heartbeat(queues, sender.hostname)
    # Warm the sandbox pool now so the first student does not pay for importing torch.
    from sandbox import get_pool

    get_pool()


@worker_shutdown.connect
def _on_worker_shutdown(**kwargs) -> None:
    if _heartbeat is not None:
        _heartbeat.set()
