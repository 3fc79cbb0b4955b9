"""Helpers to start and watch real worker processes (imported by conftest and the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the test database this test run created (so a worker can share it)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def flush_redis() -> None:
    from submissions.workers import redis_client

    redis_client().flushdb()


def consumed(queue: str) -> str:
    """What a worker for `queue` consumes, as scripts/run.sh starts it: its own queue first,
    then the regrades on `<queue>-bulk`."""
    return f"{queue},{queue}-bulk" if queue in ("cpu", "gpu") else queue


def start_worker(queue: str, name: str, log: Path, extra_env: dict[str, str] | None = None):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "PYTHONUNBUFFERED": "1",
        "WORKER_HEARTBEAT_SECONDS": "1",
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", consumed(queue),
         "-n", name, "--pool", "threads", "--concurrency", "1", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT / "platform", env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )


def wait_for_worker(proc: subprocess.Popen, queue: str, log: Path, timeout: float = 90) -> None:
    from submissions import workers

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if workers.online().get(queue):
            return
        time.sleep(0.2)
    pytest.fail(f"no {queue} worker reported in within {timeout}s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
