"""Sandbox benchmark: latency of single small runs, throughput with 2 concurrent runs,
warm-parent memory and per-run extra memory. Every isolation layer is on (strict pool).

    .venv/bin/python benchmarks/sandbox_bench.py [--runs 300] [--seconds 10] [--json out.json]

Targets (issue 3): p50 <= 15 ms, p95 <= 30 ms, >= 60 runs/s with both cores busy."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))

from sandbox import Job, Limits, SandboxPool  # noqa: E402

# A small exercise: a few torch ops and an export-sized result (a few tensors as bytes).
CODE = b"""
import torch
x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
w = torch.ones(4, 2, requires_grad=True)
y = (x @ w).relu().sum()
y.backward()
print('y =', y.item())
RESULT = x.numpy().tobytes() + w.grad.numpy().tobytes() + bytes(4096)
"""


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_cpu_split_s(pid: int) -> tuple[float, float]:
    """(utime + stime, reaped children's cutime + cstime), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in stat[11:15])
    tick = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / tick, (cutime + cstime) / tick


def proc_cpu_s(pid: int) -> float:
    """utime + stime + reaped children's, in seconds."""
    return sum(proc_cpu_split_s(pid))


def run_for(seconds: float, one: Callable[[int], object], threads: int = 2) -> tuple[int, float]:
    """Call `one(i)` back to back from `threads` threads (i = the thread's number) for
    `seconds`: (calls made, seconds it took)."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def loop(i: int) -> None:
        while time.monotonic() < stop:
            one(i)
            counts[i] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for th in workers:
        th.start()
    for th in workers:
        th.join()
    return sum(counts), time.monotonic() - started


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--gap-ms", type=float, default=20.0,
                    help="pause before each single run (submissions do not arrive "
                         "back to back; 0 measures back-to-back)")
    ap.add_argument("--json")
    args = ap.parse_args()
    harness = "harness_echo:main"
    pypath = [str(ROOT / "tests" / "sandbox")]
    job = Job(payload=CODE, limits=Limits())
    out: dict[str, object] = {"device": args.device, "cpus": os.cpu_count()}

    with SandboxPool(harness=harness, pythonpath=pypath, size=1, device=args.device) as pool:
        t0 = time.monotonic()
        out["layers"] = pool.wait_ready()
        out["warm_parent_start_s"] = round(time.monotonic() - t0, 2)
        for _ in range(20):  # warm-up
            assert pool.run(job).status == "ok"
        lat, inner, peaks, cpu = [], [], [], []
        for _ in range(args.runs):
            time.sleep(args.gap_ms / 1000)  # a submission arrives; a child is waiting
            t = time.perf_counter()
            rep = pool.run(job)
            lat.append((time.perf_counter() - t) * 1000)
            assert rep.status == "ok", rep
            inner.append(rep.duration_ms)
            cpu.append(rep.cpu_ms or 0)
            if rep.memory_peak_bytes:
                peaks.append(rep.memory_peak_bytes)
        b2b = []
        for _ in range(args.runs):
            t = time.perf_counter()
            rep = pool.run(job)
            b2b.append((time.perf_counter() - t) * 1000)
            assert rep.status == "ok", rep
        zpid = pool._all[0].proc.pid
        out["single"] = {
            "runs": args.runs,
            "p50_ms": round(pct(lat, 0.5), 2), "p95_ms": round(pct(lat, 0.95), 2),
            "p99_ms": round(pct(lat, 0.99), 2), "mean_ms": round(statistics.mean(lat), 2),
            "gap_between_runs_ms": args.gap_ms,
            "in_sandbox_p50_ms": round(pct(inner, 0.5), 2),
        }
        out["back_to_back"] = {
            "runs": args.runs, "p50_ms": round(pct(b2b, 0.5), 2),
            "p95_ms": round(pct(b2b, 0.95), 2),
            "note": "one client, next run sent the moment the last answer arrived: each run "
                    "then also waits for the fork of the child that replaces the last one",
        }
        out["memory"] = {
            "warm_parent_rss_mib": round(rss_kib(zpid) / 1024, 1),
            "warm_parent_pss_mib": round(pss_kib(zpid) / 1024, 1),
            "per_run_extra_mib_p50": round(pct(peaks, 0.5) / 2**20, 2) if peaks else None,
            "per_run_extra_mib_max": round(max(peaks) / 2**20, 2) if peaks else None,
            "note": "per-run extra = the run's cgroup peak (memory it charged beyond the "
                    "pages shared copy-on-write with the warm parent)",
        }

    with SandboxPool(harness=harness, pythonpath=pypath, size=2, device=args.device) as pool:
        pool.wait_ready()
        for _ in range(10):
            pool.run(job)
        failures: list[str] = []
        zpids = [wp.proc.pid for wp in pool._all]
        cpu0 = sum(proc_cpu_s(z) for z in zpids) + sum(os.times()[:2])

        def one(i: int) -> None:
            rep = pool.run(job)
            if rep.status != "ok":
                failures.append(rep.status)

        runs, elapsed = run_for(args.seconds, one)
        cpu1 = sum(proc_cpu_s(z) for z in zpids) + sum(os.times()[:2])
        per_run = (cpu1 - cpu0) / max(1, runs)
        out["concurrent"] = {"workers": 2, "seconds": round(elapsed, 2), "runs": runs,
                             "runs_per_s": round(runs / elapsed, 1),
                             "failures": len(failures),
                             "cpu_ms_per_run": round(per_run * 1000, 2),
                             "runs_per_s_per_free_core": round(1 / per_run, 1),
                             "loadavg_1min_after": float(Path("/proc/loadavg").read_text()
                                                         .split()[0]),
                             "note": "cpu_ms_per_run = CPU of the warm parents, their "
                                     "reaped runs and this client, per run (fork, exit and "
                                     "page faults included): the rate is that many runs/s "
                                     "per core the machine can spare"}
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
