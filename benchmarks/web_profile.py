"""CPU and SQL statements per API request and per worker task, measured in-process.

    .venv/bin/python benchmarks/web_profile.py [-n 300] [--users 20] [--redis-db 9]
        [--database-url sqlite:////tmp/web_profile.sqlite3] [--profile PHASE] [--top 30]
        [--show-sql]

--database-url postgres://postgres@127.0.0.1:5432/pdl_webprof drops and creates that
database (its name must start with pdl_) and pools connections as benchmarks/stack.py does.

No servers: Django's WSGI handler is called directly with a token-authenticated request
(DEBUG off, the production middleware list), on a fresh database (migrate, sync_lessons, a
few students with tokens) and a Redis database of its own (flushed before and after). Per
request it takes the calling thread's CPU time (`time.thread_time`, so other processes on
a shared machine do not count) and the SQL statements Django sends. Phases:

- submit:        POST /api/exercises/<slug>/submissions (no wait; publishes the Celery task)
- poll-queued:   GET /api/submissions/<id> while queued
- worker:        the Celery task `grade_submission` (claim, grade, store, notify) with the
                 grader replaced by a fixed verdict: the worker tier's own cost, no sandbox
- poll-graded:   GET /api/submissions/<id> once graded
- submit-wait:   POST …/submissions?wait=20 while a worker thread grades it: the
                 request's own CPU (rate limit + slot, insert, publish, woken by the notice)
- worker-thread: the same task, in that worker thread
- browser-submit, browser-poll-wait: what the lesson page (static/js/lesson.js) sent per
                 verdict until this round: a session-authenticated POST (CSRF header), then
                 GET …/submissions/<id>?wait=2, woken by the worker thread's notice
- browser-submit-wait: what it sends now: one session POST …/submissions?wait=1

--profile PHASE runs cProfile around that phase and prints the top functions (cumulative):
the figures then include the profiler's overhead; take CPU numbers from a run without it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import queue
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stack import auth_headers

ROOT = Path(__file__).resolve().parents[1]
LESSON, SLUG = "linear-algebra", "linalg-cumsum"
CODE = "cs = A.cumsum(axis=0)"
VERDICT = {  # the shape of a real passed verdict (docs/contract.md)
    "outcome": "passed", "passed": True, "score": 1.0, "max_score": 1.0, "error": None,
    "stdout": "", "queue": "cpu", "duration_ms": 9, "diagnostics": [],
    "checks": [{"name": "cs", "passed": True, "points": 1.0, "max_points": 1.0,
                "message": "`cs` is correct.",
                "messages": {"en": "`cs` is correct.", "zh-hans": "`cs` 正确。"}}],
}
PHASES = ("submit", "poll-queued", "worker", "poll-graded", "submit-wait", "worker-thread",
          "browser-submit", "browser-poll-wait", "browser-submit-wait")


def configure(args: argparse.Namespace) -> None:
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DJANGO_ALLOW_SQLITE": "1",
        "DJANGO_SECURE_COOKIES": "0",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
        # Lifted for the robots, as in benchmarks/stack.py (the limiter still runs).
        "SUBMISSION_RATE_LIMIT": "1000000/60",
        "SANDBOX_BUDGET_WALL_SECONDS": "1000000",
        "SANDBOX_BUDGET_CPU_SECONDS": "1000000",
        # As `make run` keeps each thread's SQLite connection, and the production stack
        # pools PostgreSQL's (benchmarks/stack.py).
        "SQLITE_CONN_MAX_AGE": "60",
    })
    if args.database_url.startswith("postgres"):
        os.environ.setdefault("DATABASE_POOL_SIZE", "4")
    # Only the lesson the profile submits to (lessons/ may be mid-edit elsewhere).
    lessons = Path(tempfile.mkdtemp(prefix="web_profile_"))
    shutil.copytree(ROOT / "lessons" / LESSON, lessons / LESSON)
    os.environ["LESSONS_DIR"] = str(lessons)
    sys.path.insert(0, str(ROOT / "platform"))
    if args.database_url.startswith("postgres"):
        fresh_postgres(args.database_url)
    if args.database_url.startswith("sqlite:///"):
        path = Path(args.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    import django

    django.setup()


def fresh_postgres(url: str) -> None:
    """Drop and create the (benchmark's own) database the URL names."""
    import psycopg

    base, _, name = url.rpartition("/")
    assert name.startswith("pdl_"), f"refusing to recreate {name!r}: use a pdl_… database"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare(users: int) -> list[str]:
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from accounts import ratelimit
    from accounts.models import ApiToken

    ratelimit.client().flushdb()
    call_command("migrate", verbosity=0)
    call_command("sync_lessons", stdout=io.StringIO())  # the one lesson of LESSONS_DIR
    return [ApiToken.objects.issue(User.objects.create(username=f"prof{i}"))
            for i in range(users)]


def browser_session(token: str) -> str:
    """A logged-in session cookie for the token's user, as the lesson page holds one."""
    from django.test import Client

    from accounts.models import ApiToken

    client = Client()
    client.force_login(ApiToken.objects.user_for(token))
    return f"sessionid={client.cookies['sessionid'].value}"


class Statements:
    """Counts what the current thread's connection sends (connection.execute_wrapper)."""

    def __init__(self, keep: bool = False) -> None:
        self.count = 0
        self.sql: list[str] | None = [] if keep else None

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool,
                 context: Any) -> Any:
        self.count += 1
        if self.sql is not None:
            self.sql.append(sql)
        return execute(sql, params, many, context)


