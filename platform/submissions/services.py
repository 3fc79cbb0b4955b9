"""Writes for submissions: create (validate, route, enqueue), claim and finish."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts import ratelimit
from courses.models import Exercise
from grading.code import check_code
from grading.verdict import verdict_without_run
from submissions import jobs, workers
from submissions.jobs import SweepReport
from submissions.models import Submission
from submissions.selectors import admission_rows

log = logging.getLogger(__name__)


class SubmissionRefused(Exception):
    """The student must wait before this submission can be queued (HTTP 429).

    `reason` is "busy" (another of their submissions is being graded) or "budget" (their
    sandbox time for the window is used up); `retry_after` is in whole seconds.
    """

    def __init__(self, messages: dict[str, str] | str, *, retry_after: int, reason: str
                 ) -> None:
        messages = {"en": messages} if isinstance(messages, str) else messages
        super().__init__(messages["en"])
        self.message = messages["en"]
        self.messages = messages  # every page language, like CodeRejected and verdicts
        self.retry_after = max(1, int(retry_after))
        self.reason = reason


EMPTY_CODE = {
    "en": "There is no code to send: write your answer in the cell first.",
    "zh-hans": "没有可以提交的代码：请先在代码框里写下你的答案。",
}


class CodeRejected(Exception):
    """Code that never becomes a submission: empty, not UTF-8, a NUL byte (HTTP 400) or
    too large (HTTP 413). No row is stored, so it can never count as an attempt, in a grade
    or in a statistic; `messages` says why in every page language."""

    def __init__(self, reason: str, messages: dict[str, str]) -> None:
        super().__init__(messages["en"])
        self.reason = reason  # "empty" | grading.code's reasons ("too-large", "not-utf8", "nul")
        self.messages = messages
        self.status = 413 if reason == "too-large" else 400


def code_rejection(code: str) -> CodeRejected | None:
    """Why `code` may not be submitted (or run), or None."""
    if not code.strip():
        return CodeRejected("empty", dict(EMPTY_CODE))
    problem = check_code(code)[1]
    return CodeRejected(problem.reason, dict(problem.messages)) if problem else None


_online_cache: tuple[float, dict[str, int]] = (float("-inf"), {})
ONLINE_CACHE_SECONDS = 2.0


def _online() -> dict[str, int]:
    """workers.online(), remembered for a moment: a SCAN per submission is wasted work, and
    a two-second-old answer routes just as well (heartbeats live 3 × 5 s anyway)."""
    global _online_cache
    at, live = _online_cache
    now = time.monotonic()
    if now - at > ONLINE_CACHE_SECONDS:
        live = workers.online()
        _online_cache = (now, live)
    return live


def route(queue: str) -> tuple[str, bool]:
    """Pick the Celery queue for an exercise queue; say whether a worker serves it now."""
    try:
        live = _online()
    except redis.RedisError:
        return ("gpu" if queue == "gpu" else "cpu"), False
    if queue == "any":
        queue = "cpu" if live["cpu"] or not live["gpu"] else "gpu"
    return queue, live.get(queue, 0) > 0


def submission_rate(user: Any) -> ratelimit.Decision:
    """Count one submission (submit or run) against the student's rate; say if it may go."""
    rate = ratelimit.Rate.parse(settings.SUBMISSION_RATE_LIMIT)
    # date_joined too: a user re-created with a reused id (test databases) starts afresh.
    joined = getattr(user, "date_joined", None)
    return ratelimit.hit("submit", f"{user.pk}:{joined.timestamp() if joined else ''}", rate)


def submission_rate_and_wait_slot(user: Any, ttl: float) -> tuple[ratelimit.Decision,
                                                                 str | None]:
    """`submission_rate`, and one of the user's long-poll slots (settings.
    LONG_POLL_MAX_PER_USER) for a submit that waits for its verdict: one Redis round trip.
    The slot's token (None: none free) goes to `ratelimit.held_slot("long-poll", …)`."""
    rate = ratelimit.Rate.parse(settings.SUBMISSION_RATE_LIMIT)
    joined = getattr(user, "date_joined", None)
    return ratelimit.hit_and_slot(
        "submit", f"{user.pk}:{joined.timestamp() if joined else ''}", rate,
        "long-poll", str(user.pk), settings.LONG_POLL_MAX_PER_USER, ttl)


