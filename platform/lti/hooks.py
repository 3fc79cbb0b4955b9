"""The calls the grading path makes into LTI: after a graded Submit (submissions/tasks.py)
and after an instructor's change that moves effective grades (a regrade result, an
override, an extension, the late policy; dashboard/services.py). Cheap when nobody came
through an LMS (one indexed query), and never an error for grading."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def submission_graded(submission: Any) -> bool:
    """A verdict was stored: queue the student's grade passbacks (a graded Submit only).
    True when there were some."""
    if submission.kind != "submit" or submission.outcome == "rejected":
        return False
    try:
        from lti import services

        ids = services.passbacks_for(submission)
        services.queue_passbacks(ids)
        return bool(ids)
    except Exception:
        log.exception("could not queue the LTI passbacks of submission %s", submission.pk)
        return False


def grades_changed(*, course_id: int | None = None, user_id: int | None = None,
                   lesson_id: int | None = None, exercise_id: int | None = None) -> bool:
    """An instructor's change moved effective grades: send the affected LMS grades again
    (the same effective score a Submit sends). True when some were queued."""
    try:
        from lti import services

        ids = services.passbacks_of(course_id=course_id, user_id=user_id,
                                    lesson_id=lesson_id, exercise_id=exercise_id)
        services.queue_passbacks(ids)
        return bool(ids)
    except Exception:
        log.exception("could not queue the LTI passbacks after a grade change")
        return False