class Recorder:
    def __init__(self, profile: str | None, show_sql: bool = False) -> None:
        self.statements: dict[str, list[str]] = {}
        self.show_sql = show_sql
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.sql: dict[str, list[int]] = defaultdict(list)
        self.profile = profile
        # CPU time of this thread, not wall time (waits on Redis and the worker are not CPU).
        self.profiler = cProfile.Profile(time.thread_time) if profile else None
        self.on = False

    def measure(self, phase: str, call: Callable[..., Any], *args: Any) -> Any:
        from django.db import connection

        counter = Statements(keep=self.show_sql and self.on and phase not in self.statements)
        profiling = self.profiler is not None and self.on and phase == self.profile
        with connection.execute_wrapper(counter):
            if profiling:
                self.profiler.enable()  # type: ignore[union-attr]
            started = time.thread_time()
            result = call(*args)
            spent = time.thread_time() - started
            if profiling:
                self.profiler.disable()  # type: ignore[union-attr]
        if self.on:
            self.cpu[phase].append(spent * 1000)
            self.sql[phase].append(counter.count)
            if counter.sql is not None:
                self.statements[phase] = counter.sql
        return result


def environ(method: str, path: str, token: str, body: bytes = b"",
            query: str = "") -> dict[str, Any]:
    """A WSGI request authenticated by `token` (stack.auth_headers: an API token, or a
    lesson page's session and CSRF cookies)."""
    auth = {"HTTP_" + name.upper().replace("-", "_"): value
            for name, value in auth_headers(token).items()}
    return {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", **auth,
        "HTTP_ACCEPT": "application/json",
        "CONTENT_TYPE": "application/json" if body else "", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def call_wsgi(app: Any, env: dict[str, Any]) -> tuple[int, bytes]:
    status: list[str] = []

    def start_response(line: str, headers: list[Any], exc_info: Any = None) -> None:
        status.append(line)

    chunks = app(env, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()  # request_finished: Django closes or keeps its connection
    return int(status[0].split()[0]), body


def run(args: argparse.Namespace) -> dict[str, Any]:
    configure(args)
    from unittest import mock

    from django.core.handlers.wsgi import WSGIHandler

    from accounts import ratelimit
    from submissions import services
    from submissions.tasks import grade_submission

    tokens = prepare(args.users)
    app = WSGIHandler()
    rec = Recorder(args.profile, args.show_sql)
    published: queue.Queue[int] = queue.Queue()
    real_enqueue = services.enqueue

    def enqueue(sub: Any) -> bool:
        sent = real_enqueue(sub)  # the real Celery publish to Redis: part of the web's cost
        published.put(sub.pk)
        return sent

    def grade(spec: Any, code: str, **kwargs: Any) -> dict[str, Any]:
        return json.loads(json.dumps(VERDICT))  # a fresh dict, as the grader returns

    submit_body = json.dumps({"code": CODE}).encode()
    url = f"/api/exercises/{SLUG}/submissions"

    def submit(token: str, query: str = "") -> int:
        code, body = call_wsgi(app, environ("POST", url, token, submit_body, query))
        assert code == 202, (code, body)
        return int(json.loads(body)["id"])

    def poll(token: str, pk: int, status: str, query: str = "") -> None:
        code, body = call_wsgi(app, environ("GET", f"/api/submissions/{pk}", token, query=query))
        assert code == 200 and json.loads(body)["status"] == status, (code, body)

    stop = object()
    work: queue.Queue[Any] = queue.Queue()

    delay = [0.0]

    def worker_thread() -> None:
        while (pk := work.get()) is not stop:
            time.sleep(delay[0])
            rec.measure("worker-thread", grade_submission, pk)

    with mock.patch.object(services, "enqueue", enqueue), \
            mock.patch("grading.runner.execute", grade):
        for i in range(args.warmup + args.n):
            rec.on = i >= args.warmup
            token = tokens[i % len(tokens)]
            pk = rec.measure("submit", submit, token)
            assert published.get_nowait() == pk
            rec.measure("poll-queued", poll, token, pk, "queued")
            rec.measure("worker", grade_submission, pk)
            rec.measure("poll-graded", poll, token, pk, "graded")
        thread = threading.Thread(target=worker_thread, daemon=True)
        thread.start()
        relay = threading.Thread(target=lambda: [work.put(published.get())
                                                 for _ in range(args.warmup + args.n)],
                                 daemon=True)
        relay.start()
        for i in range(args.warmup + args.n):
            rec.on = i >= args.warmup
            token = tokens[i % len(tokens)]
            rec.measure("submit-wait", submit, token, "wait=20")
        relay.join()
        # The lesson page: session cookies, and the verdict comes while the request waits
        # (the worker thread grades 5 ms after the job is handed to it, as a run would).
        sessions = [browser_session(token) for token in tokens]
        relay = threading.Thread(target=lambda: [work.put(published.get())
                                                 for _ in range(2 * (args.warmup + args.n))],
                                 daemon=True)
        relay.start()
        delay[0] = 0.005
        for i in range(args.warmup + args.n):
            rec.on = i >= args.warmup
            cookie = sessions[i % len(sessions)]
            pk = rec.measure("browser-submit", submit, cookie)
            rec.measure("browser-poll-wait", poll, cookie, pk, "graded", "wait=2")
            rec.measure("browser-submit-wait", submit, cookie, "wait=1")
        relay.join()
        work.put(stop)
        thread.join()
    ratelimit.client().flushdb()
    return {"rec": rec}


def report(args: argparse.Namespace, rec: Recorder) -> None:
    from django.db import connection

    print(f"web_profile: n={args.n} users={args.users} db={connection.vendor} "
          f"(CPU ms of the calling thread per request; SQL statements per request)")
    for phase in PHASES:
        cpu, sql = rec.cpu[phase], rec.sql[phase]
        if not cpu:
            continue
        print(f"  {phase:<19} cpu p50={statistics.median(cpu):6.2f} ms  "
              f"mean={statistics.fmean(cpu):6.2f} ms  statements={statistics.median(sql):g}"
              f" (max {max(sql)})")
    web = statistics.median(rec.cpu["submit-wait"])
    worker = statistics.median(rec.cpu["worker-thread"])
    sql = statistics.median(rec.sql["submit-wait"]) + statistics.median(rec.sql["worker-thread"])
    print(f"  per submission (submit?wait + worker): web {web:.2f} ms, worker {worker:.2f} ms,"
          f" {sql:g} statements")
    if rec.cpu["browser-submit-wait"]:
        before = (statistics.median(rec.cpu["browser-submit"])
                  + statistics.median(rec.cpu["browser-poll-wait"]))
        before_sql = (statistics.median(rec.sql["browser-submit"])
                      + statistics.median(rec.sql["browser-poll-wait"]))
        print(f"  lesson page per verdict: POST + GET?wait {before:.2f} ms, {before_sql:g}"
              f" statements; POST?wait {statistics.median(rec.cpu['browser-submit-wait']):.2f}"
              f" ms, {statistics.median(rec.sql['browser-submit-wait']):g} statements")
    for phase, sqls in rec.statements.items():
        print(f"  {phase}:")
        for sql in sqls:
            print(f"    {sql[:160]}")
    if rec.profiler is not None:
        out = io.StringIO()
        pstats.Stats(rec.profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--redis-db", type=int, default=9)
    parser.add_argument("--database-url", default="sqlite:////tmp/web_profile.sqlite3")
    parser.add_argument("--profile", choices=PHASES)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--show-sql", action="store_true", help="print each phase's SQL once")
    args = parser.parse_args()
    report(args, run(args)["rec"])


if __name__ == "__main__":
    main()