def rate_limited_messages(retry_after: int) -> dict[str, str]:
    """Why a submit got 429 from the rate limit, in every page language."""
    count, _, seconds = settings.SUBMISSION_RATE_LIMIT.partition("/")
    return {
        "en": f"You are submitting faster than the grader lets one student go "
              f"({count} per {seconds} seconds). "
              f"Take a breath, read the last verdict, and try again in {retry_after} s.",
        "zh-hans": f"你提交得太快了：评分器每名学生 {seconds} 秒内只接受 {count} 次提交。"
                   f"先歇一下，读一读上一次的评分结果，{retry_after} 秒后再试。",
    }


def rate_limited_message(retry_after: int) -> str:
    return rate_limited_messages(retry_after)["en"]


def submission_create(
    *, user: Any, exercise: Exercise, code: str, kind: str = Submission.Kind.SUBMIT
) -> Submission:
    """Store the submission, supersede the student's older queued one, queue it on commit.

    Raises CodeRejected, before any row exists, for code that may not be submitted (see
    `code_rejection`); SubmissionRefused when the student already has a submission running
    on this queue, or has used up their sandbox time for the window (see `_admit`).
    """
    rejected = code_rejection(code)
    if rejected is not None:
        raise rejected
    version = exercise.current_version
    assert version is not None, f"exercise {exercise.slug} has no version; run sync_lessons"
    spec = version.spec
    queue, served = route(spec.queue)
    sub = Submission(
        user=user, exercise=exercise, version=version, kind=kind, queue=queue,
        max_score=spec.max_score, code=code, queued_at=timezone.now(),
    )
    if spec.queue == "gpu" and not served:
        problem = "No GPU worker is online right now, so this exercise cannot run. Try later."
        _finish_fields(sub, verdict_without_run("queue_unavailable", problem, spec.max_score))
        sub.save()
        return sub
    with transaction.atomic():
        _admit(sub)
        transaction.on_commit(lambda: enqueue(sub))
    return sub


# --- Fairness: one submission in flight per student and queue, and a sandbox budget -------


def _admit(sub: Submission) -> None:
    """Save `sub` as the student's only queued-or-running submission on its queue, or raise
    SubmissionRefused (the caller's transaction then rolls everything here back, the new
    row included).

    - one running already: refused (429), so a student holds at most one sandbox per queue;
    - one queued (not yet claimed): superseded, the newest wins, as before;
    - sandbox time for the window used up: refused (429) until old runs leave the window.

    Race-free, in two statements when nothing of the student's is in flight (the usual
    case), three when an older one waits to be superseded (PostgreSQL adds the lock). The
    student's user row is locked (SELECT … FOR UPDATE; SQLite's IMMEDIATE transaction
    already serialises writers) so two submits of one student are admitted one after the
    other: no row of theirs becomes queued meanwhile. One read finds what is in flight
    together with the runs charged in the budget window; then the new row is inserted and,
    if older ones were queued, they are superseded by a conditional UPDATE. A worker may
    claim one of those between the read and the UPDATE (a claim is its own conditional
    UPDATE): the UPDATE then changes fewer rows than were read, and the new row is refused
    as if the claim had come first.
    """
    now = timezone.now()
    if connection.features.has_select_for_update:
        list(get_user_model().objects.select_for_update().filter(pk=sub.user_id)
             .values_list("pk"))
    window = now - timedelta(seconds=settings.SANDBOX_BUDGET_WINDOW_SECONDS)
    rows = admission_rows(sub.user_id, sub.queue, window)
    mine = [(pk, status) for pk, queue, status, *_ in rows if queue == sub.queue
            and status in (Submission.Status.QUEUED, Submission.Status.RUNNING)]
    running = [pk for pk, status in mine if status == Submission.Status.RUNNING]
    if running:
        raise _busy_refusal(running[0], now)
    over = _budget_refusal(
        [(finished, [wall or 0, cpu or 0]) for _, _, _, finished, wall, cpu in rows
         if finished is not None and finished > window and (wall or cpu)], now)
    if over is not None:
        raise over
    sub.save()
    queued = [pk for pk, _ in mine]
    if queued and supersede_older(sub) < len(queued):
        # A worker claimed one since the read (or the sweeper gave one up): refused if it
        # is running now.
        claimed = (Submission.objects.filter(pk__in=queued, status=Submission.Status.RUNNING)
                   .order_by("pk").values_list("pk", flat=True).first())
        if claimed is not None:
            raise _busy_refusal(claimed, now)


