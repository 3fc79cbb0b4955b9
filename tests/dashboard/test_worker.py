"""Regrade through a real Celery worker and Redis, grading in the real sandbox."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from courses.services import exercise_publish
from dashboard import selectors, services
from dashboard.models import Regrade

pytestmark = pytest.mark.integration


def test_regrade_through_a_real_worker(seeded, cpu_worker):
    exercise = seeded.broadcast
    # The check now counts 3 points: every passing attempt must go from 1 to 3.
    spec = exercise.spec
    exercise_publish(exercise=exercise, spec=replace(
        spec, checks=(replace(spec.checks[0], points=3.0),)))
    exercise.refresh_from_db()
    regrade = services.regrade_start(course=seeded.course, exercise=exercise,
                                     by=seeded.teacher)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        regrade = Regrade.objects.get(pk=regrade.pk)
        if regrade.finished:
            break
        time.sleep(0.2)
    assert regrade.finished, f"{regrade.done}/{regrade.total} after 120 s"
    assert (regrade.total, regrade.done, regrade.failed) == (5, 5, 0)
    best = selectors.best_effective(exercise)
    assert best == {seeded.alice.pk: 3.0, seeded.bob.pk: 3.0, seeded.carol.pk: 0.0}
    outcomes = {r.submission_id: r.outcome for r in regrade.results.all()}
    assert outcomes[seeded.subs["a3"].pk] == "passed"
    assert outcomes[seeded.subs["c1"].pk] == "failed"
    changes = {c["user"].username: (c["before"], c["after"])
               for c in services.regrade_changes(regrade)}
    assert changes == {"alice": (1.0, 3.0), "bob": (1.0, 3.0)}


def test_course_staff_command(seeded):
    from io import StringIO

    from django.core.management import call_command

    from dashboard.access import role_of

    out = StringIO()
    call_command("course_staff", "pytorch", "carol", "ta", stdout=out)
    assert role_of(seeded.carol, seeded.course) == "ta"
    call_command("course_staff", "pytorch", "carol", "--remove", stdout=out)
    assert role_of(seeded.carol, seeded.course) == "student"
    call_command("course_staff", "ml-101", "carol", "instructor", "--create-course", "ML 101",
                 stdout=out)
    assert role_of(seeded.carol, selectors.Course.objects.get(slug="ml-101")) == "instructor"
