"""Prove the GPU sandbox on a machine with an NVIDIA GPU (run by benchmarks/gpu_proof.sh).

Checks: the warm parent never initialises CUDA (no libcuda mapping, no /dev/nvidia* fd);
each GPU run initialises CUDA itself after fork and computes on the card; the per-run GPU
memory cap (set_per_process_memory_fraction) turns an over-allocation into memory_limit;
a normal run succeeds right after; device nodes are visible to GPU runs only; latency."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))
HARNESS_DIR = str(ROOT / "tests" / "sandbox")

from sandbox import Job, Limits, SandboxPool, SandboxUnavailable  # noqa: E402

GPU_JOB = b"""
import os, torch
x = torch.arange(12., device='cuda').reshape(3, 4)
y = (x @ x.T).sum().item()
free, total = torch.cuda.mem_get_info()
RESULT = repr({'y': y, 'device': torch.cuda.get_device_name(), 'uid': os.getuid(),
               'pid': os.getpid(), 'dev': sorted(os.listdir('/dev')),
               'total_gib': round(total / 2**30, 1)})
"""
OVER_ALLOC = b"""
import torch
free, total = torch.cuda.mem_get_info()
t = torch.empty(int(total * 0.6), dtype=torch.uint8, device='cuda')  # cap is 25 %
RESULT = b'allocated'
"""
CPU_DEV = b"import os\nRESULT = repr(sorted(os.listdir('/dev')))"


def parent_touches_cuda(pid: int) -> dict[str, object]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    fds = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            fds.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    # The library may be mapped (torch links it); what matters is that no device is open.
    return {"libcuda_mapped": "libcuda.so" in maps,
            "nvidia_device_fds": [f for f in fds if "nvidia" in f]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    args = ap.parse_args()
    out: dict[str, object] = {}
    strict = True
    try:
        pool = SandboxPool(harness="harness_echo:main", pythonpath=[HARNESS_DIR],
                           device="gpu", strict=True)
        out["layers"] = pool.wait_ready()
    except SandboxUnavailable as exc:
        out["strict_refused"] = str(exc)
        pool.close()
        strict = False
        pool = SandboxPool(harness="harness_echo:main", pythonpath=[HARNESS_DIR],
                           device="gpu", strict=False)
        out["layers"] = pool.wait_ready()
    out["strict"] = strict
    zpid = pool._all[0].proc.pid
    lim = Limits(gpu_memory_fraction=0.25, wall_seconds=60)
    rep = pool.run(Job(payload=GPU_JOB, limits=lim))
    out["gpu_run"] = {"status": rep.status, "result": (rep.result or b"").decode(),
                      "message": rep.message[-2000:], "ms": round(rep.duration_ms, 1)}
    out["parent_after_run"] = parent_touches_cuda(zpid)
    rep = pool.run(Job(payload=OVER_ALLOC, limits=lim))
    out["over_allocation"] = {"status": rep.status, "message": rep.message[-500:]}
    rep = pool.run(Job(payload=GPU_JOB, limits=lim))
    out["normal_after_over_allocation"] = rep.status
    lat = []
    for _ in range(30):
        t = time.perf_counter()
        rep = pool.run(Job(payload=GPU_JOB, limits=lim))
        lat.append((time.perf_counter() - t) * 1000)
        assert rep.status == "ok", rep
    out["gpu_latency_ms"] = {"p50": round(statistics.median(lat), 1),
                             "p95": round(sorted(lat)[int(0.95 * (len(lat) - 1))], 1),
                             "max": round(max(lat), 1)}
    out["parent_at_end"] = parent_touches_cuda(zpid)
    pool.close()
    with SandboxPool(harness="harness_echo:main", pythonpath=[HARNESS_DIR], device="cpu",
                     strict=strict) as cpu:
        rep = cpu.run(Job(payload=CPU_DEV))
        out["cpu_run_dev"] = (rep.result or b"").decode() or rep.message
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