def _busy_refusal(pk: int, now: datetime) -> SubmissionRefused:
    """The refusal for a submission while `pk` (the student's) is being graded."""
    return _busy_message(Submission.objects.select_related("exercise", "version").get(pk=pk),
                         now)


def _busy_message(busy: Submission, now: datetime) -> SubmissionRefused:
    wall = _wall_limit(busy)
    elapsed = (now - busy.started_at).total_seconds() if busy.started_at else 0.0
    # Its run ends within its wall limit; past that the sweeper is taking it back.
    retry_after = math.ceil(wall - elapsed) if elapsed < wall else 5
    submit = busy.kind == Submission.Kind.SUBMIT
    what, what_zh = ("submission", "提交") if submit else ("run", "运行")
    return SubmissionRefused({
        "en": f"Your {what} #{busy.pk} ({busy.exercise.slug}) is still being graded. The "
              "grader takes one submission per student at a time: wait for its verdict, then "
              f"send this one again (in about {_duration_text(retry_after)}).",
        "zh-hans": f"你的{what_zh} #{busy.pk}（{busy.exercise.slug}）还在评分中。评分器每名学生"
                   "同一时间只处理一个提交：请等它出结果，再重新发送这一个"
                   f"（大约 {_duration_text(retry_after, 'zh-hans')} 后）。",
    }, retry_after=retry_after, reason="busy")


def _wall_limit(sub: Submission) -> float:
    try:
        wall = float((sub.version.spec.limits or {}).get("wall_seconds", DEFAULT_WALL_SECONDS))
    except (TypeError, ValueError, AttributeError):
        wall = DEFAULT_WALL_SECONDS
    return wall if math.isfinite(wall) and wall > 0 else DEFAULT_WALL_SECONDS


DEFAULT_WALL_SECONDS = 10.0  # sandbox.Limits.wall_seconds (not imported: web stays light)


def _duration_text(seconds: int, lang: str = "en") -> str:
    s, mins = ("秒", "分钟") if lang == "zh-hans" else ("s", "min")
    if seconds < 90:
        return f"{seconds} {s}"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} {mins} {rest} {s}" if rest else f"{minutes} {mins}"


def budget_refusal(user_id: int, now: datetime | None = None) -> SubmissionRefused | None:
    """SubmissionRefused if the student used up their sandbox wall or CPU time for the
    window (SANDBOX_BUDGET_*), else None. Retry-After is exact: the moment enough of the
    charged runs have left the sliding window to bring the total under the budget."""
    now = now or timezone.now()
    window = settings.SANDBOX_BUDGET_WINDOW_SECONDS
    rows = [
        (finished, [wall or 0, cpu or 0]) for finished, wall, cpu in Submission.objects.filter(
            user_id=user_id, finished_at__gt=now - timedelta(seconds=window)
        ).filter(Q(sandbox_ms__gt=0) | Q(cpu_ms__gt=0))
        .values_list("finished_at", "sandbox_ms", "cpu_ms")
        if finished is not None
    ]
    return _budget_refusal(rows, now)


