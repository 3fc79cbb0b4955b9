"""Real processes: a Celery worker against real Redis, sharing the test database."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from workerprocs import (  # noqa: F401  (re-exported: other tests import them from here)
    ROOT,
    database_url,
    flush_redis,
    start_worker,
    stop,
    wait_for_worker,
)


@pytest.fixture
def cpu_worker(transactional_db, tmp_path) -> Iterator[subprocess.Popen]:
    flush_redis()
    log = tmp_path / "worker-cpu.log"
    proc = start_worker("cpu", "cpu-test@%h", log)
    try:
        wait_for_worker(proc, "cpu", log)
        yield proc
    finally:
        stop(proc)
        flush_redis()
