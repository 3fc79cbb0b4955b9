"""The one thing the grader needs of a sandbox: run a job, report how it went.

`sandbox.SandboxPool` is one; the grading tests' stand-in (tests/grading/fakepool.py) and
the worker's metering wrapper (grading.runner) are others. A protocol, so that grading
imports no sandbox at run time (grading loads without it) while the types still say what a
pool is. Optional extras the grader looks for with getattr: `device`, `queue`, and
`reference_pool()` (warm parents of their own for reference runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sandbox import Job, RunReport


class Pool(Protocol):
    def run(self, job: Job) -> RunReport: ...