def _budget_refusal(rows: list[tuple[datetime, list[int]]], now: datetime
                    ) -> SubmissionRefused | None:
    """budget_refusal's rule over (finished_at, [wall ms, cpu ms]) of the charged runs
    inside the window, in any order."""
    rows = sorted(rows, key=lambda row: row[0])
    window = settings.SANDBOX_BUDGET_WINDOW_SECONDS
    for index, budget, what, what_zh in (
        (0, settings.SANDBOX_BUDGET_WALL_SECONDS, "grader time", "评分时间"),
        (1, settings.SANDBOX_BUDGET_CPU_SECONDS, "grader CPU time", "评分 CPU 时间"),
    ):
        budget_ms = budget * 1000
        used = sum(ms[index] for _, ms in rows)
        if budget <= 0 or used < budget_ms:
            continue
        left, free_at = used, now + timedelta(seconds=window)
        for finished, ms in rows:
            left -= ms[index]
            if left < budget_ms:
                free_at = finished + timedelta(seconds=window)
                break
        retry_after = max(1, math.ceil((free_at - now).total_seconds()))
        return SubmissionRefused({
            "en": f"You have used {used / 1000:.0f} s of {what} in the last "
                  f"{_duration_text(window)}; each student may use {budget} s in that time, "
                  "so that nobody's runs keep the grader from the rest of the class. You can "
                  f"submit again in {_duration_text(retry_after)}.",
            "zh-hans": f"在过去 {_duration_text(window, 'zh-hans')} 内你已用掉 {used / 1000:.0f} 秒"
                       f"{what_zh}；每名学生在这段时间里最多可用 {budget} 秒，以免某个人的运行"
                       "占住评分器、耽误全班。你可以在 "
                       f"{_duration_text(retry_after, 'zh-hans')} 后再提交。",
        }, retry_after=retry_after, reason="budget")
    return None


@dataclass(frozen=True)
class Charge:
    """Sandbox time one finished submission costs its student (milliseconds)."""

    wall_ms: int = 0
    cpu_ms: int = 0


MAX_CHARGE_MS = 2**31 - 1  # the columns' range


