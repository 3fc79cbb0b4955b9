"""The HTTP API: authentication, validation and visibility (the queue is not needed here)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.test import Client

from submissions.models import Submission

pytestmark = pytest.mark.django_db

URL = "/api/exercises/tensor-broadcast/submissions"


@pytest.fixture(autouse=True)
def no_broker():
    """Unit tests check what reaches the queue without a worker; integration tests use one."""
    with mock.patch("submissions.services.enqueue") as enqueue, mock.patch(
        "submissions.services.workers.online", return_value={"cpu": 1, "gpu": 0}
    ):
        yield enqueue


def post(client: Client, body: bytes | dict, url: str = URL, **headers: str):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(url, data=data, content_type="application/json", **headers)


def test_it_requires_authentication(course):
    response = post(Client(), {"code": "c = a + b"})
    assert response.status_code == 401
    assert "Token" in response.json()["error"]


def test_it_rejects_a_bad_token(course):
    response = post(Client(), {"code": "c = a + b"}, HTTP_AUTHORIZATION="Token nope")
    assert response.status_code == 401


def test_it_queues_a_submission_with_a_token(
    course, alice_token, no_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            Client(), {"code": "c = a + b"}, HTTP_AUTHORIZATION=f"Token {alice_token}"
        )
    assert response.status_code == 202
    data = response.json()
    assert data["status"] == "queued" and data["exercise"] == "tensor-broadcast"
    assert data["url"] == f"/api/submissions/{data['id']}"
    sub = Submission.objects.get(pk=data["id"])
    assert sub.code == "c = a + b" and sub.queue == "cpu"
    no_broker.assert_called_once()


def test_session_posts_need_csrf(course, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert post(client, {"code": "c = a + b"}).status_code == 403


def test_unknown_slug_is_a_json_404(course, alice_token):
    response = post(
        Client(), {"code": "x"}, url="/api/exercises/no-such-thing/submissions",
        HTTP_AUTHORIZATION=f"Token {alice_token}",
    )
    assert response.status_code == 404
    assert response.json() == {"error": "There is no exercise 'no-such-thing'.",
                               "exercise": "no-such-thing"}


@pytest.mark.parametrize(
    "body", [b"not json", b'{"code": 3}', b"[]", b'{"code": "x", "kind": "?"}']
)
def test_malformed_bodies_get_a_clear_400(course, alice_token, body):
    response = post(Client(), body, HTTP_AUTHORIZATION=f"Token {alice_token}")
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (json.dumps({"code": "x = 1\n" * 12000}).encode(), 413, "limit is 64 KB"),
        (b'{"code": "c = a + b  # \xff\xfe"}', 400, "not valid UTF-8"),
        (json.dumps({"code": "c = a\x00 + b"}).encode(), 400, "NUL byte"),
    ],
)
def test_oversized_or_binary_code_is_rejected_without_running(
    course, alice_token, no_broker, body, status, words
):
    # Refused before a row exists (tests/web/test_rejected_code.py has the rest).
    response = post(Client(), body, HTTP_AUTHORIZATION=f"Token {alice_token}")
    assert response.status_code == status
    data = response.json()
    assert words in data["error"] and words in data["messages"]["en"]
    no_broker.assert_not_called()
    assert not Submission.objects.exists()


def test_a_student_cannot_read_another_students_submission(course, alice, bob):
    client = Client()
    client.force_login(alice)
    sub_id = post(client, {"code": "c = a + b"}).json()["id"]
    assert client.get(f"/api/submissions/{sub_id}").status_code == 200
    client.force_login(bob)
    response = client.get(f"/api/submissions/{sub_id}")
    assert response.status_code == 404
    assert "c = a + b" not in response.content.decode()
    assert client.get("/api/exercises/tensor-broadcast/submissions").json() == {"submissions": []}


def test_an_instructor_can_read_any_submission(course, alice, teacher):
    client = Client()
    client.force_login(alice)
    sub_id = post(client, {"code": "c = a + b"}).json()["id"]
    client.force_login(teacher)
    assert client.get(f"/api/submissions/{sub_id}").json()["id"] == sub_id


def test_gpu_exercise_without_gpu_worker_is_answered_at_once(course, alice):
    client = Client()
    client.force_login(alice)
    response = post(client, {"code": "Z = 1"}, url="/api/exercises/device-gpu-add/submissions")
    data = response.json()
    assert data["outcome"] == "queue_unavailable"
    assert "No GPU worker" in data["error"]["message"]


def test_wait_returns_the_verdict_as_soon_as_it_is_stored(course, alice, transactional_db):
    """?wait=S long-polls: a verdict stored meanwhile comes back in the same answer."""
    import threading
    import time as _time

    from submissions import services

    client = Client()
    client.force_login(alice)
    sub_id = post(client, {"code": "c = a + b"}).json()["id"]
    sub = Submission.objects.get(pk=sub_id)
    claimed = services.submission_claim(sub_id, worker="test@host")
    assert claimed is not None and claimed.tries == 1

    def grade_soon() -> None:
        _time.sleep(0.5)
        services.submission_finish(claimed, services.verdict_without_run("failed", "x", 1.0))

    threading.Thread(target=grade_soon).start()
    t0 = _time.monotonic()
    data = client.get(f"/api/submissions/{sub.pk}?wait=10").json()
    assert data["status"] == "graded" and data["outcome"] == "failed"
    assert _time.monotonic() - t0 < 5  # woken by the notice, not by the 10 s deadline


def test_wait_gives_up_after_the_time_asked(course, alice):
    client = Client()
    client.force_login(alice)
    response = post(client, {"code": "c = a + b"}, url=URL + "?wait=0.3")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert client.get(f"{response.json()['url']}?wait=nope").status_code == 400


def test_a_stale_claim_cannot_store_a_verdict(course, alice):
    """Two claims of one submission (a worker presumed dead, then another): only the latest
    claim's verdict is stored, so a submission is never graded twice."""
    from submissions import services

    client = Client()
    client.force_login(alice)
    sub_id = post(client, {"code": "c = a + b"}).json()["id"]
    first = services.submission_claim(sub_id, worker="a")
    Submission.objects.filter(pk=sub_id).update(status="queued")  # the sweeper took it back
    second = services.submission_claim(sub_id, worker="b")
    assert first is not None and second is not None and second.tries == 2
    assert services.submission_claim(sub_id, worker="c") is None  # re-delivery: no-op
    verdict = services.verdict_without_run("failed", "x", 1.0)
    assert services.submission_finish(first, verdict) is False
    assert services.submission_finish(second, verdict) is True
    assert services.submission_finish(second, verdict) is False
    assert Submission.objects.get(pk=sub_id).status == "graded"


