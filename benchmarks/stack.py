"""Start the production-shaped stack on loopback for a benchmark, and a tiny HTTP client.

Stack: a private redis-server (its own port, nothing shared), PostgreSQL (a database of the
benchmark's own; SQLite with --sqlite), gunicorn (gthread) serving config.wsgi with
DEBUG off, and Celery worker(s) on the cpu queue with a warm sandbox pool. Everything is
stopped on exit. Environment knobs (BENCH_*) are listed in benchmarks/RESULTS.md.

With make_run=True the stack is `make run` itself: scripts/run.sh (its gunicorn, its worker,
its defaults) on a fresh SQLite file of the benchmark's own and the private Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port} within {timeout}s")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Stack:
    students: int = 1
    workers: int = 1  # worker processes
    concurrency: int = 2  # threads (and sandbox slots) per worker
    web_processes: int = 2
    web_threads: int = 64
    sqlite: bool = False
    make_run: bool = False  # scripts/run.sh (SQLite) instead of the processes started here
    procs: list[subprocess.Popen] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pdl-bench-")))
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _database_url(self) -> str:
        if self.sqlite or self.make_run:
            return f"sqlite:///{self.folder / 'bench.sqlite3'}"
        url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pdl_bench")
        import psycopg

        admin, _, name = url.rpartition("/")
        with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return url

    def start(self) -> Stack:
        redis_port = free_port()
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_ALLOW_SQLITE": "1",
            "DJANGO_SECURE_COOKIES": "0",
            "DATABASE_URL": self._database_url(),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            # A benchmark student submits as fast as verdicts come back: lift the per-student
            # limit (the limiter still runs: its Redis round trip is part of the numbers).
            "SUBMISSION_RATE_LIMIT": "1000000/60",
            # Likewise the sandbox-time budget: a robot uses a term's worth in minutes.
            "SANDBOX_BUDGET_WALL_SECONDS": "1000000",
            "SANDBOX_BUDGET_CPU_SECONDS": "1000000",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        if not (self.sqlite or self.make_run):
            self.env.setdefault("DATABASE_POOL_SIZE", "12")
        self._spawn("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port),
                              "--save", "", "--appendonly", "no", "--dir", str(self.folder)])
        wait_port(redis_port, 10)
        if self.make_run:
            return self._start_make_run(redis_port)
        self._manage("migrate", "-v0")
        self._manage("sync_lessons")
        self.tokens = self._make_students(self.students)
        for i in range(self.workers):
            self._spawn(f"worker{i}", [
                PY, "-m", "celery", "-A", "config", "worker", "-Q", "cpu", "-n", f"bench{i}@%h",
                "--pool", "threads", "--concurrency", str(self.concurrency), "--loglevel",
                "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
            ], cwd=ROOT / "platform", extra={"SANDBOX_SIZE": str(self.concurrency)})
        self._spawn("web", [
            PY, "-m", "gunicorn", "-c", str(ROOT / "platform" / "config" / "gunicorn_conf.py"),
            "config.wsgi", "-w", str(self.web_processes), "--threads", str(self.web_threads),
            "-b", f"127.0.0.1:{self.port}", "--log-level", "warning",
        ])
        wait_port(self.port, 60, self.procs[-1])
        self._wait_workers(redis_port)
        return self

    def _start_make_run(self, redis_port: int) -> Stack:
        """`make run` as a teacher starts it (its own processes and sizes), on loopback."""
        self._spawn("make-run", ["bash", str(ROOT / "scripts" / "run.sh")], extra={
            "PORT": str(self.port), "HOST": "127.0.0.1", "RUN_LOG_DIR": str(self.folder),
        })
        wait_port(self.port, 240, self.procs[-1])  # it migrates and collects static first
        self.tokens = self._make_students(self.students)
        self.workers = 1
        self._wait_workers(redis_port)
        return self

    def _wait_workers(self, redis_port: int, timeout: float = 180) -> None:
        import redis

        client = redis.Redis(port=redis_port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(client.keys("pdl:worker:cpu:*")) >= self.workers:
                return
            time.sleep(0.2)
        raise RuntimeError(f"workers did not report in; see {self.folder}")

    def _spawn(self, name: str, args: list[str], cwd: Path = ROOT,
               extra: dict[str, str] | None = None) -> None:
        log = (self.folder / f"{name}.log").open("wb")
        self.names.append(name)
        self.procs.append(subprocess.Popen(
            args, cwd=cwd, env={**self.env, **(extra or {})}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        ))

    def _manage(self, *args: str) -> None:
        subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def _shell_json(self, code: str) -> Any:
        """What `code`, run by `manage.py shell` against this stack, printed last, as JSON."""
        result = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=self.env,
                                check=True, capture_output=True, text=True)
        return json.loads(result.stdout.strip().splitlines()[-1])

    def _make_students(self, n: int) -> list[str]:
        code = (
            "import json\n"
            "from django.contrib.auth.models import User\n"
            "from accounts.models import ApiToken\n"
            "out = []\n"
            f"for i in range({n}):\n"
            "    u, _ = User.objects.get_or_create(username=f'bench{i}')\n"
            "    out.append(ApiToken.objects.issue(u))\n"
            "print(json.dumps(out))\n"
        )
        return self._shell_json(code)

    def sessions(self) -> list[str]:
        """A logged-in session per student ("sessionid=…"), as each one's browser holds:
        `Http` then sends it as the lesson page's fetch does (cookies and a CSRF header)."""
        code = (
            "import json\n"
            "from django.contrib.auth.models import User\n"
            "from django.test import Client\n"
            "out = []\n"
            f"for i in range({self.students}):\n"
            "    c = Client()\n"
            "    c.force_login(User.objects.get(username=f'bench{i}'))\n"
            "    out.append('sessionid=' + c.cookies['sessionid'].value)\n"
            "print(json.dumps(out))\n"
        )
        return self._shell_json(code)

    def db_rows(self, ids: list[int]) -> list[tuple[int, str, str, int]]:
        """(id, status, outcome, tries) of the given submissions, straight from the database."""
        code = (
            "import json, sys\n"
            "from submissions.models import Submission\n"
            f"ids = {ids!r}\n"
            "rows = list(Submission.objects.filter(pk__in=ids)"
            ".values_list('id', 'status', 'outcome', 'tries'))\n"
            "print(json.dumps(rows))\n"
        )
        return [tuple(r) for r in self._shell_json(code)]

    def stage_times(self, ids: list[int]) -> dict[int, tuple[float, float, float]]:
        """id: (created, claimed, stored) as epoch milliseconds (the row's timestamps, taken
        on this machine's clock by the web and the worker)."""
        code = (
            "import json\n"
            "from submissions.models import Submission\n"
            f"ids = {ids!r}\n"
            "out = {s.pk: [t.timestamp() * 1000 for t in (s.created_at, s.started_at,\n"
            "              s.finished_at)]\n"
            "       for s in Submission.objects.filter(pk__in=ids, started_at__isnull=False,\n"
            "                                          finished_at__isnull=False)}\n"
            "print(json.dumps(out))\n"
        )
        rows = self._shell_json(code)
        return {int(k): (v[0], v[1], v[2]) for k, v in rows.items()}

    def log_count(self, needle: str) -> int:
        return sum(
            p.read_text(errors="replace").count(needle) for p in self.folder.glob("worker*.log")
        )

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if os.environ.get("BENCH_KEEP_LOGS") != "1":
            shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def running_stack(**kwargs) -> Iterator[Stack]:
    stack = Stack(**kwargs)
    try:
        yield stack.start()
    finally:
        stack.stop()


