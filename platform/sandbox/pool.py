"""The trusted side: a pool of warm parents, one per concurrent run."""

from __future__ import annotations

import contextlib
import os
import queue
import select
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sandbox import protocol
from sandbox.api import Job, Limits, RunReport, SandboxError, SandboxUnavailable

PLATFORM_DIR = str(Path(__file__).resolve().parent.parent)
BANNER = """
**********************************************************************
*  SANDBOX_ALLOW_UNSAFE=1: student code runs WITHOUT full isolation.  *
*  Development only. Missing layers: {missing:<31} *
**********************************************************************
"""
# The warm parent gets this environment and nothing else (no secrets, no settings).
BASE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
GPU_ENV_PASS = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_MODULE_LOADING",
                "LD_LIBRARY_PATH")


def check_file_name(name: str) -> None:
    """Exercise files land in the working folder: relative, no '..', no oddities."""
    parts = Path(name).parts
    if (not name or Path(name).is_absolute() or ".." in parts or "\0" in name
            or len(name) > 255):
        raise ValueError(f"bad exercise file name {name!r}")


def validate(job: Job) -> None:
    """Raise ValueError/TypeError for a job the warm parent must never see."""
    if not isinstance(job.payload, bytes):
        raise TypeError("Job.payload must be bytes")
    job.limits.validated()
    for name, data in job.files.items():
        check_file_name(name)
        if not isinstance(data, bytes):
            raise TypeError(f"exercise file {name!r} must be bytes")


