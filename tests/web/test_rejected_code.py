"""Refused code never becomes an attempt; the API's verdict follows the one score rule.

Empty, oversized, non-UTF-8 and NUL-carrying code is answered 400/413 (with the reason in
en and zh-hans) before any row exists, so it can never count in attempts, grades or
statistics; rows refused under the old behaviour (outcome `rejected`) are left out of them.
`GET /api/submissions/<id>` shows a verdict graded before the score rule as it counts now,
and a regraded attempt's verdict as the regrade gave it.
"""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from accounts.models import STUDENTS
from courses.models import Exercise
from dashboard import selectors
from dashboard.access import default_course
from dashboard.models import Regrade, RegradeResult
from drafts.models import Preference
from submissions import services
from submissions.models import Submission

pytestmark = pytest.mark.django_db

URL = "/api/exercises/tensor-broadcast/submissions"


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("submissions.services.enqueue") as enqueue, mock.patch(
        "submissions.services.workers.online", return_value={"cpu": 1, "gpu": 0}
    ):
        yield enqueue


@pytest.fixture
def tensors(db):
    from django.conf import settings

    from courses.loader import load_lesson
    from courses.services import SyncReport, lesson_upsert

    lesson_upsert(load_lesson(settings.LESSONS_DIR / "tensors"), SyncReport())
    return Exercise.objects.get(slug="tensor-broadcast")


@pytest.fixture
def student(db) -> User:
    user = User.objects.create_user("sam", password="sam-pass-123")
    user.groups.add(Group.objects.get_or_create(name=STUDENTS)[0])
    return user


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, body: bytes | dict, kind: str = "submit"):
    data = body if isinstance(body, bytes) else json.dumps({**body, "kind": kind}).encode()
    return client.post(URL, data=data, content_type="application/json")


BAD = [
    pytest.param({"code": ""}, 400, "empty", id="empty"),
    pytest.param({"code": "  \n\t\n"}, 400, "empty", id="blank"),
    pytest.param({"code": "x = 1\n" * 12000}, 413, "too-large", id="oversized"),
    pytest.param(b'{"code": "c = a + b  # \xff\xfe"}', 400, "not-utf8", id="not-utf8"),
    pytest.param({"code": "c = a\x00 + b"}, 400, "nul", id="nul"),
]


@pytest.mark.parametrize(("body", "status", "reason"), BAD)
@pytest.mark.parametrize("kind", ["submit", "run"])
def test_refused_code_gets_a_clear_answer_and_no_row(tensors, student, no_broker, body,
                                                     status, reason, kind):
    response = post(client_of(student), body, kind)
    assert response.status_code == status
    data = response.json()
    assert data["reason"] == reason
    assert set(data["messages"]) == {"en", "zh-hans"}
    assert all(text.strip() for text in data["messages"].values())
    assert data["error"] == data["messages"]["en"]
    assert not Submission.objects.exists()
    no_broker.assert_not_called()


def test_the_answer_speaks_the_students_language(tensors, student):
    Preference.objects.create(user=student, language="zh-hans")
    data = post(client_of(student), {"code": ""}).json()
    assert data["error"] == data["messages"]["zh-hans"] and "代码" in data["error"]


def test_nothing_else_creates_an_attempt_from_refused_code(tensors, student):
    for code in ("", "   ", "x" * (64 * 1024 + 1), "a\x00", "\udcff"):
        with pytest.raises(services.CodeRejected):
            services.submission_create(user=student, exercise=tensors, code=code)
    assert not Submission.objects.exists()


def _row(user, exercise, outcome: str, score: float, verdict: dict | None = None):
    return Submission.objects.create(
        user=user, exercise=exercise, version=exercise.current_version, code="c = a + b",
        status=Submission.Status.GRADED, outcome=outcome, score=score, max_score=1.0,
        verdict=verdict or {"outcome": outcome, "passed": outcome == "passed", "score": score,
                            "max_score": 1.0, "checks": [], "stdout": "", "error": None},
        finished_at=timezone.now(),
    )


def test_refused_rows_stay_out_of_attempts_and_statistics(tensors, student):
    """Rows refused before the API refused them (or superseded ones) count for nothing."""
    course = default_course()
    for _ in range(3):
        _row(student, tensors, "rejected", 0.0)
    book = selectors.gradebook(course)
    cell = next(r for r in book.rows if r.user.pk == student.pk).cells[tensors.pk]
    assert cell.attempts == 0 and cell.score is None and cell.grade is None
    stats = selectors.exercise_stats(course, tensors)
    assert stats["attempted"] == 0 and stats["submissions"] == 0 and stats["outcomes"] == []
    assert stats["refused"] == 3  # visible, outside the figures
    _row(student, tensors, "failed", 0.0)
    book = selectors.gradebook(course)
    cell = next(r for r in book.rows if r.user.pk == student.pk).cells[tensors.pk]
    assert cell.attempts == 1 and cell.score == 0.0
    stats = selectors.exercise_stats(course, tensors)
    assert stats["attempted"] == 1 and stats["submissions"] == 1
    assert stats["outcomes"] == [{"label": "failed", "value": 1}]


def test_a_verdict_graded_before_the_rule_reads_as_it_counts_now(tensors, student):
    sub = _row(student, tensors, "error", 1.0, {
        "outcome": "error", "passed": False, "score": 1.0, "max_score": 1.0, "stdout": "",
        "checks": [{"name": "c", "passed": True, "points": 1.0, "max_points": 1.0,
                    "diagnostic": None, "message": "`c` is correct."}],
        "error": {"type": "RuntimeError", "message": "backward twice", "line": 3},
        "message": None,
    })
    client = client_of(student)
    data = client.get(f"/api/submissions/{sub.pk}").json()
    assert data["outcome"] == "error" and data["passed"] is False and data["score"] == 0
    (check,) = data["checks"]
    assert check["passed"] is True and check["points"] == 0 and check["counted"] is False
    assert "Points count only when your code runs to the end" in data["message"]["en"]
    assert "才计分" in data["message"]["zh-hans"]
    listed = client.get(URL).json()["submissions"]
    assert [(s["id"], s["score"]) for s in listed] == [(sub.pk, 0)]


def test_a_regraded_attempt_shows_the_regrades_verdict(tensors, student):
    sub = _row(student, tensors, "failed", 0.0)
    version = tensors.current_version
    regrade = Regrade.objects.create(course=default_course(), exercise=tensors,
                                     version=version, status=Regrade.Status.DONE)
    RegradeResult.objects.create(
        regrade=regrade, submission=sub, version=version, status=RegradeResult.Status.DONE,
        outcome="passed", score=1.0, max_score=1.0, finished_at=timezone.now(),
        verdict={"outcome": "passed", "passed": True, "score": 1.0, "max_score": 1.0,
                 "checks": [], "stdout": "regraded", "error": None},
    )
    data = client_of(student).get(f"/api/submissions/{sub.pk}").json()
    assert (data["id"], data["outcome"], data["passed"], data["score"]) == (
        sub.pk, "passed", True, 1.0)
    assert data["regraded"] == {"version": version.number, "outcome": "failed", "score": 0.0}
    assert data["stdout"] == "regraded"
