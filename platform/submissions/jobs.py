"""Background jobs kept as database rows: the one way to claim, publish and give up.

Three kinds of rows are jobs, each run by one Celery task: a `Submission` (graded by
`submissions.tasks.grade_submission`), a `RegradeResult` (`dashboard.tasks.
regrade_submission`) and a `Validation` (`dashboard.tasks.validate_exercise`). They share
the rules (docs/architecture.md, "Jobs"):

- the row exists before the message: the task is published when the transaction commits,
  and a message that never arrives is found again by the sweeper;
- a claim is one conditional UPDATE from "waiting" (or "running" past the running deadline)
  to "running", `tries` + 1, naming the worker; the new `tries` is the claim's token: only
  the claim holding it may finish or release the row, so a re-delivered or slow worker can
  never finish a row twice;
- after `settings.SUBMISSION_MAX_TRIES` claims a job is given up, visibly (the kind says how);
- the sweeper (`sweep`, on every worker's timer and `manage.py sweep`) takes back rows that
  are running on a worker whose heartbeat is gone, or past the running deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from celery.local import Proxy
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.utils.uuid import uuid

from submissions.compiled import Compiled, Marker, columns_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    """What the rules need to know of a job's table."""

    model: Any  # a model class with `status`, `started_at`, `tries`, `worker` fields
    waiting: str  # the status of a row waiting for a worker
    running: str = "running"


def max_tries() -> int:
    """Claims after which a job is given up (the same limit for every kind)."""
    return int(settings.SUBMISSION_MAX_TRIES)


def running_deadline() -> timedelta:
    """A job running longer than this is presumed lost with its worker."""
    return timedelta(seconds=settings.SUBMISSION_RUNNING_DEADLINE)


def heartbeat_grace() -> timedelta:
    """How long a fresh claim is trusted before a missing heartbeat counts (a worker's
    first beat may not have landed yet)."""
    return timedelta(seconds=max(10, settings.WORKER_HEARTBEAT_SECONDS * 3))


def claim(kind: Kind, pk: int, worker: str = "", now: datetime | None = None) -> bool:
    """Take the job for this worker; False if another worker has it, or it is done."""
    now = now or timezone.now()
    claimable = Q(status=kind.waiting) | Q(
        status=kind.running, started_at__lt=now - running_deadline())
    taken = kind.model.objects.filter(claimable, pk=pk).update(
        status=kind.running, started_at=now, tries=F("tries") + 1, worker=worker)
    return taken == 1


_NOW = Marker("now", datetime(1901, 2, 3, 4, 5, 6, 789, tzinfo=UTC))
_STALE = Marker("stale", datetime(1902, 3, 4, 5, 6, 7, 891, tzinfo=UTC))
_PK = Marker("pk", -987_654_321)
_WORKER = Marker("worker", "\x00worker")


@cache
def _claim_returning(kind: Kind, related: tuple[str, ...], vendor: str) -> Compiled:
    claimable = Q(status=kind.waiting) | Q(status=kind.running, started_at__lt=_STALE.value)
    returning = columns_of(kind.model)
    for name in related:
        returning += columns_of(kind.model, name)
    return Compiled.update_returning(
        kind.model.objects.filter(claimable, pk=_PK.value),
        {"status": kind.running, "started_at": _NOW.value, "tries": F("tries") + 1,
         "worker": _WORKER.value}, returning, _NOW, _STALE, _PK, _WORKER)


def claim_row(kind: Kind, pk: int, worker: str = "", related: tuple[str, ...] = (),
              now: datetime | None = None) -> Any | None:
    """`claim`, and the claimed row (with the rows its foreign keys `related` name) in the
    same statement (UPDATE … RETURNING); None if another worker has it, or it is done.
    Databases without RETURNING claim, then read the row."""
    now = now or timezone.now()
    model = kind.model
    if not connection.features.can_return_columns_from_insert:
        if not claim(kind, pk, worker, now):
            return None
        return model.objects.select_related(*related).get(pk=pk)
    rows = _claim_returning(kind, related, connection.vendor).rows(
        now=now, stale=now - running_deadline(), pk=pk, worker=worker)
    if not rows:
        return None
    values = list(rows[0])
    own = [f.attname for f in model._meta.concrete_fields]
    row = model.from_db(connection.alias, own, values[:len(own)])
    values = values[len(own):]
    for name in related:
        target = model._meta.get_field(name).related_model
        fields = [f.attname for f in target._meta.concrete_fields]
        setattr(row, name, target.from_db(connection.alias, fields, values[:len(fields)]))
        values = values[len(fields):]
    return row


def held(kind: Kind, row: Any) -> Any:
    """The row as a queryset, only while the claim that read it (its `tries`) holds it."""
    return kind.model.objects.filter(pk=row.pk, status=kind.running, tries=row.tries)


