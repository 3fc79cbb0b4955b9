"""The one call the grading path makes into LTI (submissions/services.py,
`submission_finish`): cheap when the student never came through an LMS (one indexed
query), and never an error for grading."""

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
