"""Faults with real processes: a worker killed mid-run, Redis restarting empty, a sandbox
child crashing the interpreter, the database away for a while, and routing by queue.

Every test starts its own Celery worker(s) against the test database. The Redis restart
test runs its own redis-server on a spare port: it never stops the shared one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.db import connection
from workerprocs import flush_redis, start_worker, stop, wait_for_worker

from courses.models import Exercise
from submissions import services
from submissions.models import Submission
from submissions.tasks import grade_submission

pytestmark = pytest.mark.integration

SLOW_RIGHT = "import time\ntime.sleep(4)\ncs = A.cumsum(axis=0)\n"
# Fast sweeps so a test sees the sweeper act within seconds (production: docs/deploy.md).
FAST_SWEEP = {"SWEEP_INTERVAL_SECONDS": "1", "SUBMISSION_QUEUED_DEADLINE": "3"}


def make_queued(user, slug: str = "linalg-cumsum", code: str = "cs = A.cumsum(axis=0)",
                queue: str = "cpu") -> Submission:
    """A submission row as submission_create leaves it, without publishing its task."""
    exercise = Exercise.objects.select_related("current_version").get(slug=slug)
    from django.utils import timezone

    return Submission.objects.create(
        user=user, exercise=exercise, version=exercise.current_version, code=code,
        queue=queue, max_score=exercise.current_version.spec.max_score,
        queued_at=timezone.now(),
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, log: Path | None = None,
             every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    pytest.fail(f"timed out after {timeout}s waiting for {what}\n{tail}")


def status_of(sub: Submission) -> Submission:
    return Submission.objects.get(pk=sub.pk)


def graded(*subs: Submission) -> Callable[[], bool]:
    ids = [s.pk for s in subs]
    return lambda: Submission.objects.filter(pk__in=ids, status="graded").count() == len(ids)


@pytest.fixture
def clean_redis(transactional_db) -> Iterator[None]:
    flush_redis()
    yield
    flush_redis()


def test_a_worker_killed_mid_run_leads_to_one_grade_by_another(
    course, alice, clean_redis, tmp_path
):
    log_a, log_b = tmp_path / "worker-a.log", tmp_path / "worker-b.log"
    env = {**FAST_SWEEP, "CELERY_VISIBILITY_TIMEOUT": "5"}
    worker_a = start_worker("cpu", "cpu-a@%h", log_a, env)
    worker_b = None
    try:
        wait_for_worker(worker_a, "cpu", log_a)
        sub = services.submission_create(
            user=alice, exercise=Exercise.objects.get(slug="linalg-cumsum"), code=SLOW_RIGHT
        )
        wait_for(lambda: status_of(sub).status == "running", 60, "worker A to claim it", log_a)
        time.sleep(1.0)  # well inside the 4 s run
        worker_a.send_signal(signal.SIGKILL)
        worker_a.wait(10)
        running = status_of(sub)
        assert running.status == "running" and running.tries == 1
        assert running.worker.startswith("cpu-a@")

        worker_b = start_worker("cpu", "cpu-b@%h", log_b, env)
        wait_for(graded(sub), 120, "worker B to grade it", log_b)
        done = status_of(sub)
        assert done.outcome == "passed", done.verdict
        assert done.tries == 2 and done.worker.startswith("cpu-b@")
        finished = done.finished_at
        # Let the original, never-acknowledged message come back (visibility timeout 5 s)
        # and the sweeper run a few more times: nothing may grade it again.
        time.sleep(8)
        again = status_of(sub)
        assert (again.finished_at, again.tries, again.outcome) == (finished, 2, "passed")
        assert "lost its worker" in log_b.read_text(errors="replace")
        assert worker_b.poll() is None
    finally:
        for proc in (worker_a, worker_b):
            if proc is not None and proc.poll() is None:
                stop(proc)


# --- Redis restarting empty ---------------------------------------------------------------

SPARE_REDIS_PORT = int(os.environ.get("FAULT_REDIS_PORT", "6390"))


class SpareRedis:
    """A redis-server of this test's own, so stopping it cannot hurt anyone else."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port, self.folder, self.proc = port, folder, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed (make test installs it)")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                pytest.fail(f"port {self.port} is taken; set FAULT_REDIS_PORT to a free one")
        self.proc = subprocess.Popen(
            [exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=(self.folder / "redis.log").open("ab"), stderr=subprocess.STDOUT,
        )
        wait_for(self.answers, 10, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # like a crash: nothing saved (and --save "" anyway)
            self.proc.wait(10)


@pytest.fixture
def spare_redis(tmp_path) -> Iterator[SpareRedis]:
    server = SpareRedis(SPARE_REDIS_PORT, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def publish(url: str, sub: Submission) -> None:
    with grade_submission.app.connection_for_write(url) as conn:
        grade_submission.apply_async((sub.pk,), queue=sub.queue, connection=conn)


def test_redis_restarting_empty_strands_nothing(
    course, alice, bob, transactional_db, spare_redis, tmp_path
):
    log = tmp_path / "worker.log"
    env = {**FAST_SWEEP, "REDIS_URL": spare_redis.url}
    worker = start_worker("cpu", "cpu-r@%h", log, env)
    try:
        r = spare_redis.client()
        wait_for(lambda: bool(r.keys("pdl:worker:cpu:*")), 90, "the worker to beat", log)
        # One slow submission keeps the only worker thread busy, so the rest wait in Redis.
        slow = make_queued(alice, code=SLOW_RIGHT)
        publish(spare_redis.url, slow)
        wait_for(lambda: status_of(slow).status == "running", 30, "the slow one to start", log)
        waiting = [make_queued(user, slug=slug) for user in (alice, bob)
                   for slug in ("linalg-cumsum", "tensor-arange")]
        for sub in waiting:
            publish(spare_redis.url, sub)
        assert r.llen("cpu") >= len(waiting) - 1  # prefetch 1: one may sit in the worker

        spare_redis.stop()  # the queue goes with it
        time.sleep(2)
        spare_redis.start()  # back, empty
        assert spare_redis.client().llen("cpu") == 0

        wait_for(graded(slow, *waiting), 120, "every submission to be graded", log)
        for sub in [slow, *waiting]:
            done = status_of(sub)
            assert done.tries == 1, (sub.pk, done.tries)  # graded once each
            assert done.outcome != "internal_error", done.verdict
        assert status_of(slow).outcome == "passed"
        assert "re-published" in log.read_text(errors="replace")
        assert worker.poll() is None
    finally:
        stop(worker)


# --- A sandbox child that crashes the interpreter -----------------------------------------


def test_a_crashing_sandbox_child_is_an_error_and_the_worker_lives_on(
    course, alice, cpu_worker
):
    exercise = Exercise.objects.get(slug="linalg-cumsum")
    crash = services.submission_create(
        user=alice, exercise=exercise,
        code="import ctypes\nctypes.string_at(0)\ncs = A.cumsum(axis=0)\n",
    )
    wait_for(graded(crash), 60, "the crashing submission to be graded")
    done = status_of(crash)
    assert done.outcome == "error", done.verdict
    assert "SIGSEGV" in str(done.verdict) or "signal" in str(done.verdict)
    assert done.tries == 1
    assert cpu_worker.poll() is None
    after = services.submission_create(user=alice, exercise=exercise, code="cs = A.cumsum(axis=0)")
    wait_for(graded(after), 60, "the next submission to be graded")
    assert status_of(after).outcome == "passed"


# --- The database away for a while --------------------------------------------------------


class PostgresOutage:
    """Refuse new connections to the test database and cut the open ones (but the test's own),
    as a restart or failover would; then let them in again."""

    def __init__(self, settings_dict: dict) -> None:
        import psycopg

        self.name = settings_dict["NAME"]
        self.admin = psycopg.connect(
            dbname="postgres", user=settings_dict["USER"], password=settings_dict["PASSWORD"],
            host=settings_dict["HOST"] or "127.0.0.1", port=settings_dict["PORT"] or 5432,
            autocommit=True,
        )

    def down(self) -> None:
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self.admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (self.name,),
        )

    def up(self) -> None:
        self.admin.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def close(self) -> None:
        self.up()
        self.admin.close()


class SqliteOutage:
    """SQLite has no server to stop: move the file away (new connections then find an empty
    database: 'no such table', an OperationalError like a refused connection), then back."""

    # In WAL mode a database is three files; they move together, or the database and a
    # stranger's -wal/-shm meet again when it comes back ("disk I/O error").
    SUFFIXES = ("", "-wal", "-shm")

    def __init__(self, path: str) -> None:
        self.path, self.aside = path, path + ".away"

    def down(self) -> None:
        for suffix in self.SUFFIXES:
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, self.aside + suffix)

    def up(self) -> None:
        for suffix in self.SUFFIXES:  # what connections created meanwhile goes
            if os.path.exists(self.path + suffix):
                os.remove(self.path + suffix)
        for suffix in self.SUFFIXES:
            if os.path.exists(self.aside + suffix):
                os.replace(self.aside + suffix, self.path + suffix)


def test_the_task_retries_while_the_database_is_away(
    course, alice, transactional_db, clean_redis, tmp_path
):
    log = tmp_path / "worker.log"
    settings_dict = connection.settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        outage: SqliteOutage | PostgresOutage = SqliteOutage(settings_dict["NAME"])
    else:
        outage = PostgresOutage(settings_dict)
    worker = start_worker("cpu", "cpu-db@%h", log)
    try:
        wait_for_worker(worker, "cpu", log)
        sub = make_queued(alice)
        connection.close()  # the test's own connection must not keep the old file/socket
        outage.down()
        try:
            services.enqueue(sub)
            wait_for(lambda: log.read_text(errors="replace").count(
                "database unavailable claiming submission") >= 2, 40,
                "the task to retry", log)
        finally:
            outage.up()
        wait_for(graded(sub), 90, "the submission to be graded after the database came back",
                 log)
        done = status_of(sub)
        assert done.outcome == "passed" and done.tries == 1, done.verdict
        assert "Retry in" in log.read_text(errors="replace")
        assert worker.poll() is None
    finally:
        if isinstance(outage, SqliteOutage) and os.path.exists(outage.aside):
            outage.up()
        if isinstance(outage, PostgresOutage):
            outage.close()
        stop(worker)


# --- Routing: a cpu worker and a "gpu" worker at once -------------------------------------


def test_two_workers_on_two_queues_each_get_their_own(course, alice, bob, clean_redis, tmp_path):
    """The "gpu" worker here consumes the gpu queue with SANDBOX_DEVICE=cpu: routing is what
    is tested, not CUDA (docs/deploy.md)."""
    log_cpu, log_gpu = tmp_path / "cpu.log", tmp_path / "gpu.log"
    cpu = start_worker("cpu", "route-cpu@%h", log_cpu)
    gpu = start_worker("gpu", "route-gpu@%h", log_gpu, {"SANDBOX_DEVICE": "cpu"})
    try:
        wait_for_worker(cpu, "cpu", log_cpu)
        wait_for_worker(gpu, "gpu", log_gpu)
        from submissions import workers

        assert workers.online()["cpu"] >= 1 and workers.online()["gpu"] >= 1
        services._online_cache = (float("-inf"), {})  # forget what an earlier test saw
        assert services.route("any")[1] and services.route("gpu") == ("gpu", True)
        on_cpu = [make_queued(u, queue="cpu") for u in (alice, bob)]
        on_gpu = [make_queued(u, queue="gpu") for u in (alice, bob)]
        for sub in on_cpu + on_gpu:
            services.enqueue(sub)
        wait_for(graded(*on_cpu, *on_gpu), 90, "all four to be graded", log_gpu)
        for sub in on_cpu:
            done = status_of(sub)
            assert done.worker.startswith("route-cpu@") and done.outcome == "passed", done
            assert done.to_json()["queue"] == "cpu"
        for sub in on_gpu:
            done = status_of(sub)
            assert done.worker.startswith("route-gpu@"), done.worker
            assert done.to_json()["queue"] == "gpu"
    finally:
        stop(cpu)
        stop(gpu)
