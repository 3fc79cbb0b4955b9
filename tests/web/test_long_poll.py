"""`?wait=` long polls are capped per user: each open wait holds a web thread. Beyond the
cap the answer is the current status at once; a slot a crashed request never gave back
frees itself (Redis time to live)."""

from __future__ import annotations

import contextlib
import time

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from accounts import ratelimit
from accounts.models import STUDENTS
from courses.models import Exercise
from submissions.models import Submission

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(db, settings):
    from courses.loader import load_lesson
    from courses.services import SyncReport, lesson_upsert

    lesson_upsert(load_lesson(settings.LESSONS_DIR / "tensors"), SyncReport())
    alice = User.objects.create_user("alice", password="alice-pass-123")
    alice.groups.add(Group.objects.get_or_create(name=STUDENTS)[0])
    exercise = Exercise.objects.get(slug="tensor-broadcast")
    sub = Submission.objects.create(user=alice, exercise=exercise,
                                    version=exercise.current_version, code="c = a + b")
    key = ratelimit.slot_key("long-poll", str(alice.pk))
    client = ratelimit._client()
    client.delete(key)
    yield alice, sub
    client.delete(key)


def timed_get(client: Client, url: str) -> tuple[float, dict]:
    t0 = time.monotonic()
    response = client.get(url)
    assert response.status_code == 200
    return time.monotonic() - t0, response.json()


def test_waits_beyond_the_cap_answer_at_once(queued, settings):
    alice, sub = queued
    settings.LONG_POLL_MAX_PER_USER = 2
    client = Client()
    client.force_login(alice)
    url = f"/api/submissions/{sub.pk}?wait=0.6"
    waited, data = timed_get(client, url)  # under the cap: a real wait
    assert waited >= 0.5 and data["status"] == "queued"
    with contextlib.ExitStack() as stack:
        # Two waits open elsewhere (other tabs, other web processes).
        for _ in range(2):
            assert stack.enter_context(ratelimit.slot("long-poll", str(alice.pk), 2, 30))
        waited, data = timed_get(client, url)
        assert waited < 0.4 and data["status"] == "queued" and data["id"] == sub.pk
        # Another user is not affected by alice's waits.
        bob = User.objects.create_user("bob", password="bob-pass-123")
        bobs = Submission.objects.create(user=bob, exercise=sub.exercise, version=sub.version,
                                         code="c = b + a")
        other = Client()
        other.force_login(bob)
        waited, _ = timed_get(other, f"/api/submissions/{bobs.pk}?wait=0.6")
        assert waited >= 0.5
        ratelimit._client().delete(ratelimit.slot_key("long-poll", str(bob.pk)))
    waited, _ = timed_get(client, url)  # slots given back: waiting again
    assert waited >= 0.5
    # A finished wait leaves no slot behind.
    assert ratelimit._client().zcard(ratelimit.slot_key("long-poll", str(alice.pk))) == 0


def test_the_cap_counts_concurrent_waits(queued, settings):
    """Real parallel requests: with a cap of 2, of 5 waits at once 2 wait, 3 answer at once."""
    import threading

    alice, _sub = queued
    settings.LONG_POLL_MAX_PER_USER = 2
    held = []
    lock = threading.Lock()
    barrier = threading.Barrier(5)

    def one() -> None:
        barrier.wait()
        with ratelimit.slot("long-poll", str(alice.pk), 2, 30) as ok:
            with lock:
                held.append(ok)
            time.sleep(0.3)

    threads = [threading.Thread(target=one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(held) == [False, False, False, True, True]


def test_a_leaked_slot_frees_itself(queued):
    alice, _ = queued
    ident = str(alice.pk)
    leaked = ratelimit.slot("long-poll", ident, 1, 1.0)
    assert leaked.__enter__() is True  # a request that died without __exit__
    with ratelimit.slot("long-poll", ident, 1, 1.0) as ok:
        assert ok is False  # still held
    key = ratelimit.slot_key("long-poll", ident)
    assert 0 < ratelimit._client().ttl(key) <= 2  # the key itself cannot outlive its slots
    time.sleep(1.2)
    with ratelimit.slot("long-poll", ident, 1, 1.0) as ok:
        assert ok is True  # expired: free again


def test_without_redis_the_answer_comes_at_once(queued, monkeypatch):
    import redis

    alice, sub = queued

    class Down:
        def eval(self, *args, **kwargs):
            raise redis.ConnectionError("redis is away")

    monkeypatch.setattr(ratelimit, "_client", lambda: Down())
    client = Client()
    client.force_login(alice)
    waited, data = timed_get(client, f"/api/submissions/{sub.pk}?wait=5")
    assert waited < 1 and data["status"] == "queued"
