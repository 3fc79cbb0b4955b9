"""Regrade through a real Celery worker and Redis, grading in the real sandbox."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from tests.dashboard.conftest import make_sub
from workerprocs import flush_redis, start_worker, stop, wait_for_worker

from courses.services import exercise_publish
from dashboard import selectors, services
from dashboard.models import Regrade, RegradeResult
from submissions.models import Submission

pytestmark = pytest.mark.integration


def test_regrade_through_a_real_worker(seeded, cpu_worker):
    exercise = seeded.broadcast
    # The seeded passing attempts hold the reference solution (the seed's one-liner is the
    # old exercise's answer).
    Submission.objects.filter(exercise=exercise, code="c = a + b").update(
        code=exercise.spec.solution)
    # The checks now count 3 points in all: every passing attempt must go to 3.
    spec = exercise.spec
    exercise_publish(exercise=exercise, spec=replace(
        spec, checks=tuple(replace(c, points=3.0 / len(spec.checks)) for c in spec.checks)))
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


def _wait(predicate: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n"
                f"{log.read_text(errors='replace')[-4000:] if log.exists() else ''}")


def test_a_worker_killed_mid_regrade_and_the_regrade_completes(seeded, transactional_db,
                                                                tmp_path):
    """The sweeper (submissions.jobs) takes back a regrade result whose worker vanished:
    no redelivery by the broker is needed (its visibility timeout is 5 minutes here)."""
    flush_redis()
    exercise = seeded.broadcast
    slow = make_sub(seeded.carol, exercise, "import time\ntime.sleep(4)\n"
                    + exercise.spec.solution, "failed", 0, 30)
    env = {"SWEEP_INTERVAL_SECONDS": "1"}
    log_a, log_b = tmp_path / "worker-a.log", tmp_path / "worker-b.log"
    worker_a = start_worker("cpu", "regrade-a@%h", log_a, env)
    worker_b = None
    try:
        wait_for_worker(worker_a, "cpu", log_a)
        regrade = services.regrade_start(course=seeded.course, exercise=exercise,
                                         by=seeded.teacher, student=seeded.carol)
        result = regrade.results.get(submission=slow)
        _wait(lambda: RegradeResult.objects.get(pk=result.pk).status == "running", 120,
              "worker A to claim the slow result", log_a)
        time.sleep(1.0)  # well inside its 4 s run
        worker_a.send_signal(signal.SIGKILL)
        worker_a.wait(10)
        lost = RegradeResult.objects.get(pk=result.pk)
        assert lost.status == "running" and lost.worker.startswith("regrade-a@")

        worker_b = start_worker("cpu", "regrade-b@%h", log_b, env)
        _wait(lambda: Regrade.objects.get(pk=regrade.pk).finished, 180,
              "the regrade to complete on worker B", log_b)
        regrade.refresh_from_db()
        assert (regrade.done, regrade.failed) == (regrade.total, 0)
        done = RegradeResult.objects.get(pk=result.pk)
        assert done.outcome == "passed", done.verdict
        assert done.tries == 2 and done.worker.startswith("regrade-b@")
        assert f"RegradeResult {result.pk} lost its worker" in log_b.read_text(
            errors="replace")
    finally:
        for proc in (worker_a, worker_b):
            if proc is not None and proc.poll() is None:
                stop(proc)
        flush_redis()


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
