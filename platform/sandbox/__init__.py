"""Runs untrusted code in warm, single-use, isolated children. Plain Python, no Django.

    from sandbox import Job, Limits, SandboxPool
    pool = SandboxPool(harness="grading.harness:main", device="cpu", size=1)
    report = pool.run(Job(payload=b"...", files={"data/x.csv": b"..."}, limits=Limits()))

See docs/sandbox.md for how it isolates and what each layer is for."""

from __future__ import annotations

from sandbox.api import Job, Limits, RunReport, SandboxError, SandboxUnavailable
from sandbox.pool import SandboxPool, get_pool, reset_pool

__all__ = ["Job", "Limits", "RunReport", "SandboxError", "SandboxPool", "SandboxUnavailable",
           "get_pool", "reset_pool"]
