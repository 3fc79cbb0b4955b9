"""One jobs module (submissions.jobs) for submissions, regrade results and validations: the
same claim, publishing, retry limit and sweeper. Without a worker: what reaches the queue
is recorded (tests/dashboard/test_worker.py kills a real worker mid-regrade)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from tests.dashboard.conftest import record_sends

from dashboard import services
from dashboard.models import RegradeResult, Validation
from submissions import jobs


@pytest.fixture
def sent(monkeypatch):
    """Tasks published (task name, id, queue) instead of sent; no worker is alive."""
    import dashboard.tasks

    out = record_sends(monkeypatch, dashboard.tasks.regrade_submission,
                       dashboard.tasks.validate_exercise)
    with mock.patch("submissions.workers.alive_hostnames", return_value=set()), \
            mock.patch("submissions.workers.online", return_value={"cpu": 1, "gpu": 0}):
        yield out


def _regrade(seeded):
    return services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                  by=seeded.teacher, student=seeded.carol)


def test_every_kind_of_job_is_claimed_once_with_the_tries_token(seeded, sent):
    result = _regrade(seeded).results.get()
    assert jobs.claim(services.REGRADE_JOB, result.pk, "a@h")
    assert not jobs.claim(services.REGRADE_JOB, result.pk, "b@h")  # a re-delivery: no-op
    first = RegradeResult.objects.get(pk=result.pk)
    assert (first.tries, first.worker) == (1, "a@h")
    # Past the running deadline another worker may take it; the first claim then holds
    # nothing: its late result is not stored.
    RegradeResult.objects.filter(pk=result.pk).update(
        started_at=timezone.now() - jobs.running_deadline() - timedelta(seconds=1))
    assert jobs.claim(services.REGRADE_JOB, result.pk, "b@h")
    services.regrade_result_finish(first, {"outcome": "passed", "score": 9.0})
    assert RegradeResult.objects.get(pk=result.pk).status == "running"


def test_a_regrade_result_whose_worker_vanished_is_requeued(seeded, sent):
    result = _regrade(seeded).results.get()
    assert jobs.claim(services.REGRADE_JOB, result.pk, "gone@h")
    long_ago = timezone.now() - jobs.heartbeat_grace() - timedelta(seconds=1)
    RegradeResult.objects.filter(pk=result.pk).update(started_at=long_ago)
    sent.clear()
    report = jobs.sweep()
    assert report.requeued_running == 1
    assert sent == [("regrade_submission", result.pk, "cpu-bulk")]
    assert RegradeResult.objects.get(pk=result.pk).status == "pending"
    # A fresh claim on a live worker is left alone.
    assert jobs.claim(services.REGRADE_JOB, result.pk, "alive@h")
    with mock.patch("submissions.workers.alive_hostnames", return_value={"alive@h"}):
        assert jobs.sweep().requeued_running == 0


def test_a_regrade_result_lost_too_often_fails_visibly(seeded, sent, settings):
    regrade = _regrade(seeded)
    result = regrade.results.get()
    long_ago = timezone.now() - jobs.heartbeat_grace() - timedelta(seconds=1)
    for _ in range(settings.SUBMISSION_MAX_TRIES):
        assert jobs.claim(services.REGRADE_JOB, result.pk, "gone@h")
        RegradeResult.objects.filter(pk=result.pk).update(started_at=long_ago)
        jobs.sweep()
    result.refresh_from_db()
    regrade.refresh_from_db()
    assert result.status == "failed" and "stopped 3 times" in result.verdict["error"]
    assert (regrade.failed, regrade.status) == (1, "done")


def test_a_stalled_regrade_is_published_again_by_the_sweeper(seeded, sent, settings):
    """Its messages lost (Redis restarted empty) and nobody asks again: the sweeper sends
    what is left, without waiting for an instructor's click."""
    regrade = _regrade(seeded)
    result = regrade.results.get()
    sent.clear()
    assert jobs.sweep().republished_queued == 0  # within the stall time
    long_ago = timezone.now() - timedelta(seconds=settings.REGRADE_STALL_SECONDS + 1)
    type(regrade).objects.filter(pk=regrade.pk).update(created_at=long_ago)
    assert jobs.sweep().republished_queued == 1
    assert sent == [("regrade_submission", result.pk, "cpu-bulk")]


def _validation(teacher) -> Validation:
    return Validation.objects.create(slug="tensor-broadcast", spec={}, spec_hash="x",
                                     queue="cpu", created_by=teacher,
                                     queued_at=timezone.now())


def test_a_validation_whose_worker_vanished_is_requeued_then_given_up(seeded, sent, settings):
    validation = _validation(seeded.teacher)
    long_ago = timezone.now() - jobs.heartbeat_grace() - timedelta(seconds=1)
    assert services.validation_claim(validation.pk, "gone@h") is not None
    Validation.objects.filter(pk=validation.pk).update(started_at=long_ago)
    assert jobs.sweep().requeued_running == 1
    assert sent == [("validate_exercise", validation.pk, "cpu")]
    assert Validation.objects.get(pk=validation.pk).status == "queued"
    for _ in range(settings.SUBMISSION_MAX_TRIES - 1):
        assert services.validation_claim(validation.pk, "gone@h") is not None
        Validation.objects.filter(pk=validation.pk).update(started_at=long_ago)
        jobs.sweep()
    validation.refresh_from_db()
    assert validation.status == "done" and validation.passed is False
    assert "stopped 3 times" in validation.report["problems"][0]


def test_a_lost_validation_message_is_published_again(seeded, sent, settings):
    validation = _validation(seeded.teacher)
    old = timezone.now() - timedelta(seconds=settings.SUBMISSION_QUEUED_DEADLINE + 1)
    for n in range(settings.SUBMISSION_MAX_REQUEUES):
        Validation.objects.filter(pk=validation.pk).update(queued_at=old)
        assert jobs.sweep().republished_queued == 1
        assert Validation.objects.get(pk=validation.pk).requeues == n + 1
    assert len(sent) == settings.SUBMISSION_MAX_REQUEUES
    Validation.objects.filter(pk=validation.pk).update(queued_at=old)
    assert jobs.sweep().failed == 1
    validation.refresh_from_db()
    assert validation.status == "done" and validation.passed is False
    assert "no cpu worker took it" in validation.report["problems"][0]


def test_the_retry_limit_is_the_setting_for_every_kind(settings):
    settings.SUBMISSION_MAX_TRIES = 7
    assert jobs.max_tries() == 7