class _WarmParent:
    """One warm parent process and its control pipes."""

    def __init__(self, cfg: dict[str, Any], python: str, start_timeout: float) -> None:
        self.start_timeout = start_timeout
        env = dict(BASE_ENV)
        if cfg["device"] == "gpu":
            env.update({k: os.environ[k] for k in GPU_ENV_PASS if k in os.environ})
        code = "import sys; sys.path.insert(0, sys.argv[1]); import sandbox.zygote as z; z.main()"
        # The configuration goes over the pipe, not argv: a run's /proc/1/cmdline is ours.
        self.proc = subprocess.Popen(
            [python, "-I", "-c", code, PLATFORM_DIR],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
            start_new_session=True, cwd="/")
        assert self.proc.stdin is not None
        protocol.send_message(self.proc.stdin.fileno(), cfg)
        self.hello: dict[str, Any] | None = None

    def wait_ready(self) -> dict[str, Any]:
        if self.hello is None:
            self.hello = self._recv(self.start_timeout)
        return self.hello

    def _recv(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            raise SandboxError(f"the sandbox warm parent did not answer within {timeout:g} s")
        try:
            return protocol.recv_header(fd)
        except (EOFError, ValueError) as exc:
            raise SandboxError(f"the sandbox warm parent died or garbled its answer: {exc}"
                               ) from exc

    def run(self, job: Job) -> RunReport:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        limits = job.limits
        files = list(job.files.items())
        header = {"limits": limits.to_dict(), "payload": len(job.payload),
                  "files": [[name, len(data)] for name, data in files]}
        wfd = self.proc.stdin.fileno()
        try:
            protocol.send_message(wfd, header, job.payload, *[d for _, d in files],
                                  timeout=30.0)
        except TimeoutError as exc:
            raise SandboxError(f"the sandbox warm parent stopped reading: {exc}") from exc
        except OSError as exc:
            raise SandboxError(f"the sandbox warm parent is gone: {exc}") from exc
        # The warm parent enforces the wall clock; this is only against its own failure.
        rep = self._recv(limits.wall_seconds + 30.0)
        if "internal_error" in rep:
            raise SandboxError(f"the sandbox warm parent failed: {rep['internal_error']}")
        rfd = self.proc.stdout.fileno()
        result_len = rep.get("result")
        if result_len is not None and not 0 <= int(result_len) <= limits.result_bytes:
            raise SandboxError("the sandbox warm parent sent an oversized result")
        if not 0 <= int(rep["output"]) <= limits.output_bytes + 1024:
            raise SandboxError("the sandbox warm parent sent oversized output")
        try:
            result = protocol.read_exact(rfd, int(result_len)) if result_len is not None else None
            output = protocol.read_exact(rfd, int(rep["output"])).decode("utf-8", "replace")
        except EOFError as exc:
            raise SandboxError("the sandbox warm parent died mid-answer") from exc
        return RunReport(status=rep["status"], result=result, output=output,
                         output_truncated=bool(rep["output_truncated"]),
                         duration_ms=float(rep["duration_ms"]), exit_code=rep["exit_code"],
                         signal=rep["signal"], message=rep["message"],
                         cpu_ms=rep.get("cpu_ms"), memory_peak_bytes=rep.get("memory_peak_bytes"),
                         timings=rep.get("timings") or {}, reason=rep.get("reason", ""),
                         detail=rep.get("detail") or {})

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream:
                    stream.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class SandboxPool:
    """`size` warm parents; `run` is thread-safe and runs at most `size` jobs at once.

    strict=True (the default) refuses to run anything when a required isolation layer is
    missing: every run then returns status "refused" naming the layer and why."""

    def __init__(self, *, harness: str = "grading.harness:main", device: str = "cpu",
                 size: int = 1, strict: bool = True, pythonpath: list[str] | None = None,
                 prefork: int | None = None, preload: list[str] | None = None,
                 python: str | None = None, start_timeout: float = 180.0,
                 _simulate_missing: tuple[str, ...] = ()) -> None:
        if device not in ("cpu", "gpu"):
            raise ValueError("device must be 'cpu' or 'gpu'")
        self.harness, self.device, self.size, self.strict = harness, device, size, strict
        self.cfg = {"harness": harness, "device": device, "strict": strict,
                    "pythonpath": [os.path.abspath(p) for p in (pythonpath or [PLATFORM_DIR])],
                    # two waiting children keep back-to-back runs off the fork's clock;
                    # on a GPU each holds a CUDA context, so one
                    "prefork": prefork or (1 if device == "gpu" else 2), "parent_pid": os.getpid(),
                    "preload": preload or ["numpy", "pandas", "torch"],
                    "simulate_missing": list(_simulate_missing)}
        self.python = python or sys.executable
        self.start_timeout = start_timeout
        self._idle: queue.Queue[_WarmParent] = queue.Queue()
        self._all: list[_WarmParent] = []
        self._lock = threading.Lock()
        self._closed = False
        self._owner = os.getpid()
        self._banner_shown = False
        self.layers: dict[str, str] = {}
        self.refused: str | None = None
        for _ in range(size):
            self._add()
        import atexit

        atexit.register(self.close)  # let the warm parents clean up their cgroups

    def _add(self) -> _WarmParent:
        wp = _WarmParent(self.cfg, self.python, self.start_timeout)
        with self._lock:
            self._all.append(wp)
        self._idle.put(wp)
        return wp

    def _replace(self, wp: _WarmParent) -> None:
        with self._lock:
            if wp in self._all:
                self._all.remove(wp)
        with contextlib.suppress(Exception):
            wp.proc.kill()
        wp.close()
        if not self._closed:
            self._add()

    def _check_hello(self, hello: dict[str, Any]) -> None:
        self.layers = dict(hello.get("layers", {}))
        self.refused = hello.get("refused")
        if not self.strict and not self._banner_shown:
            missing = [k for k, v in self.layers.items() if not str(v).startswith("on")]
            if missing:
                sys.stderr.write(BANNER.format(missing=", ".join(missing)[:31]))
                sys.stderr.flush()
            self._banner_shown = True

    def wait_ready(self) -> dict[str, str]:
        """Block until a warm parent is up; return the isolation layers it reports.
        Raises SandboxUnavailable when the host cannot isolate (strict mode)."""
        wp = self._idle.get()
        try:
            self._check_hello(wp.wait_ready())
        finally:
            self._idle.put(wp)
        if self.refused:
            raise SandboxUnavailable(self.refused)
        return self.layers

    def run(self, job: Job) -> RunReport:
        if self._closed:
            raise SandboxError("the sandbox pool is closed")
        if os.getpid() != self._owner:
            # Its pipes belong to the process that made it (e.g. a Celery parent that forked
            # its workers): sharing them would cross-wire answers. Make one per process.
            raise SandboxError("this SandboxPool was created in another process; "
                               "use get_pool() (one pool per process) after forking")
        validate(job)  # before taking a warm parent: a bad job must not cost one
        wp = self._idle.get()
        healthy = False
        try:
            hello = wp.wait_ready()
            self._check_hello(hello)
            if hello.get("refused"):
                healthy = True
                return RunReport(status="refused", result=None, output="",
                                 output_truncated=False, duration_ms=0.0, exit_code=None,
                                 signal=None, message=str(hello["refused"]), reason="layer")
            report = wp.run(job)
            healthy = True
            return report
        finally:
            if healthy and wp.alive():
                self._idle.put(wp)
            else:
                self._replace(wp)

    def close(self) -> None:
        if os.getpid() != self._owner:
            return  # not ours to stop: the creating process still uses those parents
        self._closed = True
        with self._lock:
            parents = list(self._all)
            self._all.clear()
        for wp in parents:
            wp.close()

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_pool: SandboxPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> SandboxPool:
    """The process-wide pool, configured from the environment:
    SANDBOX_DEVICE=cpu|gpu, SANDBOX_SIZE=N, SANDBOX_HARNESS=module:function,
    SANDBOX_PYTHONPATH=dir:dir (where the harness lives, before platform/),
    SANDBOX_ALLOW_UNSAFE=1 (development only: run even when isolation layers are missing)."""
    global _pool
    with _pool_lock:
        if _pool is not None and _pool._owner != os.getpid():
            _pool = None  # inherited across fork: start this process's own
        if _pool is None:
            unsafe = os.environ.get("SANDBOX_ALLOW_UNSAFE", "") == "1"
            extra = [p for p in os.environ.get("SANDBOX_PYTHONPATH", "").split(":") if p]
            _pool = SandboxPool(
                harness=os.environ.get("SANDBOX_HARNESS", "grading.harness:main"),
                pythonpath=[*extra, PLATFORM_DIR],
                device=os.environ.get("SANDBOX_DEVICE", "cpu"),
                size=int(os.environ.get("SANDBOX_SIZE", "1")),
                strict=not unsafe)
        return _pool


def reset_pool() -> None:
    """Close the process-wide pool (tests, worker shutdown)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None


__all__ = ["Job", "Limits", "RunReport", "SandboxPool", "get_pool", "reset_pool"]
