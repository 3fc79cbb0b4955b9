"""The sandbox's CPU per graded run with and without pandas and the first optimizer in the
warm parents (docs/sandbox.md, "pandas and the optimizers only where they are named";
issue #15).

    .venv/bin/python benchmarks/preload_split.py [--pairs 3] [--seconds 6]

Three sides: warm parents with everything (numpy, torch, pandas, the harness's `prime` and
`prime_on_demand`), without pandas, and the default student pool (without pandas and
without `prime_on_demand`: what a torch exercise runs in). Per side: a fresh
`SandboxPool(size=2)`, the load benchmark's answers
(`load_students.WORK`, torch exercises) graded through `grading.grader.grade` from two
threads for `--seconds`; the figure is the CPU of the two warm parents and every run they
forked and reaped (`/proc/<pid>/stat`: utime + stime + cutime + cstime) per graded run.
The sides alternate, the order reversed every round: the VM's speed drifts within minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from load_students import WORK  # noqa: E402
from sandbox_bench import proc_cpu_s, run_for  # noqa: E402

from courses.loader import load_course  # noqa: E402
from grading import grader  # noqa: E402
from sandbox import SandboxPool  # noqa: E402
from sandbox.pool import COMPANION_PRELOAD, PRELOAD  # noqa: E402

SPECS = {e.slug: replace(e, version="1-bench") for d in load_course(ROOT / "lessons")
         for e in d.exercises if e.queue == "cpu"}


def side(label: str, preload: list[str] | None, seconds: float) -> str:
    pool = SandboxPool(size=2, preload=preload)
    try:
        pool.wait_ready()
        for slug, code in WORK * 4:  # the reference cache, the first faults
            grader.grade(SPECS[slug], code, pool=pool)
        pids = [wp.proc.pid for wp in pool._all]
        before = sum(proc_cpu_s(p) for p in pids)

        turn = [0, 1]  # thread i starts at answer i, then takes them in turn

        def one(i: int) -> None:
            slug, code = WORK[turn[i] % len(WORK)]
            turn[i] += 1
            grader.grade(SPECS[slug], code, pool=pool)

        n, elapsed = run_for(seconds, one)
        time.sleep(0.3)  # the last runs reaped
        used = (sum(proc_cpu_s(p) for p in pids) - before) * 1000
        maps = len(Path(f"/proc/{pids[0]}/maps").read_text().splitlines())
        return (f"{label:22s} graded/s {n / elapsed:6.1f} "
                f"sandbox CPU ms per graded run {used / n:6.2f} warm parent maps {maps}")
    finally:
        pool.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=3, help="rounds of the three sides")
    ap.add_argument("--seconds", type=float, default=6.0)
    args = ap.parse_args()
    sides = [("everything", PRELOAD + COMPANION_PRELOAD), ("without pandas", PRELOAD),
             ("without pandas, optim", None)]
    for i in range(args.pairs):
        for label, preload in sides if i % 2 == 0 else sides[::-1]:
            print(side(label, preload, args.seconds), flush=True)


if __name__ == "__main__":
    main()
