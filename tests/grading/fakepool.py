"""A small stand-in for sandbox.SandboxPool, for the grading tests only.

A warm server process imports torch/numpy/pandas and grading.harness once, then forks one
child per job (like the real sandbox, minus the isolation): the child gets a fresh working
folder with the job's files, its stdout/stderr go to a file, and whatever ``harness.main``
returns comes back as ``RunReport.result``. Fast (tens of ms a run) and keeps student code
out of the test process, so tamper tests cannot affect the grader they test.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from grading.spec import CheckSpec, ExerciseSpec
from sandbox import Job, RunReport

ROOT = Path(__file__).resolve().parents[2]

SERVER = r"""
import base64, json, os, shutil, signal, struct, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
import numpy, pandas, torch
from grading import harness
harness.prime()
harness.prime_on_demand()

inp, out = sys.stdin.buffer, sys.stdout.buffer
def read():
    head = inp.read(4)
    if len(head) < 4:
        sys.exit(0)
    return json.loads(inp.read(struct.unpack(">I", head)[0]))

while True:
    job = read()
    work = tempfile.mkdtemp(prefix="fakepool-")
    outfile, resfile = os.path.join(work, ".out"), os.path.join(work, ".res")
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(work)
            for name, data in job["files"].items():
                os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
                with open(name, "wb") as f:
                    f.write(base64.b64decode(data))
            fd = os.open(outfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1); os.dup2(fd, 2)
            sys.stdout = open(1, "w", buffering=1, closefd=False)
            sys.stderr = open(2, "w", buffering=1, closefd=False)
            torch.set_num_threads(1)
            result = harness.main(base64.b64decode(job["payload"]))
            sys.stdout.flush(); sys.stderr.flush()
            with open(resfile + ".tmp", "wb") as f:
                f.write(result)
            os.rename(resfile + ".tmp", resfile)
            os._exit(0)
        except BaseException:
            os._exit(70)
    status, exit_code, sig = "ok", None, None
    deadline = t0 + job["wall"]
    while True:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status, raw = "timeout", None
            break
        time.sleep(0.002)
    if raw is not None:
        if os.WIFEXITED(raw):
            exit_code = os.WEXITSTATUS(raw)
        elif os.WIFSIGNALED(raw):
            sig = os.WTERMSIG(raw)
    output = b""
    if os.path.exists(outfile):
        with open(outfile, "rb") as f:
            output = f.read()
    truncated = len(output) > job["output_bytes"]
    result = None
    if status == "ok" and exit_code == 0 and os.path.exists(resfile):
        with open(resfile, "rb") as f:
            result = f.read()
    shutil.rmtree(work, ignore_errors=True)  # each run's folder, or /tmp fills up
    if status == "ok" and truncated:
        status, result = "output_limit", None
    elif status == "ok" and result is None:
        status = "crashed"
    reply = json.dumps({
        "status": status, "exit_code": exit_code, "signal": sig,
        "duration_ms": (time.monotonic() - t0) * 1000,
        "output": output[: job["output_bytes"]].decode("utf-8", "replace")
                  + ("\n[output cut]" if truncated else ""),
        "truncated": truncated,
        "result": base64.b64encode(result).decode() if result is not None else None,
    }).encode()
    out.write(struct.pack(">I", len(reply)) + reply)
    out.flush()
"""


class FakePool:
    """Same ``run(Job) -> RunReport`` surface as sandbox.SandboxPool; no isolation."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.runs = 0
        self._lock = threading.Lock()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(ROOT / "platform")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    def run(self, job: Job) -> RunReport:
        limits = job.limits
        msg = json.dumps(
            {
                "payload": base64.b64encode(job.payload).decode(),
                "files": {k: base64.b64encode(v).decode() for k, v in job.files.items()},
                "wall": float(limits.wall_seconds),
                "output_bytes": int(limits.output_bytes),
            }
        ).encode()
        with self._lock:
            self.runs += 1
            assert self._proc.stdin and self._proc.stdout
            self._proc.stdin.write(struct.pack(">I", len(msg)) + msg)
            self._proc.stdin.flush()
            head = self._proc.stdout.read(4)
            if len(head) < 4:
                raise RuntimeError("fake pool server died")
            reply: dict[str, Any] = json.loads(self._proc.stdout.read(struct.unpack(">I", head)[0]))
        result = reply["result"]
        return RunReport(
            status=reply["status"],
            result=base64.b64decode(result) if result is not None else None,
            output=reply["output"],
            output_truncated=reply["truncated"],
            duration_ms=reply["duration_ms"],
            exit_code=reply["exit_code"],
            signal=reply["signal"],
            message="" if reply["status"] == "ok" else f"fake pool: {reply['status']}",
        )

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait(timeout=10)


# Module-level (not in conftest) so test modules import it by a name unique in tests/.
def make_spec(setup: str, solution: str, *checks: CheckSpec, **kw) -> ExerciseSpec:
    return ExerciseSpec(
        slug=kw.pop("slug", "test-exercise"),
        lesson="test",
        setup=setup,
        solution=solution,
        starter="",
        checks=tuple(checks),
        **kw,
    )
