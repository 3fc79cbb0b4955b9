"""Reads for the API's hottest path: a client polling a submission.

A script that asks `GET /api/submissions/<id>` every 50 ms sends ten or more polls per
verdict, and compiling the ORM query was most of each poll's CPU (issue #15). The poll's
SQL is therefore built once per process by the ORM itself (so it is the same SQL, for
whichever database is configured) and executed with the submission's id. It reads the
verdict's columns too, so a graded row costs no second read (its latest regrade, which
counts, is read beside it: dashboard.selectors.latest_regrades).

The submit's own reads (the exercise with its current version; what the student has in
flight and was charged in the budget window) are compiled once per process as well; all
of them are `Compiled` queries (submissions/compiled.py), which apply the ORM's column
converters (SQLite's text datetimes come back aware, as through the ORM).
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from courses.models import Exercise, ExerciseVersion
from submissions.compiled import Compiled, Marker
from submissions.models import Submission

# Marker values no real parameter has (the compiled SQL names each exactly once).
_PK = Marker("pk", -987_654_321)
_POLL_COLUMNS = (
    "id", "user_id", "status", "kind", "queue", "code", "created_at",
    "exercise_id", "exercise__slug", "version_id", "version__number",
    "outcome", "score", "max_score", "verdict",
)


@cache
def _poll_query(vendor: str) -> Compiled:
    """The poll's SELECT for this database, with one parameter: the submission's id."""
    return Compiled.of(Submission.objects.filter(pk=_PK.value).values_list(*_POLL_COLUMNS),
                       _PK)


def polled_submission(pk: int) -> Submission | None:
    """The submission `pk`, read with one precompiled query, or None if there is none.

    The instance holds what the verdict JSON and the course-scoped visibility rule read
    (id, owner, exercise slug, version number, code, the verdict's columns), nothing else.
    """
    rows = _poll_query(connection.vendor).rows(pk=pk)
    if not rows:
        return None
    (sub_id, user_id, status, kind, queue, code, created_at,
     exercise_id, slug, version_id, number, outcome, score, max_score, verdict) = rows[0]
    sub = Submission(id=sub_id, user_id=user_id, status=status, kind=kind, queue=queue,
                     code=code, created_at=created_at, outcome=outcome, score=score,
                     max_score=max_score, verdict=verdict)
    sub.exercise = Exercise(id=exercise_id, slug=slug)
    sub.version = ExerciseVersion(id=version_id, number=number, exercise_id=exercise_id)
    return sub


# --- The submit's reads, compiled once -----------------------------------------------------


_USER = Marker("user", -987_654_321)
_QUEUE = Marker("queue", "\x00queue")
_WINDOW = Marker("window", dt.datetime(1901, 2, 3, 4, 5, 6, 789, tzinfo=dt.UTC))
_SLUG = Marker("slug", "\x00slug")

_ADMISSION_COLUMNS = ("pk", "queue", "status", "finished_at", "sandbox_ms", "cpu_ms")


@cache
def _admission_query(vendor: str) -> Compiled:
    in_flight = Q(queue=_QUEUE.value, status__in=(Submission.Status.QUEUED,
                                                  Submission.Status.RUNNING))
    charged = Q(finished_at__gt=_WINDOW.value) & (Q(sandbox_ms__gt=0) | Q(cpu_ms__gt=0))
    return Compiled.of(
        Submission.objects.filter(user_id=_USER.value).filter(in_flight | charged)
        .order_by("pk").values_list(*_ADMISSION_COLUMNS), _USER, _QUEUE, _WINDOW)


def admission_rows(user_id: int, queue: str, window: dt.datetime) -> list[tuple[Any, ...]]:
    """(pk, queue, status, finished_at, sandbox_ms, cpu_ms) of the student's submissions
    that are queued or running on `queue`, or were charged sandbox time after `window`:
    what the one-in-flight rule and the budget read (services._admit), in one query."""
    return _admission_query(connection.vendor).rows(user=user_id, queue=queue, window=window)


_EXERCISE_COLUMNS = ("id", "slug", "current_version_id")
_VERSION_COLUMNS = ("id", "exercise_id", "number", "fingerprint", "data", "created_at")


@cache
def _exercise_query(vendor: str) -> Compiled:
    return Compiled.of(
        Exercise.objects.filter(slug=_SLUG.value, current_version__isnull=False).order_by()
        .values_list(*_EXERCISE_COLUMNS,
                     *(f"current_version__{name}" for name in _VERSION_COLUMNS)), _SLUG)


# The exercise a submit names, remembered per process for a second: a class submitting
# sends the same few slugs over and over (issue #15: a statement less per submit). Saving
# or deleting an exercise or a version forgets it at once in that process (and again when
# its transaction commits); other processes (sync_lessons, another web process) see a new
# current version within EXERCISE_CACHE_SECONDS. A submit in that second is graded against
# the version it names, as one sent a second earlier would be.
EXERCISE_CACHE_SECONDS = 1.0
_exercises: dict[str, tuple[float, Exercise]] = {}


def forget_exercises(**kwargs: Any) -> None:
    """Drop the cache (a signal receiver: an exercise or a version was saved or deleted)."""
    _exercises.clear()
    if kwargs.get("using"):
        transaction.on_commit(_exercises.clear, using=kwargs["using"])


def exercise_to_submit(slug: str) -> Exercise | None:
    """The exercise `slug` with its current version, or None (no such exercise, or none
    published yet): one precompiled query, at most once a second per slug and process
    (see EXERCISE_CACHE_SECONDS). The instances hold the columns a submission needs; any
    other field is read from the database if something asks for it. Each caller gets its
    own copies."""
    now = time.monotonic()
    hit = _exercises.get(slug)
    if hit is None or hit[0] <= now:
        exercise = _read_exercise(slug)
        if exercise is None:
            return None  # unknown slugs are not remembered: guesses cannot fill memory
        hit = (now + EXERCISE_CACHE_SECONDS, exercise)
        _exercises[slug] = hit
    exercise = copy.copy(hit[1])
    exercise.current_version = copy.copy(hit[1].current_version)
    return exercise


def _read_exercise(slug: str) -> Exercise | None:
    rows = _exercise_query(connection.vendor).rows(slug=slug)
    if not rows:
        return None
    row = rows[0]
    split = len(_EXERCISE_COLUMNS)
    exercise = Exercise.from_db("default", list(_EXERCISE_COLUMNS), list(row[:split]))
    exercise.current_version = ExerciseVersion.from_db(
        "default", list(_VERSION_COLUMNS), list(row[split:]))
    return exercise
