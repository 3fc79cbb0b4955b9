"""Fairness (issue #11, section 4): one submission in flight per student and queue, a
sandbox-time budget per student, and regrades behind students on a low-priority queue."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from courses.models import Exercise
from submissions import services
from submissions.models import Submission

pytestmark = pytest.mark.django_db

URL = "/api/exercises/{slug}/submissions"


@pytest.fixture(autouse=True)
def no_broker(settings):
    """What reaches the queue is recorded, not sent; both queues have a live worker."""
    settings.SUBMISSION_RATE_LIMIT = "1000/60"  # this file tests the other limits
    with mock.patch("submissions.services.enqueue") as enqueue, mock.patch(
        "submissions.services.workers.online", return_value={"cpu": 1, "gpu": 1}
    ):
        yield enqueue


def post(client: Client, code: str = "c = a + b", slug: str = "tensor-broadcast",
         kind: str = "submit"):
    return client.post(URL.format(slug=slug), data=json.dumps({"code": code, "kind": kind}),
                       content_type="application/json")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def in_flight(user, queue: str = "cpu") -> list[Submission]:
    return list(Submission.objects.filter(
        user=user, queue=queue, status__in=("queued", "running")))


# --- One queued-or-running submission per student and queue -------------------------------


def test_a_submit_while_one_is_running_is_answered_429(course, alice):
    client = logged_in(alice)
    first = post(client).json()
    assert services.submission_claim(first["id"], worker="w@h") is not None
    stored = Submission.objects.count()

    refused = post(client, "c = b + a")
    assert refused.status_code == 429
    data = refused.json()
    assert data["reason"] == "busy"
    assert f"#{first['id']}" in data["error"] and "still being graded" in data["error"]
    # tensor-broadcast's wall limit bounds the wait; header and body agree.
    assert 1 <= data["retry_after"] == int(refused["Retry-After"]) <= 10
    assert Submission.objects.count() == stored  # nothing stored for the refused one
    assert [s.pk for s in in_flight(alice)] == [first["id"]]

    # A run counts too (it holds a sandbox), on any exercise of the same queue.
    assert post(client, "x = 1", slug="tensor-arange", kind="run").status_code == 429
    # Once graded, the student may submit again at once.
    claimed = Submission.objects.get(pk=first["id"])
    services.submission_finish(claimed, services.verdict_without_run("failed", "x", 1.0))
    assert post(client, "c = b + a").status_code == 202


def test_back_to_back_submits_leave_one_in_flight(course, alice, bob, no_broker,
                                                  django_capture_on_commit_callbacks):
    """Ten submits in a row: each supersedes the one before while it waits; the student
    never has two in the queue, and another student is untouched."""
    alice_client, bob_client = logged_in(alice), logged_in(bob)
    bobs = post(bob_client).json()["id"]
    ids = []
    for n in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            response = post(alice_client, f"c = a + b  # {n}",
                            slug=("tensor-broadcast", "tensor-arange")[n % 2])
        assert response.status_code == 202
        ids.append(response.json()["id"])
        assert [s.pk for s in in_flight(alice)] == [ids[-1]]
    assert no_broker.call_count == 10  # each was published; the superseded ones claim nothing
    for old in ids[:-1]:
        assert services.submission_claim(old, worker="w@h") is None
        verdict = Submission.objects.get(pk=old).verdict
        assert verdict["error"]["type"] == "superseded"
    assert services.submission_claim(ids[-1], worker="w@h") is not None
    assert [s.pk for s in in_flight(bob)] == [bobs]


def test_a_claim_between_the_check_and_the_supersede_refuses_the_new_one(course, alice):
    """The race: a worker claims the older queued submission after `_admit` saw it queued
    but before the supersede. The supersede (conditional) skips it, and the new submission
    is refused instead of making two in flight; the rollback leaves no trace of it."""
    client = logged_in(alice)
    first = post(client).json()["id"]
    real_supersede = services.supersede_older

    def worker_claims_first(sub):
        assert services.submission_claim(first, worker="fast@h") is not None
        return real_supersede(sub)

    with mock.patch("submissions.services.supersede_older", side_effect=worker_claims_first):
        refused = post(client, "c = b + a")
    assert refused.status_code == 429 and refused.json()["reason"] == "busy"
    assert f"#{first}" in refused.json()["error"]
    # Only the first exists, and it was not superseded. (The stand-in claim ran on the
    # request's own connection, so the refusal's rollback undid it too; a real worker's
    # claim is its own committed transaction and the first stays running.)
    assert [s.pk for s in Submission.objects.filter(user=alice)] == [first]
    assert Submission.objects.get(pk=first).status in ("queued", "running")


def _at_once(n: int, user, code: str = "c = a + b") -> list[int]:
    """n submits of one student from n threads (own connections), released together."""
    import threading

    from django.db import connection

    barrier, statuses = threading.Barrier(n), []

    def submit(i: int) -> None:
        try:
            client = logged_in(user)
            barrier.wait(10)
            statuses.append(post(client, f"{code}  # {i}").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def test_simultaneous_submits_leave_exactly_one_in_flight(course, alice, transactional_db):
    statuses = _at_once(6, alice)
    assert sorted(statuses) == [202] * 6  # each superseded the one before it
    assert len(in_flight(alice)) == 1
    superseded = Submission.objects.filter(user=alice, outcome="rejected")
    assert superseded.count() == 5
    assert all(s.verdict["error"]["type"] == "superseded" for s in superseded)


def test_simultaneous_submits_while_one_runs_are_all_refused(course, alice, transactional_db):
    first = post(logged_in(alice)).json()["id"]
    services.submission_claim(first, worker="w@h")
    assert _at_once(6, alice) == [429] * 6
    assert [s.pk for s in Submission.objects.filter(user=alice)] == [first]


def test_the_rule_holds_per_queue(course, alice):
    """A student may have one cpu and one gpu submission in flight, not two of either."""
    client = logged_in(alice)
    cpu = post(client).json()
    gpu = post(client, "Z = 1", slug="device-gpu-add").json()
    assert (cpu["queue"], gpu["queue"]) == ("cpu", "gpu")
    assert gpu["status"] == "queued"
    services.submission_claim(cpu["id"])
    services.submission_claim(gpu["id"])
    assert post(client).status_code == 429
    assert post(client, "Z = 2", slug="device-gpu-add").status_code == 429


def test_a_superseded_submission_names_its_successor_across_exercises(course, alice):
    client = logged_in(alice)
    first = post(client).json()["id"]
    second = post(client, "x = 1", slug="tensor-arange").json()["id"]
    old = client.get(f"/api/submissions/{first}").json()
    assert old["outcome"] == "rejected" and old["superseded_by"] == second
    assert f"#{second}" in old["error"]["message"]
    assert "Only one of your submissions waits in the queue" in old["error"]["message"]


def test_code_refused_without_running_is_not_held_back(course, alice):
    """Rejections that never reach a sandbox are answered even while one runs."""
    client = logged_in(alice)
    first = post(client).json()["id"]
    services.submission_claim(first)
    response = post(client, "c = a\x00 + b")
    assert response.status_code == 400 and response.json()["reason"] == "nul"
    assert Submission.objects.filter(user=alice).count() == 1  # no row for refused code


# --- The sandbox-time budget --------------------------------------------------------------


def _charged(user, exercise: Exercise, seconds_ago: float, wall_ms: int, cpu_ms: int = 0):
    now = timezone.now()
    return Submission.objects.create(
        user=user, exercise=exercise, version=exercise.current_version, code="c = a + b",
        status=Submission.Status.GRADED, outcome="passed", score=1, max_score=1,
        finished_at=now - timedelta(seconds=seconds_ago), sandbox_ms=wall_ms, cpu_ms=cpu_ms,
    )


def test_over_the_wall_budget_the_student_waits_until_runs_leave_the_window(
    course, alice, bob, settings
):
    settings.SANDBOX_BUDGET_WINDOW_SECONDS = 600
    settings.SANDBOX_BUDGET_WALL_SECONDS = 10
    exercise = Exercise.objects.get(slug="tensor-broadcast")
    _charged(alice, exercise, 700, 60_000)  # outside the window: forgotten
    _charged(alice, exercise, 500, 6_000)
    _charged(alice, exercise, 100, 5_000)  # 11 s in the window: over 10 s
    client = logged_in(alice)
    refused = post(client)
    assert refused.status_code == 429
    data = refused.json()
    assert data["reason"] == "budget"
    # The 6 s run leaves the window in 100 s; then 5 s < 10 s remain.
    assert 99 <= data["retry_after"] <= 101
    assert refused["Retry-After"] == str(data["retry_after"])
    assert "used 11 s of grader time in the last 10 min" in data["error"]
    assert f"submit again in 1 min {data['retry_after'] - 60} s" in data["error"]
    assert not in_flight(alice)
    # Another student's budget is their own.
    assert post(logged_in(bob)).status_code == 202
    # Later, the old run has left the window: allowed again.
    later = timezone.now() + timedelta(seconds=101)
    assert services.budget_refusal(alice.pk, later) is None


def test_the_cpu_budget_is_kept_too(course, alice, settings):
    settings.SANDBOX_BUDGET_WALL_SECONDS = 1000
    settings.SANDBOX_BUDGET_CPU_SECONDS = 5
    exercise = Exercise.objects.get(slug="tensor-broadcast")
    _charged(alice, exercise, 30, 3_000, cpu_ms=6_000)  # four busy threads, say
    refused = post(logged_in(alice))
    assert refused.status_code == 429
    assert "grader CPU time" in refused.json()["error"]
    assert 569 <= refused.json()["retry_after"] <= 571


def test_a_zero_budget_turns_the_limit_off(course, alice, settings):
    settings.SANDBOX_BUDGET_WALL_SECONDS = 0
    settings.SANDBOX_BUDGET_CPU_SECONDS = 0
    _charged(alice, Exercise.objects.get(slug="tensor-broadcast"), 10, 10**9, 10**9)
    assert post(logged_in(alice)).status_code == 202


def _fake_execute(usage_given: dict):
    def execute(spec, code, *, kind="submit", author=False, usage=None):
        if usage is not None:
            usage.update(usage_given)
        return services.verdict_without_run("failed", "x", spec.max_score)

    return execute


@pytest.mark.parametrize(
    ("usage", "wall", "cpu"),
    [
        ({"wall_ms": 1234.4, "cpu_ms": 800.6}, 1234, 801),
        # Figures that cannot be true are replaced by the worker's own clock (the bound).
        ({"wall_ms": 10**12, "cpu_ms": float("nan")}, "bound", "bound"),
        ({"wall_ms": -5, "cpu_ms": "3"}, "bound", "bound"),
        ({}, "bound", "bound"),
    ],
)
def test_the_worker_charges_the_run_it_graded(course, alice, usage, wall, cpu):
    from grading import runner
    from submissions import tasks

    sub = Submission.objects.get(pk=post(logged_in(alice)).json()["id"])
    readings = [100.0]  # the worker's own clock: 3 s around the grading

    def monotonic() -> float:
        readings.append(103.0)
        return readings.pop(0)

    clock = SimpleNamespace(monotonic=monotonic, sleep=time.sleep)
    with mock.patch.object(runner, "execute", _fake_execute(usage)), \
            mock.patch.object(tasks, "time", clock):
        tasks.grade_submission.apply(args=(sub.pk,))
    sub.refresh_from_db()
    assert sub.status == "graded"
    assert sub.sandbox_ms == (3000 if wall == "bound" else wall)
    assert sub.cpu_ms == (3000 if cpu == "bound" else cpu)


def test_a_platform_failure_costs_the_student_nothing(course, alice):
    from grading import runner
    from submissions import tasks

    sub = Submission.objects.get(pk=post(logged_in(alice)).json()["id"])

    def broken(spec, code, *, kind="submit", author=False, usage=None):
        usage["wall_ms"] = 9000.0
        raise RuntimeError("sandbox down")

    with mock.patch.object(runner, "execute", broken):
        tasks.grade_submission.apply(args=(sub.pk,))
    sub.refresh_from_db()
    assert sub.status == "queued" and sub.sandbox_ms == 0  # handed back, not charged


def test_a_stale_claim_charges_nothing(course, alice):
    sub_id = post(logged_in(alice)).json()["id"]
    first = services.submission_claim(sub_id, worker="a")
    Submission.objects.filter(pk=sub_id).update(status="queued")
    second = services.submission_claim(sub_id, worker="b")
    verdict = services.verdict_without_run("failed", "x", 1.0)
    assert not services.submission_finish(first, verdict, services.Charge(99_000, 99_000))
    assert services.submission_finish(second, verdict, services.Charge(1_000, 500))
    assert Submission.objects.filter(pk=sub_id).values_list(
        "sandbox_ms", "cpu_ms").get() == (1_000, 500)


def test_the_runner_meters_only_the_codes_own_runs(monkeypatch):
    """The student's runs are added up; the reference pool is handed through unmetered."""
    from grading import runner

    class Pool:
        device = "cpu"

        def __init__(self, ms: float) -> None:
            self.ms = ms

        def run(self, job):
            return SimpleNamespace(duration_ms=self.ms, cpu_ms=self.ms / 2)

        def reference_pool(self):
            return reference

    reference, student = Pool(5000.0), Pool(40.0)

    def grade(spec, code, *, pool):
        pool.reference_pool().run("the reference")
        pool.run("the student's code")
        pool.run("once more")
        return SimpleNamespace(to_dict=lambda: {"outcome": "passed"})

    monkeypatch.setattr(runner, "get_pool", lambda: student)
    monkeypatch.setattr(runner.grader, "grade", grade)
    usage: dict[str, float] = {}
    assert runner.execute(SimpleNamespace(), "c = a + b", usage=usage) == {"outcome": "passed"}
    assert usage == {"wall_ms": 80.0, "cpu_ms": 40.0}


