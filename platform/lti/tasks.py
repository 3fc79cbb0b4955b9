"""Grade passback (AGS) in Celery: never in a request; retried with backoff, then marked
failed for the dashboard's Retry button (lti/views.py)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from lti import services
from lti.models import Passback

log = logging.getLogger(__name__)


def _backoff(retries: int) -> float:
    return min(300.0, 2.0 * 3**retries)


def _error_text(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if response is not None:  # pylti1p3's LtiServiceException carries the HTTP response
        body = (getattr(response, "text", "") or "")[:500]
        return f"HTTP {getattr(response, 'status_code', '?')} from {response.url}: {body}"
    return f"{type(exc).__name__}: {exc}"


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def send_passback(self, passback_id: int) -> None:
    pb = (Passback.objects.select_related("line_item__context__platform",
                                          "line_item__context__course", "line_item__lesson",
                                          "line_item__exercise", "user")
          .filter(pk=passback_id).first())
    if pb is None:
        return
    score, maximum = services.current_score(pb)
    try:
        if maximum <= 0:
            raise RuntimeError("nothing in this line item counts (optional exercises only)")
        services.send_score(pb, score, maximum)
    except Exception as exc:
        attempts = pb.attempts + 1
        failed = attempts >= settings.LTI_PASSBACK_MAX_RETRIES
        Passback.objects.filter(pk=pb.pk).update(
            attempts=attempts, last_error=_error_text(exc)[:2000], score_given=score,
            score_maximum=maximum, updated_at=timezone.now(),
            status=Passback.Status.FAILED if failed else Passback.Status.PENDING,
        )
        log.warning("LTI passback %s failed (try %s): %s", pb.pk, attempts, exc)
        if failed:
            return
        raise self.retry(exc=exc, countdown=_backoff(self.request.retries)) from exc
    Passback.objects.filter(pk=pb.pk).update(
        status=Passback.Status.SENT, attempts=pb.attempts + 1, last_error="",
        score_given=score, score_maximum=maximum, sent_at=timezone.now(),
        updated_at=timezone.now(),
    )
