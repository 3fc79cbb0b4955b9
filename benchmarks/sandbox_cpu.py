"""The sandbox's CPU per graded run, one run at a time: the warm parent's own CPU and its
reaped runs' (issue #15; benchmarks/RESULTS.md, eighth round).

    .venv/bin/python benchmarks/sandbox_cpu.py [--runs 400] [--rounds 1]

A `SandboxPool(size=1)` with the default student preload grades the load benchmark's
answers (`load_students.WORK`) through `grading.grader.grade`, one after another, so the
figure has less of the noise two threads bring (`preload_split.py` measures those). Per
graded run: the warm parent's utime + stime, and its reaped runs' cutime + cstime, from
`/proc/<pid>/stat`. To compare two trees, run each tree's copy of this script in turn.
Also the calling thread's own CPU per graded run (`time.thread_time`): the worker's side of
grading (sending the job, reading and decoding the run's result, the trusted comparison,
the messages), which the Celery worker process pays beside the claim and the store.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from preload_split import SPECS, WORK  # noqa: E402
from sandbox_bench import proc_cpu_split_s  # noqa: E402

from grading import grader  # noqa: E402
from sandbox import SandboxPool  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    with SandboxPool(size=1) as pool:
        pool.wait_ready()
        for slug, code in WORK * 4:  # the reference cache, the first faults
            grader.grade(SPECS[slug], code, pool=pool)
        pid = pool._all[0].proc.pid
        for _ in range(args.rounds):
            a = proc_cpu_split_s(pid)
            caller = time.thread_time()
            for i in range(args.runs):
                slug, code = WORK[i % len(WORK)]
                grader.grade(SPECS[slug], code, pool=pool)
            caller = (time.thread_time() - caller) * 1000 / args.runs
            time.sleep(0.3)  # the last run reaped
            b = proc_cpu_split_s(pid)
            parent, runs = ((y - x) * 1000 / args.runs for x, y in zip(a, b, strict=True))
            print(f"sandbox_cpu: {ROOT.name} warm parent {parent:.2f} runs {runs:.2f} "
                  f"total {parent + runs:.2f} ms per graded run; caller {caller:.2f} ms",
                  flush=True)


if __name__ == "__main__":
    main()