CSRF_SECRET = "b" * 32  # a browser's csrftoken cookie, echoed in X-CSRFToken


def auth_headers(token: str) -> dict[str, str]:
    """The headers that authenticate a request: an API token, or for "sessionid=…"
    (Stack.sessions) what the lesson page's fetch sends (the session and CSRF cookies and
    the X-CSRFToken header)."""
    if token.startswith("sessionid="):
        return {"Cookie": f"{token}; csrftoken={CSRF_SECRET}", "X-CSRFToken": CSRF_SECRET}
    return {"Authorization": f"Token {token}"}


class Http:
    """One keep-alive HTTP/1.1 connection (asyncio streams: no dependency, little overhead).

    `token` is an API token, or "sessionid=…" (Stack.sessions) to send what the lesson
    page's fetch sends: the session and CSRF cookies and the X-CSRFToken header."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: dict | None = None,
                      ) -> tuple[int, dict]:
        for attempt in range(3):
            try:
                return await self._request(method, path, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _request(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        data = json.dumps(body).encode() if body is not None else b""
        auth = "".join(f"{name}: {value}\r\n" for name, value in auth_headers(self.token).items())
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"{auth}Content-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: keep-alive\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, json.loads(payload) if payload else {}

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


# A pandas exercise runs in the sandbox pool's companion (docs/sandbox.md), which the worker
# starts beside the students' pool.
COMPANION_WARM = ("pandas-impute", "inputs, outputs = data.iloc[:, 0:2], data.iloc[:, 2]")


async def warm_companion(http: Http) -> None:
    """Before measuring: one run in the companion, then 2 s for its other warm parents
    (started with the one that answered), so their start is not in what is measured."""
    await submit_and_wait(http, *COMPANION_WARM)
    await asyncio.sleep(2)


async def submit_and_wait(http: Http, slug: str, code: str, timeout: float = 60.0
                          ) -> tuple[float, dict]:
    """POST ?wait=… (answers once graded), long-polling on if needed; (seconds, verdict)."""
    t0 = time.perf_counter()
    status, created = await http.request(
        "POST", f"/api/exercises/{slug}/submissions?wait={min(timeout, 20):.1f}", {"code": code}
    )
    if status != 202:
        raise RuntimeError(f"submit answered {status}: {created}")
    verdict = created
    deadline = t0 + timeout
    while verdict.get("status") != "graded":
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError(f"submission {created['id']} not graded in {timeout}s")
        _, verdict = await http.request("GET", f"{created['url']}?wait={min(left, 20):.1f}")
    return time.perf_counter() - t0, verdict


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {cpu}"


def processes() -> dict[int, tuple[str, int, float]]:
    """pid: (comm, parent pid, CPU seconds: user + system, reaped children included), for
    every process on the machine. Linux only."""
    tick = os.sysconf("SC_CLK_TCK")
    rows: dict[int, tuple[str, int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm, _, rest = stat.rpartition(")")
        fields = rest.split()
        rows[int(entry)] = (comm, int(fields[1]), sum(int(f) for f in fields[11:15]) / tick)
    return rows


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds used so far (user + system, reaped children included) by each part.

    The parts: web (gunicorn), worker (the Celery process), sandbox (its descendants: warm
    parents and their forks), redis, postgres (every backend on the machine), client (this
    process). Sample before and after a window and subtract. Linux only.
    """
    roots = {p.pid: name for p, name in zip(stack.procs, stack.names, strict=True)}
    rows = processes()
    out = dict.fromkeys(("web", "worker", "sandbox", "redis", "postgres", "client"), 0.0)
    for pid, (comm, _parent, used) in rows.items():
        if pid == os.getpid():
            part = "client"
        elif comm.endswith("(postgres"):
            part = "postgres"
        else:
            # The stack process this one descends from (sandbox forks sit a few levels down).
            node, depth, below = pid, 0, pid
            while node not in roots and node in rows and depth < 16:
                below = node
                node, depth = rows[node][1], depth + 1
            if node not in roots:
                continue
            name = roots[node]
            if name == "make-run":  # run.sh's children: gunicorn, celery (and its sandboxes)
                name, depth = _make_run_part(below), depth - 1
                if name == "script":
                    continue  # run.sh itself and its one-shot commands
            if name.startswith("worker"):
                part = "worker" if depth == 0 else "sandbox"
            else:
                part = "web" if name == "web" else name
        out[part] += used
    return out


def _make_run_part(pid: int) -> str:
    """What a direct child of scripts/run.sh is, from its command line."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "script"
    words = b" ".join(args)
    if b"gunicorn" in words:
        return "web"
    if b"celery" in words:
        return "worker"
    return "script"
