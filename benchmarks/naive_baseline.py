"""The naive way, for comparison: a cold `python -c "import torch ..."` per submission.

    .venv/bin/python benchmarks/naive_baseline.py [-n 10] [--parallel 2]

Each submission starts a fresh interpreter that imports torch, runs the exercise's setup
and the student's code, and prints the checked names (what a simple auto-grader that
shells out per submission does, minus any isolation). Prints one line: the latency of one
such run and the throughput with --parallel runs at a time (the machine's cores).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import ROOT, machine, percentile

SLUG_DIR = ROOT / "lessons" / "linear-algebra" / "exercises" / "linalg-cumsum"
CODE = "cs = A.cumsum(axis=0)"


def one_run() -> float:
    setup = (SLUG_DIR / "setup.py").read_text()
    program = f"import torch\n{setup}\n{CODE}\nprint(repr(cs))\n"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", program], check=True, capture_output=True)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()
    one_run()  # page cache warm: the fairest case for the baseline
    times = [one_run() for _ in range(args.n)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.parallel) as pool:
        list(pool.map(lambda _: one_run(), range(args.n)))
    throughput = args.n / (time.perf_counter() - t0)
    print(
        f"naive_baseline: n={args.n} cold 'python -c import torch' per submission "
        f"p50={percentile(times, 50):.0f}ms p95={percentile(times, 95):.0f}ms "
        f"mean={statistics.mean(times):.0f}ms throughput={throughput:.2f}/s "
        f"(parallel={args.parallel}) machine=({machine()})"
    )


if __name__ == "__main__":
    main()
