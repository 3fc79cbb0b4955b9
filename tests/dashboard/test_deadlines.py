"""Deadlines and the late policy, optional exercises and weights: each rule applied in the
one effective grade (dashboard/grades.py) and so on every page, the CSV and the API.

Seeded times (conftest): alice passes tensor-broadcast at T0+10 min after two failures
(T0, T0+5); bob passes it at T0+1; carol only fails (T0+3)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from tests.dashboard.conftest import T0

from courses.selectors import attempts_by_exercise, lessons_with_progress
from dashboard import selectors, services
from dashboard.grades import optional_reason, student_grades
from dashboard.models import Course, Extension


def _due(lesson_minutes: float | None = None, exercise=None, exercise_minutes=None) -> None:
    from courses.models import Lesson

    Lesson.objects.filter(slug="tensors").update(
        due=None if lesson_minutes is None else T0 + timedelta(minutes=lesson_minutes))
    if exercise is not None:
        exercise.due = T0 + timedelta(minutes=exercise_minutes)
        exercise.save(update_fields=["due"])


def _cell(s, user, exercise=None):
    book = selectors.gradebook(s.course)
    row = next(r for r in book.rows if r.user.pk == user.pk)
    return row.cells[(exercise or s.broadcast).pk]


def _policy(s, kind: str, penalty: float = 0.0) -> None:
    services.late_policy_set(course=s.course, kind=kind, penalty=penalty)
    s.course.refresh_from_db()


def test_without_a_deadline_nothing_is_late(seeded):
    cell = _cell(seeded, seeded.alice)
    assert cell.grade == 1.0 and cell.passed and not cell.late and cell.late_attempts == 0


def test_accept_marks_late_and_counts_in_full(seeded):
    _due(7)
    cell = _cell(seeded, seeded.alice)
    assert cell.late and cell.late_attempts == 1 and cell.grade == 1.0 and cell.passed
    assert cell.due == T0 + timedelta(minutes=7)
    bob = _cell(seeded, seeded.bob)
    assert not bob.late and bob.grade == 1.0


def test_penalty_takes_its_fraction_off_late_attempts_only(seeded):
    _due(7)
    _policy(seeded, Course.LatePolicy.PENALTY, 0.25)
    assert _cell(seeded, seeded.alice).grade == 0.75
    assert _cell(seeded, seeded.bob).grade == 1.0  # on time


def test_no_credit_gives_zero_and_no_pass_but_keeps_the_attempts(seeded):
    _due(7)
    _policy(seeded, Course.LatePolicy.NO_CREDIT)
    cell = _cell(seeded, seeded.alice)
    assert cell.grade == 0.0 and not cell.passed and cell.attempts == 3 and cell.late_attempts == 1
    # The student's own pages follow the same rule.
    mine = student_grades(seeded.alice, [seeded.broadcast])[seeded.broadcast.pk]
    assert mine.grade == 0.0 and not mine.passed and mine.late_attempts == 1
    # 0 late ties 0 on time: the on-time attempt is the one counted, so not `late`.
    assert not mine.late


def test_an_on_time_attempt_beats_an_equal_late_one(seeded):
    from tests.dashboard.conftest import make_sub

    _due(7)
    make_sub(seeded.bob, seeded.broadcast, "c = a + b", "passed", 1, 30)  # late, same score
    cell = _cell(seeded, seeded.bob)
    assert cell.grade == 1.0 and not cell.late and cell.late_attempts == 1


def test_the_exercise_due_overrides_the_lesson_due(seeded):
    _due(7, seeded.broadcast, 20)
    assert not _cell(seeded, seeded.alice).late
    _due(20, seeded.broadcast, 7)
    assert _cell(seeded, seeded.alice).late


def test_an_extension_moves_one_students_deadline(seeded):
    _due(7)
    _policy(seeded, Course.LatePolicy.NO_CREDIT)
    services.extension_set(course=seeded.course, user=seeded.alice,
                           lesson=seeded.broadcast.lesson, due=T0 + timedelta(minutes=30),
                           comment="ill", by=seeded.teacher)
    assert _cell(seeded, seeded.alice).grade == 1.0
    assert not _cell(seeded, seeded.alice).late
    # Another course's extension does not count here.
    Extension.objects.update(course=seeded.other)
    assert _cell(seeded, seeded.alice).grade == 0.0


def test_csv_and_api_show_late_flags_and_the_policy(client, seeded):
    _due(7)
    _policy(seeded, Course.LatePolicy.PENALTY, 0.5)
    client.force_login(seeded.teacher)
    body = client.get(reverse("dashboard:gradebook-csv", args=["pytorch"])).content
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    by_user = {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert rows[0][-3:] == ["late", "late policy", "total"]
    assert by_user["alice"]["tensor-broadcast"] == "0.5"
    assert by_user["alice"]["late"] == "tensor-broadcast"
    assert by_user["alice"]["late policy"] == "penalty 0.5"
    # bob's only tensor-cat attempt (T0+20, 0 points) is late; his broadcast pass is not.
    assert by_user["bob"]["late"] == "tensor-cat" and by_user["bob"]["tensor-broadcast"] == "1"
    api = client.get(reverse("dashboard:api-gradebook", args=["pytorch"])).json()
    alice = next(s for s in api["students"] if s["username"] == "alice")
    assert alice["exercises"]["tensor-broadcast"]["late"] is True
    assert alice["exercises"]["tensor-broadcast"]["grade"] == 0.5
    page = client.get(reverse("dashboard:gradebook", args=["pytorch"])).content.decode()
    assert "50% off after the deadline" in page and 'class="late"' in page


def test_regrade_before_uses_the_policy_so_nothing_looks_changed(seeded, eager_celery,
                                                                    fake_grader):
    _due(7)
    _policy(seeded, Course.LatePolicy.PENALTY, 0.5)
    regrade = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                     by=seeded.teacher)
    assert regrade.before[str(seeded.alice.pk)] == 0.5


def test_late_attempts_are_marked_on_the_lesson_history(seeded):
    _due(7)
    attempts = attempts_by_exercise(seeded.alice, [seeded.broadcast])[seeded.broadcast.pk]
    assert [a["late"] for a in attempts] == [True, False, False]  # newest first
    assert all("created" not in a for a in attempts)


def test_policy_writes_refuse_bad_values_and_change_nothing(seeded):
    for kind, penalty in (("penalty", 0), ("penalty", 1.5), ("sometimes", 0)):
        with pytest.raises(ValueError):
            services.late_policy_set(course=seeded.course, kind=kind, penalty=penalty)
    seeded.course.refresh_from_db()
    assert seeded.course.late_policy == "accept" and seeded.course.late_penalty == 0
    with pytest.raises(ValueError):
        services.extension_set(course=seeded.course, user=seeded.alice,
                               lesson=seeded.broadcast.lesson,
                               due=timezone.now().replace(tzinfo=None), comment="", by=None)


def test_deadlines_page_sets_policy_and_extensions(client, seeded):
    url = reverse("dashboard:deadlines", args=["pytorch"])
    client.force_login(seeded.teacher)
    response = client.post(url, {"action": "policy", "late_policy": "penalty",
                                 "penalty_percent": "20"})
    assert response.status_code == 302
    seeded.course.refresh_from_db()
    assert seeded.course.late_policy == "penalty" and seeded.course.late_penalty == 0.2
    bad = client.post(url, {"action": "policy", "late_policy": "penalty",
                            "penalty_percent": "150"})
    assert bad.status_code == 200 and "at most 100" in bad.content.decode()
    seeded.course.refresh_from_db()
    assert seeded.course.late_penalty == 0.2  # unchanged
    response = client.post(url, {"action": "extension", "username": "alice",
                                 "lesson": "tensors", "due": "2030-01-02T03:04",
                                 "comment": "ill"})
    assert response.status_code == 302
    x = Extension.objects.get(course=seeded.course, user=seeded.alice)
    assert x.due.isoformat() == "2030-01-02T03:04:00+00:00" and x.set_by == seeded.teacher
    page = client.get(url).content.decode()
    assert "alice" in page and "2030-01-02 03:04" in page
    assert client.post(url, {"action": "extension", "username": "alice", "lesson": "tensors",
                             "due": "soon"}).status_code == 200
    # Only this course's students and lessons.
    assert client.post(url, {"action": "extension", "username": "olga", "lesson": "tensors",
                             "due": "2030-01-02T03:04"}).status_code == 404
    client.post(url, {"action": "clear", "pk": x.pk})
    assert not Extension.objects.filter(pk=x.pk).exists()


# --------------------------------------------------------------------------- optional, weight


def test_optional_and_weight_shape_the_totals(seeded):
    book = selectors.gradebook(seeded.course)
    full = book.max_total
    broadcast_max = seeded.broadcast.spec.max_score
    seeded.broadcast.optional = True
    seeded.broadcast.save(update_fields=["optional"])
    book = selectors.gradebook(seeded.course)
    assert book.max_total == full - broadcast_max
    alice = next(r for r in book.rows if r.user == seeded.alice)
    assert alice.total == 0.0 and alice.cells[seeded.broadcast.pk].grade == 1.0  # still shown
    seeded.broadcast.optional, seeded.broadcast.weight = False, 2.0
    seeded.broadcast.save(update_fields=["optional", "weight"])
    book = selectors.gradebook(seeded.course)
    assert book.max_total == full + broadcast_max
    assert next(r for r in book.rows if r.user == seeded.alice).total == 2.0


def test_an_exercise_on_a_queue_without_workers_is_optional(seeded, settings, client):
    settings.SERVED_QUEUES = ["gpu"]  # no cpu worker: every tensors exercise is optional
    assert "no worker for its queue (cpu)" in optional_reason(seeded.broadcast)
    assert selectors.gradebook(seeded.course).max_total == 0
    row = next(r for r in lessons_with_progress(seeded.alice) if r["lesson"].slug == "tensors")
    assert row["total"] == 0 and row["done"] == 0
    client.force_login(seeded.alice)
    response = client.get(reverse("courses:lesson", args=["tensors"]))
    assert response.context["total"] == 0
    assert "no worker for its queue" in response.content.decode()
    settings.SERVED_QUEUES = ["cpu"]
    assert optional_reason(seeded.broadcast) == ""
    seeded.broadcast.optional = True
    seeded.broadcast.save(update_fields=["optional"])
    response = client.get(reverse("courses:lesson", args=["tensors"]))
    exercises = seeded.broadcast.lesson.exercises.count()
    assert response.context["total"] == exercises - 1
    assert "a bonus exercise" in response.content.decode()
    assert 'data-optional="1"' in response.content.decode()


def test_my_grades_shows_late_optional_and_the_weighted_total(client, seeded):
    _due(7)
    _policy(seeded, Course.LatePolicy.PENALTY, 0.5)
    seeded.cat.optional = True
    seeded.cat.save(update_fields=["optional"])
    client.force_login(seeded.alice)
    response = client.get(reverse("dashboard:my-grades", args=["pytorch"]))
    html = response.content.decode()
    assert response.context["total"] == 0.5
    assert 'badge late' in html and "a bonus exercise" in html and "50% off" in html


# --------------------------------------------------------------------------- opens


def test_a_lesson_is_hidden_from_students_until_it_opens(client, seeded):
    from courses.models import Lesson

    Lesson.objects.filter(slug="tensors").update(opens=timezone.now() + timedelta(days=1))
    client.force_login(seeded.alice)
    assert client.get(reverse("courses:lesson", args=["tensors"])).status_code == 404
    index = client.get(reverse("courses:index")).content.decode()
    assert 'data-lesson="tensors"' not in index
    client.force_login(seeded.teacher)  # staff prepare it before it opens
    assert client.get(reverse("courses:lesson", args=["tensors"])).status_code == 200
    Lesson.objects.filter(slug="tensors").update(opens=timezone.now() - timedelta(minutes=1))
    client.force_login(seeded.alice)
    assert client.get(reverse("courses:lesson", args=["tensors"])).status_code == 200
