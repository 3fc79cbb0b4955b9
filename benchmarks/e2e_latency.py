"""End-to-end latency of single submissions: HTTP submit → verdict available.

    .venv/bin/python benchmarks/e2e_latency.py [-n 200] [--sqlite]

One student, one submission at a time, on a warm worker: POST /api/exercises/<slug>/
submissions, then GET /api/submissions/<id>?wait=… (long poll) until graded. Prints one line.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import Http, machine, percentile, running_stack, submit_and_wait, warm_companion


async def measure(port: int, token: str, n: int, warmup: int, slug: str, code: str,
                  ends: dict[int, tuple[float, float]]
                  ) -> tuple[list[float], list[str], list[float]]:
    http = Http(port, token)
    for _ in range(warmup):  # first runs build the reference cache and warm connections
        await submit_and_wait(http, slug, code)
    await warm_companion(http)
    times, outcomes, inside = [], [], []
    ends.clear()  # id: (sent, answered), epoch ms, for the measured submissions only
    for _ in range(n):
        sent = time.time() * 1000
        seconds, verdict = await submit_and_wait(http, slug, code)
        times.append(seconds * 1000)
        outcomes.append(verdict["outcome"])
        inside.append(float(verdict.get("duration_ms") or 0))
        ends[verdict["id"]] = (sent, sent + seconds * 1000)
    await http.close()
    return times, outcomes, inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--slug", default="linalg-cumsum")
    parser.add_argument("--code", default="cs = A.cumsum(axis=0)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    args = parser.parse_args()
    started = time.time()
    with running_stack(students=1, workers=1, concurrency=1, sqlite=args.sqlite) as stack:
        ends: dict[int, tuple[float, float]] = {}
        times, outcomes, inside = asyncio.run(
            measure(stack.port, stack.tokens[0], args.n, args.warmup, args.slug, args.code, ends)
        )
        stamps = stack.stage_times(list(ends))
    # The four stages of each submission, from the client's clock and the row's (one machine)
    rows = [(sent, *stamps[i], done) for i, (sent, done) in ends.items() if i in stamps]
    submit_ms = [c - sent for sent, c, _, _, _ in rows]
    wait_ms = [s - c for _, c, s, _, _ in rows]
    work_ms = [f - s for _, _, s, f, _ in rows]
    answer_ms = [done - f for _, _, _, f, done in rows]
    bad = [o for o in outcomes if o != "passed"]
    print(
        f"e2e_latency: n={len(times)} {args.slug} p50={percentile(times, 50):.1f}ms "
        f"p95={percentile(times, 95):.1f}ms p99={percentile(times, 99):.1f}ms "
        f"mean={statistics.mean(times):.1f}ms max={max(times):.1f}ms "
        f"[p50 of stages: "
        f"submit={percentile(submit_ms, 50):.1f}ms "
        f"queue={percentile(wait_ms, 50):.1f}ms "
        f"worker={percentile(work_ms, 50):.1f}ms (sandbox run={percentile(inside, 50):.1f}ms) "
        f"answer={percentile(answer_ms, 50):.1f}ms] "
        f"not_passed={len(bad)} db={'sqlite' if args.sqlite else 'postgresql'} "
        f"machine=({machine()}) took={time.time() - started:.0f}s"
    )


if __name__ == "__main__":
    main()