def _plausible_ms(value: Any, upper: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0 <= value <= upper else None


def measured_charge(usage: Mapping[str, Any], worker_ms: float, cpus: int = 0) -> Charge:
    """The charge for a run, from figures taken outside the run.

    `usage` holds what the sandbox pool measured around the student's own runs (the warm
    parent's clock and the child's rusage; not the run's result frame); `worker_ms` is this
    worker's own clock around the whole grading, an upper bound nothing in the sandbox can
    move. A figure that is missing or above its bound is replaced by the bound: a broken or
    forged figure can only cost the student more, never less.
    """
    worker_ms = max(0.0, float(worker_ms))
    wall = _plausible_ms(usage.get("wall_ms"), worker_ms)
    wall = worker_ms if wall is None else wall
    cpu_bound = worker_ms * max(1, cpus or (os.cpu_count() or 1))
    cpu = _plausible_ms(usage.get("cpu_ms"), cpu_bound)
    cpu = wall if cpu is None else cpu
    return Charge(min(MAX_CHARGE_MS, round(wall)), min(MAX_CHARGE_MS, round(cpu)))


def supersede_older(sub: Submission) -> int:
    """At most one queued submission per student and queue: the newest wins.

    The older ones are finished (never silently dropped) with outcome `rejected` and a
    message that names the newer submission; ones already running are left to finish
    (`_admit` refuses a new submission while one runs).
    """
    text = (
        f"Not graded: you sent a newer submission (#{sub.pk}) before this one reached the "
        "grader. Only one of your submissions waits in the queue at a time, so only the "
        "newer one is graded."
    )
    verdict = verdict_without_run("rejected", text, sub.max_score, exercise=sub.exercise.slug,
                                  error_type="superseded", queue=sub.queue)
    verdict["superseded_by"] = sub.pk
    return (
        Submission.objects.filter(
            user_id=sub.user_id, queue=sub.queue, status=Submission.Status.QUEUED,
        ).exclude(pk=sub.pk).update(
            status=Submission.Status.GRADED, outcome="rejected", score=0.0, verdict=verdict,
            finished_at=timezone.now(),
        )
    )


def enqueue(sub: Submission) -> bool:
    """Publish the grading task; if the broker is down the sweeper publishes it later."""
    from submissions.tasks import grade_submission

    return jobs.publish(grade_submission, sub.pk, sub.queue)


SUBMISSION_JOB = jobs.Kind(Submission, waiting=Submission.Status.QUEUED)


def submission_claim(submission_id: int, worker: str = "") -> Submission | None:
    """Take a submission for grading, or None if another worker has it (or it is done).

    jobs.claim: of two deliveries of the same task only one changes the row, and `tries`
    after the claim is the claim's token: only that claim may finish the row. The row, its
    exercise and its version come back from the claim's own UPDATE (jobs.claim_row).
    """
    return jobs.claim_row(SUBMISSION_JOB, submission_id, worker, related=("exercise", "version"))


def _finish_fields(sub: Submission, verdict: dict[str, Any]) -> None:
    sub.status = Submission.Status.GRADED
    sub.outcome = verdict["outcome"]
    sub.score = verdict.get("score")
    sub.max_score = verdict.get("max_score", sub.max_score)
    sub.verdict = verdict
    sub.finished_at = timezone.now()


def submission_finish(sub: Submission, verdict: dict[str, Any],
                      charge: Charge | None = None) -> bool:
    """Store the verdict only if this claim (status running, same `tries`) still holds it,
    and charge the run's sandbox time to the student's budget in the same UPDATE."""
    _finish_fields(sub, verdict)
    charge = charge or Charge()
    sub.sandbox_ms, sub.cpu_ms = charge.wall_ms, charge.cpu_ms
    done = jobs.update_held(
        SUBMISSION_JOB, sub,
        status=sub.status, outcome=sub.outcome, score=sub.score, max_score=sub.max_score,
        verdict=sub.verdict, finished_at=sub.finished_at, sandbox_ms=sub.sandbox_ms,
        cpu_ms=sub.cpu_ms,
    )
    if done == 1:
        notify_done(sub.pk, {**{field: getattr(sub, field) for field in NOTICE_FIELDS},
                             "created_at": sub.created_at.isoformat()})
    return done == 1


DONE_NOTICE_SECONDS = 60
# What a verdict's notice carries: the columns it just stored, so that the reader it wakes
# answers without reading them back (one query less per submission).
NOTICE_FIELDS = ("status", "outcome", "score", "max_score", "verdict")


def notify_done(submission_id: int, stored: dict[str, Any] | None = None) -> None:
    """Wake a long-polling reader (…?wait=S); best effort, readers re-read the row anyway
    unless the notice carries the `stored` columns (see `stored_from_notice`).

    A list, not pub/sub: a notice pushed before the reader starts to wait is still there
    (no lost wake-up), and BLPOP uses an ordinary pooled connection.
    """
    key = done_key(submission_id)
    try:
        notice = json.dumps(stored, allow_nan=False) if stored else "graded"
    except (TypeError, ValueError):  # not JSON as stored (cannot happen for a JSONField)
        notice = "graded"
    try:
        pipe = workers.redis_client().pipeline(transaction=False)
        pipe.lpush(key, notice)
        pipe.expire(key, DONE_NOTICE_SECONDS)
        pipe.execute()
    except redis.RedisError as exc:
        log.info("could not announce submission %s: %s", submission_id, exc)


def done_key(submission_id: int) -> str:
    return f"pdl:done:{submission_id}"


def stored_from_notice(notice: str | bytes, sub: Submission) -> dict[str, Any] | None:
    """The columns a verdict's notice for `sub` carries, or None: read the row (a bare
    "graded" from the sweeper, or a notice left for another row that had the same id, as
    after a database restore: `created_at` tells them apart)."""
    try:
        stored = json.loads(notice)
    except (TypeError, ValueError):
        return None
    if not isinstance(stored, dict) or set(stored) != {*NOTICE_FIELDS, "created_at"}:
        return None
    try:
        created = datetime.fromisoformat(str(stored.pop("created_at")))
        if created != sub.created_at or stored["status"] != Submission.Status.GRADED:
            return None
    except (TypeError, ValueError):  # a naive or garbled time
        return None
    return stored


def internal_error_verdict(message: str, max_score: float) -> dict[str, Any]:
    text = f"The grader failed on our side ({message}). Please submit again; we are sorry."
    return verdict_without_run("internal_error", text, max_score)


def submission_fail(sub: Submission, message: str) -> bool:
    """The platform's fault, after retries: tell the student plainly."""
    return submission_finish(sub, internal_error_verdict(message, sub.max_score))


def submission_requeue(sub: Submission) -> bool:
    """Hand a submission this claim holds back to the queue after a platform failure."""
    back = jobs.release(SUBMISSION_JOB, sub, queued_at=timezone.now())
    if back:
        enqueue(sub)
    return back


# --- The sweeper --------------------------------------------------------------------------


def sweep(now: Any = None, limit: int = 500) -> SweepReport:
    """Find submissions that nobody will finish and put them back (or give up, visibly).
    (jobs.sweep runs this and the dashboard's jobs' sweep.)

    - running past the deadline, or running on a worker whose heartbeat is gone: back to
      queued and re-published (the worker died: kill -9, host reboot, OOM);
    - queued past the deadline: re-published (the message was lost: Redis restarted empty,
      or the broker was down when the row was created). A duplicate message is harmless:
      the claim is conditional.
    After SUBMISSION_MAX_TRIES claims or SUBMISSION_MAX_REQUEUES re-publications the
    submission is finished with `internal_error` (or `queue_unavailable` if no worker
    serves its queue) and a message the student sees.
    """
    now = now or timezone.now()
    report = SweepReport()
    try:
        alive = workers.alive_hostnames()
        live = workers.online()
    except redis.RedisError:
        return report  # cannot publish anyway; the next sweep will
    running = jobs.lost(SUBMISSION_JOB, alive, now).select_related("exercise", "version")

    def requeue(sub: Submission) -> bool:
        back = jobs.release(SUBMISSION_JOB, sub, queued_at=now, requeues=F("requeues") + 1)
        if back:
            enqueue(sub)
        return back

    def give_up(sub: Submission) -> bool:
        return submission_fail(sub, f"it stopped {sub.tries} times without a verdict")

    report.requeued_running, report.failed = jobs.take_back(
        SUBMISSION_JOB, running, give_up=give_up, requeue=requeue, limit=limit)
    deadline = now - timedelta(seconds=settings.SUBMISSION_QUEUED_DEADLINE)
    queued = Submission.objects.filter(status=Submission.Status.QUEUED).filter(
        Q(queued_at__lt=deadline) | Q(queued_at__isnull=True, created_at__lt=deadline)
    )
    for sub in queued.select_related("exercise", "version")[:limit]:
        if sub.requeues >= settings.SUBMISSION_MAX_REQUEUES:
            if live.get(sub.queue, 0) == 0:
                verdict = verdict_without_run(
                    "queue_unavailable",
                    f"No {sub.queue} worker was online to run this submission. "
                    "Please try again later.", sub.max_score,
                )
            else:
                verdict = internal_error_verdict("no worker took it in time", sub.max_score)
            _finish_fields(sub, verdict)
            done = Submission.objects.filter(
                pk=sub.pk, status=Submission.Status.QUEUED, requeues=sub.requeues
            ).update(
                status=sub.status, outcome=sub.outcome, score=sub.score, verdict=sub.verdict,
                finished_at=sub.finished_at,
            )
            if done:
                notify_done(sub.pk)
                report.failed += 1
            continue
        again = Submission.objects.filter(
            pk=sub.pk, status=Submission.Status.QUEUED, requeues=sub.requeues
        ).update(queued_at=now, requeues=F("requeues") + 1)
        if again:
            log.warning("sweeper: submission %s waited in the queue too long; re-published",
                        sub.pk)
            enqueue(sub)
            report.republished_queued += 1
    return report
