"""The trusted side's CPU per graded submission: refuse checks, decode the run's export,
compare with the cached reference, build the verdict (the worker's share of a graded
submission besides Celery and the database; issue #15).

    .venv/bin/python benchmarks/grader_cpu.py [--repeat 30] [--slug tensor-arange ...]
        [--profile]

Each exercise of lessons/ on the `cpu` queue is graded once through the real sandbox
(`SandboxPool`) with its reference solution and with its starter code (which mostly
fails: wrong values, missing names, errors), and once more with the load benchmark's
answers (`load_students.WORK`). Then the same submissions are graded again `--repeat`
times with the recorded run reports handed back by a replay pool: the figure is the
calling thread's CPU (`time.thread_time`) of `grader.grade` without the sandbox run,
median per submission, the reference cached as in a worker.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from load_students import WORK  # noqa: E402

from courses.loader import load_course  # noqa: E402
from grading import grader  # noqa: E402
from sandbox import SandboxPool  # noqa: E402


class _Recorder:
    """The real pool, remembering the last run's report."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.last: Any = None

    def run(self, job: Any) -> Any:
        self.last = self.pool.run(job)
        return self.last

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


class _Replay:
    """Hands back a recorded report: the trusted side alone, no sandbox run."""

    def __init__(self, pool: Any, report: Any) -> None:
        self.pool, self.report = pool, report

    def run(self, job: Any) -> Any:
        return self.report

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--slug", action="append", default=[])
    ap.add_argument("--profile", action="store_true", help="cProfile (thread CPU clock)")
    args = ap.parse_args()
    # version set as the database layer sets it: the reference cache keys on it.
    specs = {e.slug: replace(e, version="1-bench") for d in load_course(ROOT / "lessons")
             for e in d.exercises if e.queue == "cpu"}
    if args.slug:
        specs = {k: v for k, v in specs.items() if k in args.slug}
    cases = [(slug, kind, code) for slug, spec in specs.items()
             for kind, code in (("solution", spec.solution), ("starter", spec.starter))]
    cases += [(slug, "load", code) for slug, code in WORK if slug in specs]
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    figures: dict[str, list[float]] = {"solution": [], "starter": [], "load": []}
    with SandboxPool() as pool:
        recorder = _Recorder(pool)
        recorded = []
        for slug, kind, code in cases:
            outcome = grader.grade(specs[slug], code, pool=recorder).outcome
            recorded.append((slug, kind, code, recorder.last, outcome))
        for slug, kind, code, report, outcome in recorded:
            replay, spent = _Replay(pool, report), []
            for i in range(args.repeat + 5):
                started = time.thread_time()
                if profile and i >= 5:
                    profile.enable()
                grader.grade(specs[slug], code, pool=replay).to_dict()
                if profile and i >= 5:
                    profile.disable()
                spent.append((time.thread_time() - started) * 1000)
            ms = statistics.median(spent[5:])
            figures[kind].append(ms)
            if args.slug or kind == "load":
                print(f"  {slug:24s} {kind:8s} {outcome:10s} {ms:6.2f} ms")
    parts = [f"{kind}: median {statistics.median(v):.2f} ms, mean {statistics.fmean(v):.2f} ms "
             f"over {len(v)}" for kind, v in figures.items() if v]
    print("grader_cpu (trusted side per graded submission, thread CPU): " + "; ".join(parts))
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