def test_measured_charge_bounds():
    charge = services.measured_charge({"wall_ms": 200.0, "cpu_ms": 700.0}, 250.0, cpus=4)
    assert charge == services.Charge(200, 700)
    # CPU may exceed wall (several cores), never cores × the worker's clock.
    assert services.measured_charge({"wall_ms": 200.0, "cpu_ms": 5000.0}, 250.0, cpus=4) \
        == services.Charge(200, 200)
    assert services.measured_charge({"wall_ms": True}, 10.0).wall_ms == 10
    assert services.measured_charge({}, 1e13) == services.Charge(2**31 - 1, 2**31 - 1)


# --- Regrades wait behind students --------------------------------------------------------


def test_regrades_are_routed_to_the_bulk_queues():
    from config.celery import app
    from dashboard import services as dashboard_services

    assert dashboard_services.bulk_queue("cpu") == "cpu-bulk"
    assert dashboard_services.bulk_queue("any") == "cpu-bulk"
    assert dashboard_services.bulk_queue("gpu") == "gpu-bulk"
    # A publish that names no queue still lands on the bulk queue.
    route = app.amqp.router.route({}, "dashboard.tasks.regrade_submission")
    assert route["queue"].name == "cpu-bulk"
    # The queue regrade_start names (gpu-bulk for a gpu exercise) wins over the default.
    named = app.amqp.router.route({"queue": "gpu-bulk"}, "dashboard.tasks.regrade_submission")
    assert named["queue"].name == "gpu-bulk"
    assert app.amqp.router.route({}, "submissions.tasks.grade_submission")["queue"].name \
        == "cpu"