# --- The sweeper (unit level; tests/integration/test_faults.py runs it for real) ----------


def _queued(client: Client) -> Submission:
    return Submission.objects.get(pk=post(client, {"code": "c = a + b"}).json()["id"])


def test_sweeper_requeues_work_of_a_dead_worker_and_gives_up_visibly(
    course, alice, no_broker, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from submissions import services

    client = Client()
    client.force_login(alice)
    sub = _queued(client)
    claimed = services.submission_claim(sub.pk, worker="gone@host")
    assert claimed is not None
    Submission.objects.filter(pk=sub.pk).update(started_at=timezone.now() - timedelta(seconds=30))
    no_broker.reset_mock()
    with mock.patch("submissions.services.workers.alive_hostnames", return_value={"other@h"}):
        report = services.sweep()
        assert report.requeued_running == 1
        again = Submission.objects.get(pk=sub.pk)
        assert again.status == "queued" and again.requeues == 1
        no_broker.assert_called_once()
        # The worker that took it back is alive: nothing more to do.
        services.submission_claim(sub.pk, worker="other@h")
        Submission.objects.filter(pk=sub.pk).update(
            started_at=timezone.now() - timedelta(seconds=30)
        )
        assert services.sweep().requeued_running == 0
        # Dead again, and out of tries: finished as internal_error, with a message.
        Submission.objects.filter(pk=sub.pk).update(
            worker="gone@host", tries=settings.SUBMISSION_MAX_TRIES
        )
        assert services.sweep().failed == 1
    data = client.get(f"/api/submissions/{sub.pk}").json()
    assert data["status"] == "graded" and data["outcome"] == "internal_error"
    assert "Please submit again" in data["error"]["message"]


def test_sweeper_republishes_lost_queued_work_then_reports_no_worker(
    course, alice, no_broker, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from submissions import services

    client = Client()
    client.force_login(alice)
    sub = _queued(client)
    old = timezone.now() - timedelta(seconds=settings.SUBMISSION_QUEUED_DEADLINE + 5)
    no_broker.reset_mock()
    with mock.patch("submissions.services.workers.alive_hostnames", return_value=set()):
        for n in range(settings.SUBMISSION_MAX_REQUEUES):
            Submission.objects.filter(pk=sub.pk).update(queued_at=old)
            assert services.sweep().republished_queued == 1
            assert Submission.objects.get(pk=sub.pk).requeues == n + 1
        assert no_broker.call_count == settings.SUBMISSION_MAX_REQUEUES
        Submission.objects.filter(pk=sub.pk).update(queued_at=old)
        with mock.patch("submissions.services.workers.online",
                        return_value={"cpu": 0, "gpu": 0}):
            assert services.sweep().failed == 1
    data = client.get(f"/api/submissions/{sub.pk}").json()
    assert data["outcome"] == "queue_unavailable"
    assert "No cpu worker" in data["error"]["message"]
    # A fresh queued submission inside its deadline is left alone.
    fresh = _queued(client)
    assert services.sweep().republished_queued == 0
    assert Submission.objects.get(pk=fresh.pk).requeues == 0


def test_the_sweep_command_runs_one_sweep(course, capsys):
    from django.core.management import call_command

    with mock.patch("submissions.services.workers.alive_hostnames", return_value=set()):
        call_command("sweep")
    assert "re-queued 0 stuck running" in capsys.readouterr().out
