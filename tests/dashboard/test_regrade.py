"""Regrade: new results against the current version; scores go up and down; overrides stay."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from django.urls import reverse

from courses.services import exercise_publish
from dashboard import selectors, services
from dashboard.models import Override, Regrade, RegradeResult
from submissions.models import Submission


def _publish_v2(exercise, solution: str):
    # A new reference (and so a new graded version): the stand-in grader gives full marks
    # exactly to code equal to the reference.
    return exercise_publish(exercise=exercise, spec=replace(exercise.spec, solution=solution))


def _grades(course, slug):
    book = selectors.gradebook(course)
    ex = next(e for e in book.exercises if e.slug == slug)
    return {r.user.username: r.cells[ex.pk] for r in book.rows}


def test_regrade_changes_scores_both_ways(client, seeded, eager_celery, fake_grader,
                                          django_capture_on_commit_callbacks):
    before = {u: c.grade for u, c in _grades(seeded.course, "tensor-broadcast").items()}
    assert before == {"alice": 1.0, "bob": 1.0, "carol": 0.0}
    v2 = _publish_v2(seeded.broadcast, "c = b")
    assert v2.number == 2
    seeded.broadcast.refresh_from_db()

    client.force_login(seeded.teacher)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dashboard:regrade-start",
                                       args=["pytorch", "tensor-broadcast"]))
    regrade = Regrade.objects.get()
    assert response["Location"] == reverse("dashboard:regrade", args=["pytorch", regrade.pk])
    regrade.refresh_from_db()
    # Every graded Submit attempt of the course's students, and only those (no Run).
    assert regrade.total == 5 and regrade.done == 5 and regrade.status == "done"
    assert len(fake_grader) == 5
    assert all(r.version_id == v2.pk for r in RegradeResult.objects.all())

    after = _grades(seeded.course, "tensor-broadcast")
    assert {u: c.grade for u, c in after.items()} == {"alice": 0.0, "bob": 0.0, "carol": 1.0}
    # The gradebook says what changed, and in which direction.
    assert (after["alice"].changed, after["alice"].delta, after["alice"].before) == (
        True, "down", 1.0)
    assert (after["carol"].changed, after["carol"].delta) == (True, "up")
    # Attempts are not inflated by regrading; the students' own rows are untouched.
    assert after["alice"].attempts == 3
    assert Submission.objects.get(pk=seeded.subs["a3"].pk).score == 1.0

    progress = client.get(reverse("dashboard:api-regrade", args=["pytorch", regrade.pk])).json()
    assert progress["status"] == "done" and progress["done"] == progress["total"] == 5
    changes = {c["student"]: (c["before"], c["after"]) for c in progress["changes"]}
    assert changes == {"alice": (1.0, 0.0), "bob": (1.0, 0.0), "carol": (0.0, 1.0)}

    page = client.get(reverse("dashboard:gradebook", args=["pytorch"])).content.decode()
    assert "was 1 before the regrade" in page
    sub_page = client.get(reverse("dashboard:submission", args=["pytorch", seeded.subs["a3"].pk]))
    assert "Verdict of the latest regrade (v2)" in sub_page.content.decode()
    assert "wrong-value" in sub_page.content.decode()
    stats = selectors.exercise_stats(seeded.course, seeded.broadcast)
    assert stats["passed"] == 1 and stats["pass_rate"] == 33
    assert stats["diagnostics"][0]["label"] == "wrong-value"
    # A new attempt after the regrade: the cell's change is no longer the regrade's doing.
    from tests.dashboard.conftest import make_sub

    later = make_sub(seeded.alice, seeded.broadcast, "c = b", "passed", 1, 0)
    Submission.objects.filter(pk=later.pk).update(created_at=regrade.created_at
                                                  + timedelta(seconds=1))
    again = _grades(seeded.course, "tensor-broadcast")
    assert again["alice"].grade == 1.0 and not again["alice"].changed
    assert again["carol"].changed


def test_override_survives_regrade(seeded, eager_celery, fake_grader,
                                   django_capture_on_commit_callbacks):
    services.override_set(course=seeded.course, user=seeded.bob, exercise=seeded.broadcast,
                          score=0.75, comment="Late but fine", by=seeded.teacher)
    _publish_v2(seeded.broadcast, "c = b")
    seeded.broadcast.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                               by=seeded.teacher)
    grades = _grades(seeded.course, "tensor-broadcast")
    assert grades["bob"].score == 0.0  # the regraded result...
    assert grades["bob"].grade == 0.75  # ...but the override wins
    assert Override.objects.get(user=seeded.bob).comment == "Late but fine"


def test_override_is_visible_to_the_student(client, seeded):
    client.force_login(seeded.teacher)
    url = reverse("dashboard:override", args=["pytorch", "tensor-cat", "bob"])
    response = client.post(url, {"score": "0.5", "comment": "<b>Good</b> effort"})
    assert response.status_code == 302
    client.force_login(seeded.bob)
    html = client.get(reverse("dashboard:my-grades", args=["pytorch"])).content.decode()
    assert "&lt;b&gt;Good&lt;/b&gt; effort" in html
    assert "set by your instructor" in html
    # Out of range: refused, nothing stored.
    client.force_login(seeded.teacher)
    response = client.post(url, {"score": "99", "comment": ""})
    assert response.status_code == 200 and b"between 0 and" in response.content
    assert Override.objects.get(user=seeded.bob).score == 0.5
    client.post(url, {"action": "clear"})
    assert not Override.objects.exists()


def test_regrade_of_one_student(seeded, eager_celery, fake_grader,
                                django_capture_on_commit_callbacks):
    _publish_v2(seeded.broadcast, "c = b")
    seeded.broadcast.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        regrade = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                         by=seeded.teacher, student=seeded.carol)
    regrade.refresh_from_db()
    assert regrade.total == 1 and regrade.done == 1
    grades = _grades(seeded.course, "tensor-broadcast")
    assert grades["carol"].grade == 1.0 and grades["alice"].grade == 1.0


def test_progress_while_running(seeded, django_capture_on_commit_callbacks):
    """Without a worker the job waits at 0/N; finishing results advances it exactly once."""
    _publish_v2(seeded.broadcast, "c = b")
    seeded.broadcast.refresh_from_db()
    regrade = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                     by=seeded.teacher)
    assert (regrade.total, regrade.done, regrade.status) == (5, 0, "running")
    results = list(regrade.results.all())
    verdict = {"outcome": "passed", "score": 1.0, "max_score": 1.0, "checks": []}
    for r in results[:4]:
        RegradeResult.objects.filter(pk=r.pk).update(status="running")
        services.regrade_result_finish(r, verdict)
        services.regrade_result_finish(r, verdict)  # a re-delivered task changes nothing
    regrade.refresh_from_db()
    assert (regrade.done, regrade.status) == (4, "running")
    RegradeResult.objects.filter(pk=results[4].pk).update(status="running")
    services.regrade_result_finish(results[4], None, error="Boom")
    regrade.refresh_from_db()
    assert (regrade.done, regrade.failed, regrade.status) == (4, 1, "done")


def test_regrade_task_retries_then_fails(seeded, eager_celery, monkeypatch,
                                         django_capture_on_commit_callbacks):
    import dashboard.tasks

    def broken(spec, code, *, kind="submit"):
        raise RuntimeError("sandbox down")

    monkeypatch.setattr(dashboard.tasks, "execute", broken)
    with django_capture_on_commit_callbacks(execute=True):
        regrade = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                         by=seeded.teacher, student=seeded.carol)
    regrade.refresh_from_db()
    result = regrade.results.get()
    assert result.status == "failed" and result.tries == dashboard.tasks.MAX_TRIES
    assert (regrade.failed, regrade.status) == (1, "done")
    # A failed regrade leaves the student's grade as it was.
    assert _grades(seeded.course, "tensor-broadcast")["carol"].score == 0.0
