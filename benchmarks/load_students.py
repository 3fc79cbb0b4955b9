"""Throughput and latency with many students submitting at once (default 200, 30 s).

    .venv/bin/python benchmarks/load_students.py [--students 200] [--seconds 30]
        [--workers 1] [--concurrency 3] [--web-processes 2] [--web-threads 64] [--sqlite]
    .venv/bin/python benchmarks/load_students.py --naive-poll [--students 20]
        [--per-student 10] [--poll-ms 50]

Each simulated student (an asyncio task with its own keep-alive HTTP connection, loopback
only) submits, long-polls its verdict, and submits again until the time is up; submissions
still in flight then get up to --drain seconds. Afterwards the database is checked: every
accepted submission graded (none lost) and claimed exactly once (tries == 1: none graded
twice). Prints one line.

--naive-poll: the clients a class gets from simple scripts. `make run` itself is the stack
(scripts/run.sh on a fresh SQLite file: its gunicorn, its worker, its sizes), and each of
20 students submits --per-student times, each time asking `GET /api/submissions/<id>`
(no ?wait) every --poll-ms until the verdict is there, then submitting the next. Throughput
is all verdicts over the time from the first submit to the last verdict.

--browser: the students are the lesson page (static/js/lesson.js) in a logged-in browser:
session and CSRF cookies instead of a token, `POST …/submissions?wait=1`, then
`GET …/submissions/<id>?wait=2` every 100 ms until graded. `--submit-wait 0` is the page
before the tenth round of issue #15 (a POST without ?wait, then the polls).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (
    Http,
    cpu_seconds,
    machine,
    percentile,
    running_stack,
    submit_and_wait,
    warm_companion,
)

# A mix: right and wrong answers on three exercises (wrong ones exercise the diagnostics).
WORK = [
    ("linalg-cumsum", "cs = A.cumsum(axis=0)"),
    ("linalg-cumsum", "cs = A.cumsum(axis=1)"),
    ("tensor-arange", "x = torch.arange(12)\nn = x.numel()\nX = x.reshape(3, 4)"),
    ("tensor-arange", "x = torch.arange(12)\nn = x.numel\nX = x.reshape(4, 3)"),
    ("tensor-cat", "rows = torch.cat((X, Y), dim=0)\ncols = torch.cat((X, Y), dim=1)"),
]


async def page_submit(http: Http, slug: str, code: str, timeout: float, submit_wait: float
                      ) -> tuple[float, dict]:
    """What lesson.js sends for one verdict: POST (?wait=submit_wait), then GET ?wait=2
    with 100 ms between polls until graded; (seconds, verdict)."""
    t0 = time.perf_counter()
    query = f"?wait={submit_wait:g}" if submit_wait else ""
    status, verdict = await http.request(
        "POST", f"/api/exercises/{slug}/submissions{query}", {"code": code})
    if status != 202:
        raise RuntimeError(f"submit answered {status}: {verdict}")
    url, polled = verdict["url"], False
    while verdict.get("status") != "graded":
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"submission {verdict['id']} not graded in {timeout}s")
        if polled:  # the page sleeps after a poll, not after the POST
            await asyncio.sleep(0.1)
        polled = True
        status, verdict = await http.request("GET", f"{url}?wait=2")
        if status != 200:
            raise RuntimeError(f"poll answered {status}: {verdict}")
    return time.perf_counter() - t0, verdict


async def student(port: int, token: str, stop_at: float, drain_until: float,
                  results: list[tuple[float, float, int, str]], errors: list[str],
                  page_wait: float | None = None) -> None:
    http = Http(port, token)
    rng = random.Random(token)
    await asyncio.sleep(rng.random() * 0.5)  # not all in the same millisecond
    try:
        while time.perf_counter() < stop_at:
            slug, code = rng.choice(WORK)
            started = time.perf_counter()
            timeout = max(1.0, drain_until - started)
            try:
                if page_wait is None:
                    seconds, verdict = await submit_and_wait(http, slug, code, timeout=timeout)
                else:
                    seconds, verdict = await page_submit(http, slug, code, timeout, page_wait)
            except Exception as exc:  # counted, never hidden
                errors.append(f"{type(exc).__name__}: {exc}")
                await http.close()
                continue
            results.append((started, seconds * 1000, verdict["id"], verdict["outcome"]))
    finally:
        await http.close()


async def naive_student(port: int, token: str, count: int, poll: float, timeout: float,
                        results: list[tuple[float, float, int, str]], errors: list[str],
                        polls: list[int]) -> None:
    """Submit, then ask for the verdict every `poll` s (no long poll) until graded; repeat.

    It waits for each verdict before the next submit, as the fairness rules ask (one
    submission in flight per student); a 429 is counted as an error, never retried blindly.
    """
    http = Http(port, token)
    rng = random.Random(token)
    await asyncio.sleep(rng.random() * 0.5)
    try:
        for _ in range(count):
            slug, code = rng.choice(WORK)
            started = time.perf_counter()
            try:
                status, sub = await http.request(
                    "POST", f"/api/exercises/{slug}/submissions", {"code": code}
                )
                if status != 202:
                    raise RuntimeError(f"submit answered {status}: {sub}")
                while sub.get("status") != "graded":
                    if time.perf_counter() - started > timeout:
                        raise TimeoutError(f"submission {sub['id']} not graded in {timeout}s")
                    await asyncio.sleep(poll)
                    status, sub = await http.request("GET", f"/api/submissions/{sub['id']}")
                    polls[0] += 1
                    if status != 200:
                        raise RuntimeError(f"poll answered {status}: {sub}")
            except Exception as exc:  # counted, never hidden
                errors.append(f"{type(exc).__name__}: {exc}")
                await http.close()
                continue
            results.append((started, (time.perf_counter() - started) * 1000, sub["id"],
                            sub["outcome"]))
    finally:
        await http.close()


async def run_naive(port: int, tokens: list[str], count: int, poll: float, timeout: float
                    ) -> tuple[list[tuple[float, float, int, str]], list[str], float, int]:
    results: list[tuple[float, float, int, str]] = []
    errors: list[str] = []
    polls = [0]
    t0 = time.perf_counter()
    await asyncio.gather(*(naive_student(port, tok, count, poll, timeout, results, errors,
                                         polls) for tok in tokens))
    return results, errors, time.perf_counter() - t0, polls[0]


async def run(port: int, tokens: list[str], seconds: float, drain: float,
              page_wait: float | None = None
              ) -> tuple[list[tuple[float, float, int, str]], list[str], float]:
    results: list[tuple[float, float, int, str]] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    stop_at, drain_until = t0 + seconds, t0 + seconds + drain
    await asyncio.gather(*(student(port, tok, stop_at, drain_until, results, errors, page_wait)
                           for tok in tokens))
    return results, errors, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=None,
                        help="default 200; 20 with --naive-poll")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--drain", type=float, default=60)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=3)
    # Several processes with fewer threads each: one process with hundreds of threads spent
    # its CPU fighting over the GIL (measured: 2x web CPU per submission, half the rate).
    # gunicorn_conf.py's and `make run`'s default; 4 cost ~2.5 ms more web CPU per graded
    # submission on 2 cores (RESULTS.md, 2026-12-03)
    parser.add_argument("--web-processes", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=64)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--naive-poll", action="store_true",
                        help="`make run` on SQLite, clients polling without ?wait")
    parser.add_argument("--per-student", type=int, default=10,
                        help="with --naive-poll: submissions per student")
    parser.add_argument("--poll-ms", type=float, default=50,
                        help="with --naive-poll: pause between two polls")
    parser.add_argument("--browser", action="store_true",
                        help="students are the lesson page in a logged-in browser")
    parser.add_argument("--submit-wait", type=float, default=1,
                        help="with --browser: the POST's ?wait (0: the page before round ten)")
    args = parser.parse_args()
    if args.students is None:
        args.students = 20 if args.naive_poll else 200
    if args.naive_poll:
        naive(args)
        return
    with running_stack(students=args.students, workers=args.workers,
                       concurrency=args.concurrency, web_processes=args.web_processes,
                       web_threads=args.web_threads,
                       sqlite=args.sqlite) as stack:
        # Warm the reference cache of each exercise once (as a real term would have).
        asyncio.run(_warm(stack.port, stack.tokens[0]))
        clients = stack.sessions() if args.browser else stack.tokens
        cpu_before = cpu_seconds(stack)
        results, errors, elapsed = asyncio.run(
            run(stack.port, clients, args.seconds, args.drain,
                args.submit_wait if args.browser else None)
        )
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds(stack).items()}
        ids = [r[2] for r in results]
        rows = stack.db_rows(ids)
        received = stack.log_count("] received")
    latencies = [r[1] for r in results]
    # Throughput over the steady window: verdicts for submissions started in it.
    steady = [r for r in results if r[0] - min(r[0] for r in results) <= args.seconds]
    graded_rows = [r for r in rows if r[1] == "graded"]
    lost = len(ids) - len(graded_rows)
    twice = sum(1 for r in rows if r[3] != 1)
    internal = sum(1 for r in rows if r[2] in {"internal_error", "queue_unavailable"})
    clients = f"browser(submit_wait={args.submit_wait:g})" if args.browser else "api"
    print(
        f"load_students: clients={clients} students={args.students} window={args.seconds:.0f}s "
        f"graded={len(results)} throughput={len(steady) / args.seconds:.1f}/s "
        f"p50={percentile(latencies, 50):.0f}ms p95={percentile(latencies, 95):.0f}ms "
        f"p99={percentile(latencies, 99):.0f}ms lost={lost} graded_twice={twice} "
        f"internal_errors={internal} client_errors={len(errors)} "
        f"tasks_received={received} workers={args.workers}x{args.concurrency} "
        f"db={'sqlite' if args.sqlite else 'postgresql'} machine=({machine()}) "
        f"took={elapsed:.0f}s"
    )
    _print_cpu(cpu, len(results))
    if errors:
        print("first client errors:", *errors[:5], sep="\n  ", file=sys.stderr)


def naive(args: argparse.Namespace) -> None:
    """--naive-poll: `make run`, students polling every --poll-ms (see the module's doc)."""
    with running_stack(students=args.students, make_run=True) as stack:
        asyncio.run(_warm(stack.port, stack.tokens[0]))
        cpu_before = cpu_seconds(stack)
        results, errors, elapsed, polls = asyncio.run(run_naive(
            stack.port, stack.tokens, args.per_student, args.poll_ms / 1000, args.drain * 5,
        ))
        cpu = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds(stack).items()}
        ids = [r[2] for r in results]
        rows = stack.db_rows(ids)
        received = stack.log_count("] received")
    latencies = [r[1] for r in results]
    expected = args.students * args.per_student
    graded_rows = [r for r in rows if r[1] == "graded"]
    # Lost: asked for and never graded (a client error, or a row not graded in the database).
    lost = expected - len(graded_rows)
    twice = sum(1 for r in rows if r[3] != 1)
    internal = sum(1 for r in rows if r[2] in {"internal_error", "queue_unavailable"})
    print(
        f"load_students --naive-poll: students={args.students} per_student={args.per_student} "
        f"poll={args.poll_ms:.0f}ms graded={len(results)}/{expected} "
        f"throughput={len(results) / elapsed:.1f}/s "
        f"p50={percentile(latencies, 50):.0f}ms p95={percentile(latencies, 95):.0f}ms "
        f"p99={percentile(latencies, 99):.0f}ms polls={polls} ({polls / elapsed:.0f}/s) "
        f"lost={lost} graded_twice={twice} internal_errors={internal} "
        f"client_errors={len(errors)} tasks_received={received} stack=make-run db=sqlite "
        f"machine=({machine()}) took={elapsed:.1f}s"
    )
    _print_cpu(cpu, len(results))
    if errors:
        print("first client errors:", *errors[:5], sep="\n  ", file=sys.stderr)


def _print_cpu(cpu: dict[str, float], graded: int) -> None:
    """Where the CPU went over the whole run (window + drain), per graded submission."""
    per = {k: 1000 * v / max(1, graded) for k, v in cpu.items()}
    total = max(1e-9, sum(per.values()))
    print("cpu_ms_per_graded: " + " ".join(f"{k}={v:.1f}" for k, v in per.items())
          + f" total={total:.1f} (ceiling at this cost: {os.cpu_count() or 1} cores "
          f"= {(os.cpu_count() or 1) * 1000 / total:.0f}/s)")


async def _warm(port: int, token: str) -> None:
    http = Http(port, token)
    for slug, code in WORK:
        await submit_and_wait(http, slug, code)
    await warm_companion(http)
    await http.close()


if __name__ == "__main__":
    main()