@cache
def _update_held_sql(kind: Kind, names: tuple[str, ...], vendor: str) -> str:
    meta = kind.model._meta
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(meta.get_field(name).column)} = %s" for name in names)
    where = " AND ".join(f"{qn(meta.get_field(name).column)} = %s"
                         for name in (meta.pk.name, "status", "tries"))
    return f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {where}"


def update_held(kind: Kind, row: Any, **values: Any) -> int:
    """`held(kind, row).update(**values)` for plain values (no expressions), with SQL built
    once per process: the ORM's compiling was most of storing a verdict's CPU (issue #15).
    Each value is prepared by its field, as the ORM's UPDATE does."""
    meta = kind.model._meta
    names = tuple(values)
    params = [meta.get_field(name).get_db_prep_save(value, connection)
              for name, value in values.items()]
    params += [row.pk, kind.running, row.tries]
    with connection.cursor() as cursor:
        cursor.execute(_update_held_sql(kind, names, connection.vendor), params)
        return int(cursor.rowcount)


def release(kind: Kind, row: Any, **fields: Any) -> bool:
    """Hand a job this claim holds back to the waiting state (then publish it again)."""
    return held(kind, row).update(status=kind.waiting, **fields) == 1


PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}


def publish(task: Any, pk: int, queue: str) -> bool:
    """Send the task now; if the broker is down the row waits and the sweeper sends it."""
    try:
        if task.app.conf.task_always_eager:  # Celery's run-it-here mode: apply_async runs it
            task.apply_async((pk,), queue=queue)
        else:
            send(task, pk, queue)
    except Exception as exc:  # kombu raises several types; the row stays waiting either way
        log.warning("could not queue %s(%s): %s", getattr(task, "name", task), pk, exc)
        return False
    return True


def send(task: Any, pk: int, queue: str) -> None:
    """Put `task(pk)` on `queue`: the message `task.apply_async((pk,), queue=queue)` sends
    (Celery's protocol 2, built by Celery's own `as_task_v2`), published through kombu to
    the queue by name, as Celery does for a direct exchange. apply_async spends ~0.15 ms of
    a submit's CPU on routing, option merging and argument reprs that are the same for every
    job here (benchmarks/RESULTS.md, ninth round)."""
    if isinstance(task, Proxy):  # a @shared_task: each attribute read looks the task up
        task = task._get_current_object()
    app = task.app
    headers, properties, body, _ = app.amqp.as_task_v2(
        uuid(), task.name, (pk,), {}, argsrepr=f"({pk},)", kwargsrepr="{}",
        time_limit=task.time_limit, soft_time_limit=task.soft_time_limit,
        ignore_result=task.ignore_result, reply_to=app.thread_oid)
    with app.producer_or_acquire() as producer:
        producer.publish(body, exchange="", routing_key=queue, serializer="json",
                         headers=headers, delivery_mode=2, retry=True,
                         retry_policy=PUBLISH_RETRY, **properties)


def publish_on_commit(task: Any, pk: int, queue: str) -> None:
    """Send the task once the row it names is committed (a worker must find the row)."""
    transaction.on_commit(lambda: publish(task, pk, queue))


def lost(kind: Kind, alive: set[str], now: datetime) -> Any:
    """Rows running on a worker whose heartbeat is gone, or past the running deadline."""
    return kind.model.objects.filter(status=kind.running).filter(
        Q(started_at__lt=now - running_deadline())
        | (Q(started_at__lt=now - heartbeat_grace()) & ~Q(worker__in=alive))
    )


def take_back(kind: Kind, rows: Any, *, give_up: Callable[[Any], bool],
              requeue: Callable[[Any], bool], limit: int = 500) -> tuple[int, int]:
    """For each lost row: give up after `max_tries()` claims, else requeue it (each action
    holds the row's claim token, so a worker finishing it meanwhile wins). Returns
    (requeued, given up)."""
    requeued = failed = 0
    for row in rows[:limit]:
        if row.tries >= max_tries():
            failed += bool(give_up(row))
        elif requeue(row):
            log.warning("sweeper: %s %s lost its worker %r; re-queued",
                        kind.model.__name__, row.pk, row.worker)
            requeued += 1
    return requeued, failed


@dataclass
class SweepReport:
    requeued_running: int = 0
    republished_queued: int = 0
    failed: int = 0

    def add(self, other: SweepReport) -> None:
        self.requeued_running += other.requeued_running
        self.republished_queued += other.republished_queued
        self.failed += other.failed

    def __str__(self) -> str:
        return (
            f"re-queued {self.requeued_running} stuck running, re-published "
            f"{self.republished_queued} stuck queued, gave up on {self.failed}"
        )


def sweep(now: datetime | None = None) -> SweepReport:
    """Every kind of job: submissions, then regrade results and validations."""
    from dashboard.services import sweep_dashboard_jobs
    from submissions.services import sweep as sweep_submissions

    now = now or timezone.now()
    report = sweep_submissions(now)
    report.add(sweep_dashboard_jobs(now))
    return report
