"""What gunicorn itself costs per request, without Django: the web tier's floor.

    .venv/bin/python benchmarks/http_overhead.py [--clients 200] [--seconds 8]
        [--web-processes 2] [--web-threads 64]

Starts gunicorn with the project's settings (platform/config/gunicorn_conf.py: gthread,
keep-alive) serving a WSGI app that answers a small JSON body at once, and drives it with
--clients asyncio clients on keep-alive connections (loopback), each sending the next
request when the last answer arrived. Prints requests/s and gunicorn's CPU (all its
processes) per request. Compare with the CPU of a real request (`web_profile.py`, in
process) and under load (`load_students.py`) to see how much of the web tier's cost is
gunicorn's own HTTP handling (measured 2026-12-03: 0.15–0.19 ms of ~6–11 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import ROOT, free_port, processes, wait_port

APP = '''
import json

BODY = json.dumps({"id": 1, "status": "graded", "outcome": "passed", "pad": "x" * 300}).encode()


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
'''


def cpu_s(root: int) -> float:
    """CPU seconds of `root` (the gunicorn master) and its children (its workers)."""
    return sum(used for pid, (_, parent, used) in processes().items()
               if root in (pid, parent))


async def client(port: int, stop: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (b"GET /api/submissions/1 HTTP/1.1\r\nHost: bench\r\n"
               b"Authorization: Bearer x\r\nAccept: application/json\r\n\r\n")
    while time.monotonic() < stop:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        size = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length"))
        await reader.readexactly(size)
        counts[0] += 1
    writer.close()


async def drive(port: int, clients: int, seconds: float) -> int:
    counts = [0]
    stop = time.monotonic() + seconds
    await asyncio.gather(*(client(port, stop, counts) for _ in range(clients)))
    return counts[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--web-processes", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=64)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="http_overhead_") as tmp:
        Path(tmp, "bench_app.py").write_text(APP)
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "platform/config/gunicorn_conf.py"),
             "--chdir", tmp, "-w", str(args.web_processes), "--threads", str(args.web_threads),
             "-b", f"127.0.0.1:{port}", "bench_app:app"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            try:
                wait_port(port, 20, proc)
            except RuntimeError as exc:
                sys.exit(f"gunicorn did not start: {exc}")
            asyncio.run(drive(port, args.clients, 1.0))  # connections and threads up
            before = cpu_s(proc.pid)
            t0 = time.monotonic()
            n = asyncio.run(drive(port, args.clients, args.seconds))
            elapsed = time.monotonic() - t0
            used = cpu_s(proc.pid) - before
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    print(f"http_overhead: gunicorn gthread {args.web_processes}x{args.web_threads} "
          f"clients={args.clients} requests={n} rate={n / elapsed:.0f}/s "
          f"gunicorn_cpu_ms_per_request={used * 1000 / max(1, n):.3f}")


if __name__ == "__main__":
    main()
