"""Grade passback (AGS): a graded Submit of an LMS-launched student sends their effective
score to the LMS from a Celery task; a failing LMS leaves a failed passback that the
dashboard shows and retries."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest
from fake_lms import LEARNER, launch

from courses.models import Exercise
from dashboard.access import default_course
from dashboard.grades import effective_grades, weight_of
from lti.models import Identity, Passback
from submissions.models import Submission


@pytest.fixture
def eager(monkeypatch):
    """Celery without a broker: `.delay` runs the task here, retries included."""
    from lti import tasks

    monkeypatch.setattr(tasks.send_passback, "delay",
                        lambda pk: tasks.send_passback.apply(args=[pk]))


def graded(user, exercise: Exercise, outcome: str, score: float) -> Submission:
    """A Submit through the worker's real path (submissions/tasks.py: claim, grade, store),
    the sandbox run replaced by its verdict."""
    from unittest import mock

    from submissions.tasks import grade_submission

    sub = Submission.objects.create(user=user, exercise=exercise, kind="submit", code="x",
                                    version=exercise.current_version,
                                    max_score=exercise.spec.max_score)
    verdict = {"outcome": outcome, "passed": outcome == "passed", "score": score,
               "max_score": exercise.spec.max_score, "checks": [], "stdout": "",
               "error": None, "duration_ms": 5}
    with mock.patch("grading.runner.execute", return_value=verdict):
        grade_submission.apply(args=[sub.pk])
    sub.refresh_from_db()
    assert (sub.status, sub.outcome) == ("graded", outcome)
    return sub


def student(client, lms, **claims):
    response = launch(client, lms, sub="s-1", roles=[LEARNER], **claims)
    assert response.status_code == 302
    return Identity.objects.get(sub="s-1").user


def lesson_score(user) -> tuple[float, float]:
    """The lesson total as the effective grade defines it (dashboard/grades.py)."""
    exercises = list(Exercise.objects.filter(lesson__slug="tensors",
                                             current_version__isnull=False))
    cells = effective_grades(exercises, [user.pk], course=default_course())
    given = sum((cells[(user.pk, e.pk)].grade or 0) * weight_of(e)
                for e in exercises if (user.pk, e.pk) in cells)
    return given, sum(e.spec.max_score * weight_of(e) for e in exercises)


def test_a_graded_submit_sends_the_effective_lesson_score(
        client, lms, eager, django_capture_on_commit_callbacks):
    user = student(client, lms)
    cat = Exercise.objects.get(slug="tensor-cat")
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "passed", cat.spec.max_score)
    (score,) = lms.scores
    given, maximum = lesson_score(user)
    assert given == cat.spec.max_score * weight_of(cat) and given < maximum
    assert (score["scoreGiven"], score["scoreMaximum"]) == (given, maximum)
    assert score["userId"] == "s-1" and score["path"] == "/lineitems/7/scores"
    assert score["activityProgress"] == "Completed"
    assert score["gradingProgress"] == "FullyGraded"
    assert score["content_type"] == "application/vnd.ims.lis.v1.score+json"
    pb = Passback.objects.get(user=user)
    assert (pb.status, pb.score_given, pb.attempts, pb.last_error) == ("sent", given, 1, "")

    # The token request: client credentials, asserted by a JWT signed with the tool's key.
    (token,) = lms.token_requests
    assert token["grant_type"] == ["client_credentials"]
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in token["scope"][0]
    assertion = token["client_assertion"][0]
    key = jwt.PyJWKSet.from_json(json.dumps(client.get("/lti/jwks/").json()))
    kid = jwt.get_unverified_header(assertion)["kid"]
    signing = next(k for k in key.keys if k.key_id == kid)
    claims = jwt.decode(assertion, signing.key, algorithms=["RS256"],
                        audience=lms.base + "/token")
    assert claims["iss"] == claims["sub"] == lms.client_id
    assert lms.score_auth[0].startswith("Bearer token-")


def test_a_failed_attempt_after_a_pass_still_sends_the_best(
        client, lms, eager, django_capture_on_commit_callbacks):
    user = student(client, lms, custom={"exercise": "tensor-cat"}, link_id="l-cat")
    cat = Exercise.objects.get(slug="tensor-cat")
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "passed", cat.spec.max_score)
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "failed", 0.0)
    assert [s["scoreGiven"] for s in lms.scores] == [cat.spec.max_score] * 2
    assert lms.scores[-1]["scoreMaximum"] == cat.spec.max_score  # this exercise only


def test_the_late_policy_applies_to_what_is_sent(
        client, lms, eager, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from courses.models import Lesson
    from dashboard import services as dash

    user = student(client, lms, custom={"exercise": "tensor-cat"}, link_id="l-cat")
    Lesson.objects.filter(slug="tensors").update(due=timezone.now() - timedelta(hours=1))
    dash.late_policy_set(course=default_course(), kind="penalty", penalty=0.5)
    cat = Exercise.objects.get(slug="tensor-cat")
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "passed", cat.spec.max_score)
    assert lms.scores[-1]["scoreGiven"] == cat.spec.max_score * 0.5


def test_a_link_without_a_line_item_gets_one_made(
        client, lms, eager, django_capture_on_commit_callbacks):
    user = student(client, lms, lineitem=None, link_id="l-new")
    cat = Exercise.objects.get(slug="tensor-cat")
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "passed", cat.spec.max_score)
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "failed", 0.0)
    (made,) = lms.line_items  # made once, then reused
    assert made["resourceLinkId"] == "l-new" and made["scoreMaximum"] == lesson_score(user)[1]
    assert made["label"] == "Data manipulation"  # the lesson's title
    assert [s["path"] for s in lms.scores] == ["/lineitems/100/scores"] * 2
    assert Passback.objects.get(user=user).line_item.url == made["id"]


def test_run_and_refused_code_send_nothing(client, lms, eager,
                                           django_capture_on_commit_callbacks):
    user = student(client, lms)
    cat = Exercise.objects.get(slug="tensor-cat")
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "rejected", 0.0)
    assert lms.scores == [] and Passback.objects.get(user=user).status == "idle"


def test_students_who_never_came_through_the_lms_send_nothing(
        lms, eager, django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    local = get_user_model().objects.create_user("local")
    cat = Exercise.objects.get(slug="tensor-cat")
    with django_capture_on_commit_callbacks(execute=True):
        graded(local, cat, "passed", cat.spec.max_score)
    assert lms.scores == [] and lms.token_requests == []


def test_a_failing_lms_marks_the_passback_failed_and_retry_sends_it(
        client, lms, eager, settings, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import Group

    from accounts.models import INSTRUCTORS

    settings.LTI_PASSBACK_MAX_RETRIES = 3
    user = student(client, lms)
    cat = Exercise.objects.get(slug="tensor-cat")
    lms.fail_scores = 100
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "passed", cat.spec.max_score)
    pb = Passback.objects.get(user=user)
    assert pb.status == "failed" and pb.attempts == 3
    assert "HTTP 500" in pb.last_error and "the LMS is down" in pb.last_error
    assert lms.scores == []

    # The dashboard shows it to the course's instructor, and Retry sends it.
    teacher = type(user).objects.create_user("teacher", password="teacher-pass-123")
    teacher.groups.add(Group.objects.get_or_create(name=INSTRUCTORS)[0])
    client.force_login(teacher)
    page = client.get("/dashboard/pytorch/lti/")
    assert page.status_code == 200
    row = f'data-passback="{pb.pk}" data-status="failed"'
    assert row in page.content.decode()
    assert "1 grade could not be sent." in page.content.decode()
    lms.fail_scores = 0
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/dashboard/pytorch/lti/passbacks/{pb.pk}/retry")
    assert response.status_code == 302
    pb.refresh_from_db()
    assert (pb.status, pb.attempts, pb.last_error) == ("sent", 1, "")
    assert lms.scores[-1]["scoreGiven"] == lesson_score(user)[0]


def test_retry_is_scoped_to_the_course(client, lms, eager, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import User

    from dashboard.models import Course, Membership

    user = student(client, lms)
    pb = Passback.objects.get(user=user)
    other = Course.objects.create(slug="other", title="Other")
    olga = User.objects.create_user("olga")
    Membership.objects.create(course=other, user=olga, role="instructor")
    client.force_login(olga)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/dashboard/other/lti/passbacks/{pb.pk}/retry")
    assert response.status_code == 302
    pb.refresh_from_db()
    assert pb.status == "idle" and lms.token_requests == []
    assert f'data-passback="{pb.pk}"' not in client.get("/dashboard/other/lti/").content.decode()


def test_a_broker_outage_marks_the_passback_failed(client, lms, monkeypatch,
                                                   django_capture_on_commit_callbacks):
    from lti import tasks

    user = student(client, lms)

    def down(pk):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.send_passback, "delay", down)
    cat = Exercise.objects.get(slug="tensor-cat")
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "passed", cat.spec.max_score)
    pb = Passback.objects.get(user=user)
    assert pb.status == "failed" and "could not queue" in pb.last_error


def test_an_instructors_grade_changes_reach_the_lms(
        client, lms, eager, django_capture_on_commit_callbacks):
    """Overrides, the late policy and extensions move effective grades: each sends the new
    one, the same score the gradebook shows."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from courses.models import Lesson
    from dashboard import services as dash

    user = student(client, lms, custom={"exercise": "tensor-cat"}, link_id="l-cat")
    course, cat = default_course(), Exercise.objects.get(slug="tensor-cat")
    teacher = User.objects.create_user("t-lti")
    lesson = Lesson.objects.get(slug="tensors")
    lesson.due = timezone.now() - timedelta(hours=1)
    lesson.save(update_fields=["due"])
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "passed", cat.spec.max_score)  # late, accepted at full marks
    assert lms.scores[-1]["scoreGiven"] == cat.spec.max_score

    with django_capture_on_commit_callbacks(execute=True):
        dash.late_policy_set(course=course, kind="penalty", penalty=0.5)
    assert lms.scores[-1]["scoreGiven"] == cat.spec.max_score * 0.5

    with django_capture_on_commit_callbacks(execute=True):
        dash.extension_set(course=course, user=user, lesson=lesson, comment="",
                           due=timezone.now() + timedelta(days=1), by=teacher)
    assert lms.scores[-1]["scoreGiven"] == cat.spec.max_score

    with django_capture_on_commit_callbacks(execute=True):
        dash.override_set(course=course, user=user, exercise=cat, score=0.0, comment="",
                          by=teacher)
    assert lms.scores[-1]["scoreGiven"] == 0.0
    with django_capture_on_commit_callbacks(execute=True):
        dash.override_clear(course=course, user=user, exercise=cat)
    assert lms.scores[-1]["scoreGiven"] == cat.spec.max_score
    assert len(lms.scores) == 5
    given, _ = lesson_score(user)
    assert Passback.objects.get(user=user).score_given == cat.spec.max_score
    assert given == cat.spec.max_score * weight_of(cat)


