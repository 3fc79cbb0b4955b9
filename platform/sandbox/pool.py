"""The trusted side: a pool of warm parents, one per concurrent run."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from sandbox import outcome, protocol
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
# What every warm parent imports before it forks its first run.
PRELOAD = ["numpy", "torch"]
# What only the warm parents of a companion pool import (they also call the harness's
# `prime_on_demand`: the first optimizer imports torch._dynamo). A job whose payload names
# one of ON_DEMAND runs there (SandboxPool.run). pandas adds ~250 memory mappings and
# ~25 MiB of heap, torch._dynamo ~90 mappings and ~70 MiB, that every fork copies and every
# exit frees (benchmarks/RESULTS.md, seventh round), for the few exercises that use them.
COMPANION_PRELOAD = ["pandas"]
ON_DEMAND = ["pandas", "optim"]
GPU_ENV_PASS = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_MODULE_LOADING",
                "LD_LIBRARY_PATH")


def check_file_name(name: str) -> None:
    """Exercise files land in the working folder: relative, no '..', no oddities."""
    parts = Path(name).parts
    if (not name or Path(name).is_absolute() or ".." in parts or "\0" in name
            or len(name) > 255):
        raise ValueError(f"bad exercise file name {name!r}")


def _job_memfd(job: Job) -> int:
    """The job as one sealed in-memory file: header (limits, sizes, file names), payload,
    files. Only the run ever reads it."""
    files = list(job.files.items())
    header = json.dumps({"limits": job.limits.to_dict(), "payload": len(job.payload),
                         "files": [[name, len(data)] for name, data in files]}).encode()
    fd = os.memfd_create("sandbox-job", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    try:
        for blob in (protocol.HEADER.pack(len(header)) + header, job.payload,
                     *[data for _, data in files]):
            protocol.write_all(fd, blob)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK
                    | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


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
    """One warm parent process and its control socket.

    A job never passes through the warm parent: the pool writes it into a sealed memfd and
    sends that, with the write ends of the run's output and result pipes, as descriptors
    the warm parent hands on to a waiting child unread. The pool reads the output and the
    result itself, caps them, and decides how the run ended (`outcome.classify`)."""

    def __init__(self, cfg: dict[str, Any], python: str, start_timeout: float) -> None:
        self.start_timeout = start_timeout
        env = dict(BASE_ENV)
        if cfg["device"] == "gpu":
            env.update({k: os.environ[k] for k in GPU_ENV_PASS if k in os.environ})
        code = "import sys; sys.path.insert(0, sys.argv[1]); import sandbox.zygote as z; z.main()"
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # The configuration goes over the socket, not argv: a run's /proc/1/cmdline is ours.
        try:
            self.proc = subprocess.Popen(
                [python, "-I", "-c", code, PLATFORM_DIR],
                stdin=theirs.fileno(), stdout=theirs.fileno(), env=env, close_fds=True,
                start_new_session=True, cwd="/")
        finally:
            theirs.close()
        protocol.send_message(self.sock.fileno(), cfg)
        self.hello: dict[str, Any] | None = None

    def wait_ready(self) -> dict[str, Any]:
        if self.hello is None:
            self.hello = self._recv(self.start_timeout)
        return self.hello

    def _recv(self, timeout: float) -> dict[str, Any]:
        fd = self.sock.fileno()
        r, _, _ = select.select([fd], [], [], timeout)
        if not r:
            raise SandboxError(f"the sandbox warm parent did not answer within {timeout:g} s")
        try:
            return protocol.recv_header(fd)
        except (EOFError, ValueError) as exc:
            raise SandboxError(f"the sandbox warm parent died or garbled its answer: {exc}"
                               ) from exc

    def run(self, job: Job) -> RunReport:
        limits = job.limits.to_dict()
        memfd = _job_memfd(job)
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        try:
            protocol.send_with_fds(self.sock, {"limits": limits}, [memfd, out_w, res_w])
        except OSError as exc:
            for fd in (out_r, res_r):
                os.close(fd)
            raise SandboxError(f"the sandbox warm parent is gone: {exc}") from exc
        finally:
            for fd in (memfd, out_w, res_w):
                os.close(fd)
        try:
            return self._collect(limits, out_r, res_r)
        finally:
            for fd in (out_r, res_r):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _collect(self, limits: dict[str, Any], out_r: int, res_r: int) -> RunReport:
        """Read the run's output and result (capped: the run controls these bytes), tell the
        warm parent when they are done or over their limit, then take its facts."""
        caps = {out_r: int(limits["output_bytes"]),
                res_r: int(limits["result_bytes"]) + protocol.FRAME.size}
        bufs: dict[int, bytearray] = {out_r: bytearray(), res_r: bytearray()}
        over: set[int] = set()
        ctl = self.sock.fileno()
        poller = select.poll()
        for fd in (out_r, res_r, ctl):
            poller.register(fd, select.POLLIN)
        reading = {out_r, res_r}
        ended = False
        # The warm parent enforces the wall clock; this is only against its own failure.
        deadline = time.monotonic() + float(limits["wall_seconds"]) + 30.0
        facts: dict[str, Any] | None = None
        while facts is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SandboxError("the sandbox warm parent did not answer in time")
            for fd, _ in poller.poll(min(left, 1.0) * 1000):
                if fd == ctl:
                    facts = self._recv(0)
                    break
                if fd not in reading:
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    reading.discard(fd)
                    poller.unregister(fd)
                    continue
                room = caps[fd] - len(bufs[fd])
                bufs[fd].extend(chunk[:max(room, 0)])
                if len(chunk) > room:
                    over.add(fd)
            if not ended and (over or not reading):
                ended = True
                for fd in reading:  # a breach: stop reading, the run is killed
                    poller.unregister(fd)
                reading.clear()
                complete = not over and outcome.frame_complete(bufs[res_r])
                protocol.send_message(ctl, {"end": True, "kill": bool(over),
                                            "complete": complete})
        if "internal_error" in facts:
            raise SandboxError(f"the sandbox warm parent failed: {facts['internal_error']}")
        if not ended:
            raise SandboxError("the sandbox warm parent answered before the run ended")
        return outcome.classify(limits, bytes(bufs[out_r]), bytes(bufs[res_r]),
                                out_over=out_r in over, res_over=res_r in over, facts=facts)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()  # the warm parent reads EOF and cleans up
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class SandboxPool:
    """`size` warm parents; `run` is thread-safe and runs at most `size` jobs at once
    (`size` more in the companion, below).

    strict=True (the default) refuses to run anything when a required isolation layer is
    missing: every run then returns status "refused" naming the layer and why.

    With the default `preload`, a student pool on the `cpu` device keeps pandas and the
    harness's `prime_on_demand` out of its warm parents and hands a job whose payload names
    a word of ON_DEMAND to a companion pool of the same size whose warm parents have them
    (`companion()`). A run that needs them without naming them still works; it pays the
    import on its own clock."""

    def __init__(self, *, harness: str = "grading.harness:main", device: str = "cpu",
                 size: int = 1, strict: bool = True, pythonpath: list[str] | None = None,
                 prefork: int | None = None, preload: list[str] | None = None,
                 python: str | None = None, start_timeout: float = 180.0,
                 _simulate_missing: tuple[str, ...] = (), role: str = "student",
                 _warm_pressure: float = 0.1) -> None:
        if device not in ("cpu", "gpu"):
            raise ValueError("device must be 'cpu' or 'gpu'")
        self.role = role
        self._reference: SandboxPool | None = None
        self._companion: SandboxPool | None = None
        # Split only the pools that serve students on the CPU: a reference pool runs every
        # exercise's solution, and on a GPU each warm parent's waiting child holds a CUDA
        # context (twice the parents, twice the contexts).
        split = preload is None and role == "student" and device == "cpu"
        self._on_demand = [m.encode() for m in ON_DEMAND] if split else []
        # The same pool with everything preloaded (an explicit preload: it does not split).
        self._companion_args = dict(
            harness=harness, device=device, size=size, strict=strict, pythonpath=pythonpath,
            prefork=prefork, preload=PRELOAD + COMPANION_PRELOAD, python=python,
            start_timeout=start_timeout, _simulate_missing=_simulate_missing, role=role,
            _warm_pressure=_warm_pressure)
        self._reference_args = dict(
            harness=harness, device=device, size=1, strict=strict, pythonpath=pythonpath,
            prefork=1, preload=preload, python=python, start_timeout=start_timeout,
            _simulate_missing=_simulate_missing, role="reference")
        self.harness, self.device, self.size, self.strict = harness, device, size, strict
        self.cfg = {"harness": harness, "device": device, "strict": strict,
                    "pythonpath": [os.path.abspath(p) for p in (pythonpath or [PLATFORM_DIR])],
                    # two waiting children keep back-to-back runs off the fork's clock;
                    # on a GPU each holds a CUDA context, so one
                    "prefork": prefork or (1 if device == "gpu" else 2), "parent_pid": os.getpid(),
                    "preload": preload or (PRELOAD if split else PRELOAD + COMPANION_PRELOAD),
                    "on_demand": not split,  # the harness's prime_on_demand (above)
                    "simulate_missing": list(_simulate_missing),
                    # CPU pressure above which waiting children skip their warm-up (tests
                    # set it out of reach: a loaded test machine must not change them)
                    "warm_pressure": _warm_pressure}
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

    def reference_pool(self) -> SandboxPool:
        """Warm parents of their own for reference solutions and instructors' drafts,
        started on first use: they never serve a student's run, so even a future bug in a
        warm parent cannot hand a student the reference."""
        if self.role == "reference":
            return self
        return self._sibling("_reference", self._reference_args)

    def companion(self) -> SandboxPool:
        """The warm parents that preloaded COMPANION_PRELOAD and ran `prime_on_demand` as
        well, started on first use (or by the worker when it starts); this pool itself when
        it does not split."""
        if not self._on_demand:
            return self
        return self._sibling("_companion", self._companion_args)

    def _sibling(self, attr: str, args: dict[str, Any]) -> SandboxPool:
        with self._lock:
            pool: SandboxPool | None = getattr(self, attr)
            if pool is None:
                if self._closed:
                    raise SandboxError("the sandbox pool is closed")
                pool = SandboxPool(**args)
                setattr(self, attr, pool)
            return pool

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
        # A plain byte search of what the run will execute: a word in a comment costs a run
        # in the companion, nothing more.
        if any(word in job.payload for word in self._on_demand):
            return self.companion().run(job)
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
            reference, self._reference = self._reference, None
            companion, self._companion = self._companion, None
        for other in (reference, companion):
            if other is not None:
                other.close()
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
