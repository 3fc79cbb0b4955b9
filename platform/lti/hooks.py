"""The calls the grading path makes into LTI: after a graded Submit (submissions/tasks.py)
and after an instructor's change that moves effective grades (a regrade result, an
override, an extension, the late policy; dashboard/services.py). Free where no LMS is
registered (a per-process answer, kept for a few seconds), one indexed query where one is,
and never an error for grading."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

IN_USE_TTL = 5.0  # seconds a process trusts its answer to "is any LMS registered?"
_in_use: tuple[float, bool] = (float("-inf"), False)


def lti_in_use() -> bool:
    """Whether any LMS is registered. A stale "no" lasts at most IN_USE_TTL seconds after
    the very first registration; a Submit graded in that window is sent with the next."""
    global _in_use
    now = time.monotonic()
    if now - _in_use[0] > IN_USE_TTL:
        from lti.models import Platform

        _in_use = (now, Platform.objects.exists())
    return _in_use[1]


def submission_graded(submission: Any) -> bool:
    """A verdict was stored: queue the student's grade passbacks (a graded Submit only):
    the line items of its lesson, whole or of this one exercise. True when there were some."""
    if submission.kind != "submit" or submission.outcome == "rejected" or not lti_in_use():
        return False  # checked first: reading the exercise's lesson may cost a query
    return grades_changed(user_id=submission.user_id, lesson_id=submission.exercise.lesson_id,
                          exercise_id=submission.exercise_id)


def grades_changed(*, course_id: int | None = None, user_id: int | None = None,
                   lesson_id: int | None = None, exercise_id: int | None = None) -> bool:
    """Effective grades moved (a Submit was graded, or an instructor's change): send the
    affected LMS grades again, the gradebook's effective score. True when some were queued."""
    try:
        if not lti_in_use():
            return False
        from lti import services

        ids = services.passbacks_of(course_id=course_id, user_id=user_id,
                                    lesson_id=lesson_id, exercise_id=exercise_id)
        services.queue_passbacks(ids)
        return bool(ids)
    except Exception:
        log.exception("could not queue the LTI passbacks after a grade change")
        return False