def test_without_a_registered_lms_a_verdict_costs_no_lti_query(db, django_assert_num_queries):
    """Most deployments have no LMS: the worker's hook must not cost every verdict a query."""
    from types import SimpleNamespace

    from lti import hooks

    sub = SimpleNamespace(kind="submit", outcome="passed", pk=1, user_id=1)
    with django_assert_num_queries(1):  # "is any LMS registered?", then remembered
        assert hooks.submission_graded(sub) is False
    with django_assert_num_queries(0):
        for _ in range(3):
            assert hooks.submission_graded(sub) is False


def test_a_regrade_that_moves_the_grade_reaches_the_lms(
        client, lms, eager, monkeypatch, django_capture_on_commit_callbacks):
    """A regrade result is an instructor's change too: the regraded grade is sent."""
    from django.contrib.auth.models import User

    import dashboard.tasks
    from config.celery import app
    from dashboard import services as dash

    user = student(client, lms, custom={"exercise": "tensor-cat"}, link_id="l-cat")
    cat = Exercise.objects.get(slug="tensor-cat")
    with django_capture_on_commit_callbacks(execute=True):
        graded(user, cat, "passed", cat.spec.max_score)  # its code "x" was judged a pass
    assert lms.scores[-1]["scoreGiven"] == cat.spec.max_score

    def execute(spec, code, *, kind="submit", author=False):  # the regrade judges it again
        return {"outcome": "failed", "passed": False, "score": 0.0,
                "max_score": spec.max_score, "checks": [], "stdout": "", "error": None,
                "duration_ms": 5}

    monkeypatch.setattr(dashboard.tasks, "execute", execute)
    app.conf.task_always_eager = True  # the regrade's tasks run here
    try:
        with django_capture_on_commit_callbacks(execute=True):
            dash.regrade_start(course=default_course(), exercise=cat,
                               by=User.objects.create_user("t-regrade"))
    finally:
        app.conf.task_always_eager = False
    assert lms.scores[-1]["scoreGiven"] == 0.0
    assert Passback.objects.get(user=user).score_given == 0.0
