"""Regrade: new results against the current version; scores go up and down; overrides stay."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from django.urls import reverse
from tests.dashboard.conftest import record_sends

from courses.services import exercise_publish
from dashboard import selectors, services
from dashboard.models import Override, Regrade, RegradeResult
from submissions import jobs
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
    # carol's attempt now equals the reference: full marks (tensor-broadcast has 2 points).
    assert {u: c.grade for u, c in after.items()} == {"alice": 0.0, "bob": 0.0, "carol": 2.0}
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
    assert changes == {"alice": (1.0, 0.0), "bob": (1.0, 0.0), "carol": (0.0, 2.0)}

    page = client.get(reverse("dashboard:gradebook", args=["pytorch"])).content.decode()
    assert "was 1 before the regrade" in page
    sub_page = client.get(reverse("dashboard:submission", args=["pytorch", seeded.subs["a3"].pk]))
    assert "The latest regrade (v2): what the student sees now" in sub_page.content.decode()
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
    assert grades["carol"].grade == 2.0 and grades["alice"].grade == 1.0  # 2.0: full marks


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
    assert result.status == "failed" and result.tries == jobs.max_tries()
    assert (regrade.failed, regrade.status) == (1, "done")
    # A failed regrade leaves the student's grade as it was.
    assert _grades(seeded.course, "tensor-broadcast")["carol"].score == 0.0


# --- Fairness (issue #11): one regrade per exercise, on the low-priority queue ------------


def _published(monkeypatch):
    """Record regrade tasks published ("regrade_submission", result id, queue) instead of
    sending them."""
    import dashboard.tasks

    return record_sends(monkeypatch, dashboard.tasks.regrade_submission)


def test_regrade_work_goes_to_the_bulk_queue(seeded, monkeypatch,
                                             django_capture_on_commit_callbacks):
    sent = _published(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        regrade = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                         by=seeded.teacher)
    assert sorted(pk for _, pk, _ in sent) == sorted(regrade.results.values_list("pk", flat=True))
    assert {queue for _, _, queue in sent} == {"cpu-bulk"}


def test_a_gpu_exercise_regrades_on_gpu_bulk(seeded, monkeypatch,
                                             django_capture_on_commit_callbacks):
    exercise_publish(exercise=seeded.cat, spec=replace(seeded.cat.spec, queue="gpu"))
    seeded.cat.refresh_from_db()
    sent = _published(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        services.regrade_start(course=seeded.course, exercise=seeded.cat, by=seeded.teacher)
    assert sent and {queue for _, _, queue in sent} == {"gpu-bulk"}


def test_a_retried_regrade_stays_on_the_bulk_queue(seeded, monkeypatch):
    import dashboard.tasks

    regrade = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                     by=seeded.teacher, student=seeded.carol)
    result = regrade.results.get()

    def broken(spec, code, *, kind="submit", author=False):
        raise RuntimeError("sandbox down")

    monkeypatch.setattr(dashboard.tasks, "execute", broken)
    sent = _published(monkeypatch)
    dashboard.tasks.regrade_submission.run(result.pk)
    assert sent == [("regrade_submission", result.pk, "cpu-bulk")]
    result.refresh_from_db()
    assert result.status == "pending" and result.tries == 1


def test_one_regrade_per_exercise_at_a_time(seeded, monkeypatch,
                                            django_capture_on_commit_callbacks):
    sent = _published(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                       by=seeded.teacher)
    assert first.status == "running" and len(sent) == 5
    start = {"exercise": seeded.broadcast, "by": seeded.teacher}

    # What the running one already does: the request gets it back, and nothing new runs.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.regrade_start(course=seeded.course, **start).pk == first.pk
        assert services.regrade_start(course=seeded.course, student=seeded.carol,
                                      **start).pk == first.pk
    assert Regrade.objects.count() == 1 and len(sent) == 5

    # Another course sharing the exercise: refused, without details of this course's job.
    with pytest.raises(services.RegradeBusy, match="for another course is running"):
        services.regrade_start(course=seeded.other, **start)
    # A newer version than the running regrade's: refused until it has finished.
    _publish_v2(seeded.broadcast, "c = b")
    with pytest.raises(services.RegradeBusy,
                       match=rf"Regrade #{first.pk} of tensor-broadcast \(version 1, 0 of 5"):
        services.regrade_start(course=seeded.course, **start)
    # Other exercises are not held up.
    other = services.regrade_start(course=seeded.course, exercise=seeded.cat,
                                   by=seeded.teacher)
    assert other.pk != first.pk
    assert Regrade.objects.filter(status="running").count() == 2

    # Once it has finished, the next regrade of the exercise starts.
    Regrade.objects.filter(pk=first.pk).update(status="done")
    second = services.regrade_start(course=seeded.course, **start)
    assert second.pk not in (first.pk, other.pk) and second.version.number == 2


def test_a_running_regrade_of_one_student_refuses_a_regrade_of_all(seeded, monkeypatch):
    _published(monkeypatch)
    one = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                 by=seeded.teacher, student=seeded.carol)
    with pytest.raises(services.RegradeBusy, match="run one at a time"):
        services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                               by=seeded.teacher)
    with pytest.raises(services.RegradeBusy):
        services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                               by=seeded.teacher, student=seeded.alice)
    assert list(Regrade.objects.values_list("pk", flat=True)) == [one.pk]


def test_the_regrade_button_says_why_it_was_refused(client, seeded, monkeypatch):
    _published(monkeypatch)
    services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                           by=seeded.teacher, student=seeded.carol)
    client.force_login(seeded.teacher)
    url = reverse("dashboard:regrade-start", args=["pytorch", "tensor-broadcast"])
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse(
        "dashboard:exercise", args=["pytorch", "tensor-broadcast"])
    assert "regrades of one exercise run one at a time" in response.content.decode()
    assert Regrade.objects.count() == 1


def test_a_stalled_regrade_is_sent_again_rather_than_blocking(
        seeded, monkeypatch, settings, django_capture_on_commit_callbacks):
    """Its messages lost (Redis restarted empty): the next request re-queues what is left."""
    from django.utils import timezone

    sent = _published(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                       by=seeded.teacher)
    results = list(first.results.order_by("pk"))
    long_ago = timezone.now() - timedelta(seconds=settings.REGRADE_STALL_SECONDS + 60)
    Regrade.objects.filter(pk=first.pk).update(created_at=long_ago)
    RegradeResult.objects.filter(pk=results[0].pk).update(
        status="done", started_at=long_ago, finished_at=long_ago)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        again = services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                                       by=seeded.teacher)
    assert again.pk == first.pk
    assert sorted(pk for _, pk, _ in sent) == [r.pk for r in results[1:]]
    assert {queue for _, _, queue in sent} == {"cpu-bulk"}
    # Progress within the stall time: nothing is sent twice.
    RegradeResult.objects.filter(pk=results[1].pk).update(started_at=timezone.now(),
                                                          status="running")
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.regrade_start(course=seeded.course, exercise=seeded.broadcast,
                               by=seeded.teacher)
    assert sent == []
