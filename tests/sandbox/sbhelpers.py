"""Helpers for the sandbox tests (imported as `sbhelpers`: the name `conftest` is taken
by several folders of this suite)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # harness_echo, also importable by the tests themselves

from sandbox import Job, Limits, RunReport, SandboxPool  # noqa: E402

HARNESS = "harness_echo:main"
# Secrets of the worker process: they must never be reachable from a run.
CANARY = "canary-5c1f0e9a7b3d4e2f"
os.environ["SANDBOX_TEST_CANARY"] = CANARY
os.environ["SANDBOX_TEST_SECRET_KEY"] = CANARY + "-secret-key"
WORKER_HEAP_SECRET = {"REDIS_URL": "redis://:" + CANARY + "@localhost:6379/0"}


def run(pool: SandboxPool, code: str, files: dict[str, bytes] | None = None,
        **limits: float) -> RunReport:
    return pool.run(Job(payload=code.encode(), files=files or {}, limits=Limits(**limits)))


def assert_healthy(pool: SandboxPool) -> None:
    """After any attack a normal run must still work."""
    rep = run(pool, "import torch\nRESULT = str(float(torch.arange(4.).sum()))")
    assert rep.status == "ok", rep
    assert rep.result == b"6.0"


def sandbox_processes(pool_or_pids: SandboxPool | list[int], grace: float = 2.0) -> list[str]:
    """Live processes that belong to runs of these warm parents (found by their cgroup, so
    other people's sandboxes on a shared machine do not count; zombies are dead and do not
    count). The warm parent kills and reaps a finished run right after answering, so allow
    it a moment; then there must be none."""
    import time

    if isinstance(pool_or_pids, SandboxPool):
        pools = [pool_or_pids, pool_or_pids._companion]  # the companion's runs count too
        pids = [wp.proc.pid for p in pools if p is not None for wp in p._all]
    else:
        pids = list(pool_or_pids)
    deadline = time.monotonic() + grace
    while True:
        found = _sandbox_processes(pids)
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _sandbox_processes(zygotes: list[int]) -> list[str]:
    from sandbox.isolation import UID_BASE

    tags = [f"/z{z}/" for z in zygotes]
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = dict(line.split(":", 1) for line in fh if ":" in line)
            with open(f"/proc/{entry}/cgroup") as fh:
                cgroup = fh.read()
        except OSError:
            continue
        if status["State"].split()[0] in ("Z", "X"):
            continue
        if int(status["Uid"].split()[0]) < UID_BASE:
            continue
        if any(tag in cgroup for tag in tags):
            found.append(entry)
    return found
