"""Per-exercise statistics, the submissions browser (escaping, diff, filters), queue health."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from tests.dashboard.conftest import make_sub

from dashboard import selectors
from dashboard.access import course_students, role_of
from dashboard.models import Membership
from submissions.models import Submission


def test_exercise_stats(seeded):
    stats = selectors.exercise_stats(seeded.course, seeded.broadcast)
    assert (stats["students"], stats["attempted"], stats["passed"]) == (3, 3, 2)
    assert stats["pass_rate"] == 67
    # alice passed on attempt 3, bob on attempt 1.
    dist = {d["label"]: d["value"] for d in stats["attempts_distribution"]}
    assert dist["1"] == 1 and dist["3"] == 1 and dist["2"] == 0
    assert stats["median_attempts"] == 2
    # alice: 10 minutes from first attempt to pass; bob: 0 → median 5 minutes.
    assert stats["median_seconds_to_pass"] == 300
    top = stats["diagnostics"][0]
    assert (top["label"], top["value"], top["percent"], top["submissions"]) == (
        "shape-mismatch", 2, 67, 2)
    assert {d["label"] for d in stats["diagnostics"]} == {"shape-mismatch", "broadcast-shape"}


def test_exercise_page_has_chart_data_not_inline_script(client, seeded):
    client.force_login(seeded.teacher)
    html = client.get(reverse("dashboard:exercise", args=["pytorch", "tensor-broadcast"])
                      ).content.decode()
    assert '<script id="chart-data" type="application/json">' in html
    assert "67%" in html and "shape-mismatch" in html and "5 min" in html
    # Scripts only from static files, no inline handlers or style attributes.
    assert "onclick" not in html and 'style="' not in html
    assert html.count("<script") == html.count('<script src="/static/') + 1


def test_submission_page_escapes_code_and_shows_diff(client, seeded):
    client.force_login(seeded.teacher)
    sub = seeded.subs["a2"]
    html = client.get(reverse("dashboard:submission", args=["pytorch", sub.pk])).content.decode()
    assert '<span class="d-del">-c = a * 2</span>' in html
    assert '<span class="d-add">+c = a + b.T</span>' in html
    evil = seeded.subs["b2"]
    html = client.get(reverse("dashboard:submission", args=["pytorch", evil.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_diff_escapes_too(client, seeded):
    later = make_sub(seeded.bob, seeded.cat, "<img src=x onerror=alert(2)>", "failed", 0, 30)
    client.force_login(seeded.teacher)
    html = client.get(reverse("dashboard:submission", args=["pytorch", later.pk])).content.decode()
    assert "<img src=x" not in html
    assert "+&lt;img src=x onerror=alert(2)&gt;" in html


@pytest.mark.parametrize(("query", "expected"), [
    ({}, {"a1", "a2", "a3", "b1", "b2", "c1"}),
    ({"student": "alice"}, {"a1", "a2", "a3"}),
    ({"outcome": "passed"}, {"a3", "b1"}),
    ({"diagnostic": "shape-mismatch"}, {"a1", "b2", "c1"}),
    ({"exercise": "tensor-cat"}, {"b2"}),
    ({"exercise": "tensor-broadcast", "diagnostic": "broadcast-shape"}, {"a2"}),
])
def test_submissions_filters(client, seeded, query, expected):
    client.force_login(seeded.ta)
    rows = selectors.browse_submissions(seeded.course, **query)
    names = {k for k, s in seeded.subs.items() if s.pk in {r["sub"].pk for r in rows}}
    assert names == expected
    response = client.get(reverse("dashboard:submissions", args=["pytorch"]), query)
    assert response.status_code == 200
    for key, sub in seeded.subs.items():
        link = reverse("dashboard:submission", args=["pytorch", sub.pk])
        assert (f'href="{link}"' in response.content.decode()) == (key in expected)


def test_queue_health(seeded):
    now = timezone.now()
    for i, seconds in enumerate([1, 2, 3, 4, 100]):
        sub = make_sub(seeded.alice, seeded.cat, f"x = {i}", "failed", 0, 0)
        Submission.objects.filter(pk=sub.pk).update(
            created_at=now - timedelta(seconds=seconds + 60),
            started_at=now - timedelta(seconds=60), finished_at=now - timedelta(seconds=60))
    health = selectors.queue_health(now)
    assert health["last_hour"]["graded"] == 5
    assert health["last_hour"]["median_seconds"] == pytest.approx(3, abs=0.01)
    assert health["last_hour"]["p95_seconds"] == pytest.approx(100, abs=0.01)
    assert set(health["queues"]) == {"cpu", "gpu", "cpu-bulk", "gpu-bulk"}


def test_queue_depth_comes_from_redis(seeded, client):
    from submissions.workers import redis_client

    r = redis_client()
    key = "cpu"
    try:
        r.ping()
    except Exception:
        pytest.fail("Redis must run for this test (make run starts it)")
    before = r.llen(key)
    client.force_login(seeded.teacher)
    data = client.get(reverse("dashboard:api-queues", args=["pytorch"])).json()
    assert data["redis"] == "ok"
    assert data["queues"]["cpu"]["depth"] >= 0
    assert abs(data["queues"]["cpu"]["depth"] - before) <= 5  # other tests may share Redis


def test_percentile():
    assert selectors.percentile([], 95) is None
    assert selectors.percentile([5], 95) == 5
    assert selectors.percentile(list(range(1, 101)), 95) == 95
    assert selectors.percentile(list(range(1, 21)), 50) == 10


def test_roles(seeded):
    assert role_of(seeded.teacher, seeded.course) == "instructor"  # instructors group
    assert role_of(seeded.ta, seeded.course) == "ta"
    assert role_of(seeded.alice, seeded.course) == "student"
    assert role_of(seeded.outsider, seeded.course) is None  # staffs another course
    assert role_of(seeded.outsider, seeded.other) == "instructor"
    assert role_of(seeded.alice, seeded.other) is None
    Membership.objects.create(course=seeded.other, user=seeded.alice, role="student")
    assert list(course_students(seeded.other)) == [seeded.alice]
    assert seeded.ta not in course_students(seeded.course)


def test_queue_health_reads_llen_and_heartbeats(seeded, monkeypatch):
    from submissions import workers

    class FakeRedis:
        def llen(self, key):
            return {"cpu": 7, "gpu": 2, "cpu-bulk": 500, "gpu-bulk": 0}[key]

    monkeypatch.setattr(workers, "redis_client", lambda: FakeRedis())
    monkeypatch.setattr(workers, "online", lambda: {"cpu": 3, "gpu": 0, "cpu-bulk": 3})
    health = selectors.queue_health()
    assert health["queues"] == {"cpu": {"depth": 7, "workers": 3},
                                "gpu": {"depth": 2, "workers": 0},
                                "cpu-bulk": {"depth": 500, "workers": 3},
                                "gpu-bulk": {"depth": 0, "workers": 0}}

    def down():
        raise ConnectionError("no redis")

    monkeypatch.setattr(workers, "online", down)
    health = selectors.queue_health()
    assert health["redis"].startswith("down") and health["queues"]["cpu"]["depth"] is None