def test_a_worker_takes_students_before_regrades_from_redis():
    """The real transport: with the settings' queue order a consumer of `[cpu, cpu-bulk]`
    takes every student's message before any regrade's, however many regrades wait and
    whichever came first. (kombu's default round-robin would alternate.)"""
    from kombu import Connection, Consumer, Exchange, Queue

    tag = uuid.uuid4().hex[:8]  # own queue names: other tests share this Redis
    names = [f"t-{tag}-cpu", f"t-{tag}-cpu-bulk"]
    exchange = Exchange(f"t-{tag}", type="direct")
    queues = [Queue(n, exchange, routing_key=n) for n in names]
    options = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert options["queue_order_strategy"] == "priority"
    got: list[str] = []
    with Connection(django_settings.CELERY_BROKER_URL, transport_options=options) as conn:
        producer = conn.Producer()
        for n in range(4):
            producer.publish(f"regrade {n}", exchange=exchange, routing_key=names[1],
                             declare=queues)
        for n in range(2):
            producer.publish(f"student {n}", exchange=exchange, routing_key=names[0],
                             declare=queues)

        def take(body, message):
            got.append(body)
            message.ack()

        try:
            with Consumer(conn, queues, callbacks=[take], prefetch_count=1):
                while len(got) < 4:
                    conn.drain_events(timeout=5)
                # A student submitting while regrades still wait goes first again.
                producer.publish("student late", exchange=exchange, routing_key=names[0],
                                 declare=queues)
                while len(got) < 7:
                    conn.drain_events(timeout=5)
        finally:
            for queue in queues:
                queue(conn.default_channel).delete()
    assert got == ["student 0", "student 1", "regrade 0", "regrade 1", "student late",
                   "regrade 2", "regrade 3"]


def test_run_script_and_test_workers_consume_the_bulk_queues():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = (root / "scripts" / "run.sh").read_text()
    assert "-Q cpu,cpu-bulk" in run and "-Q gpu,gpu-bulk" in run
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "workerprocs_for_test", root / "tests" / "integration" / "workerprocs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.consumed("cpu") == "cpu,cpu-bulk" and module.consumed("gpu") == "gpu,gpu-bulk"


def test_retry_after_is_never_zero():
    # A client told "0" would retry at once and only be refused again.
    assert services.SubmissionRefused("x", retry_after=0, reason="busy").retry_after == 1
