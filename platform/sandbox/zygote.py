"""The warm parent: a separate program (never a fork of the worker) that imports torch,
numpy, pandas and the harness once, keeps pre-forked, pre-isolated children waiting, and
hands each one exactly one job.

Started by `SandboxPool` as `python -I -c "...zygote.main()" PLATFORM_DIR` with an almost
empty environment; its configuration is the first message on stdin. It talks to the pool
over its stdin/stdout only; children never hold those fds. It is single-threaded on
purpose: forking a process that has run a multi-threaded op makes children hang."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import select
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox import protocol
from sandbox.protocol import FRAME

MARKER = "\n… output cut: the limit of {limit} was reached …\n"


def fmt_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    return str(n)


@dataclass
class Waiting:
    """A pre-forked run process, isolated as far as possible before its job arrives."""

    pid: int  # as seen by the warm parent
    job_w: int
    out_r: int
    res_r: int
    ctl_r: int
    cgroup: Any = None
    ready: dict[str, Any] | None = None
    reaped: bool = False
    killed: bool = False
    born: float = field(default_factory=time.monotonic)


class Zygote:
    def __init__(self, cfg: dict[str, Any]) -> None:
        from sandbox import isolation

        self.cfg = cfg
        self.iso = isolation
        self.device = cfg.get("device", "cpu")
        self.strict = bool(cfg.get("strict", True))
        self.prefork = max(1, int(cfg.get("prefork", 1)))
        self.refill_during_run = bool(cfg.get("refill_during_run", False))
        self.waiting: list[Waiting] = []
        self.timings: dict[str, float] = {}  # where the time of the last run went
        self.pending: list[Waiting] = []  # finished runs still to reap
        self.host = isolation.Host.probe(
            device=self.device, strict=self.strict, workdir=cfg.get("statedir"),
            simulate_missing=tuple(cfg.get("simulate_missing", ())))
        self.harness = self._load_harness(cfg["harness"])
        cfg["_harness_fn"] = self.harness
        cfg["_warmup_fn"] = getattr(sys.modules[self.harness.__module__], "warmup", None)
        if not self.host.refused:
            try:
                isolation.setup_parent(self.host)
            except isolation.LayerError as exc:
                if self.strict:
                    self.host.refused = f"sandbox layer '{exc.layer}' failed: {exc.error}"
                self.host.layers[exc.layer] = f"off: {exc.error}"
                self.host.mount = False
        # Everything imported so far is permanent: keep the collector off those pages so
        # that children do not copy them on first touch.
        import gc

        gc.collect()
        gc.freeze()
        if cfg.get("hugepages", True):
            from sandbox import sysapi

            sysapi.collapse_heap_to_hugepages()

    def _load_harness(self, dotted: str) -> Any:
        import importlib
        import pkgutil

        mod_name, _, fn_name = dotted.partition(":")
        module = importlib.import_module(mod_name)
        fn = getattr(module, fn_name or "main")
        # The run cannot see the checkout, so lazy imports inside the harness's package
        # would fail there: import the whole package now, while we still can.
        top = mod_name.split(".")[0]
        pkg = sys.modules.get(top)
        if pkg is not None and hasattr(pkg, "__path__"):
            for info in pkgutil.walk_packages(pkg.__path__, top + "."):
                with contextlib.suppress(Exception):
                    importlib.import_module(info.name)
        return fn

    # -- children -------------------------------------------------------------------------
    def spawn(self) -> Waiting:
        job_r, job_w = os.pipe()
        out_r, out_w = os.pipe()
        res_r, res_w = os.pipe()
        ctl_r, ctl_w = os.pipe()
        cgroup = self.host.new_cgroup()
        keep = {"job": job_r, "out": out_w, "res": res_w, "ctl": ctl_w}
        ready = None
        try:
            pid = self.iso.fork_isolated(self.host, keep, cgroup, self.cfg)
        except self.iso.LayerError as exc:
            pid, ready = -1, {"ok": False, "layer": exc.layer, "error": exc.error}
        for fd in (job_r, out_w, res_w, ctl_w):
            os.close(fd)
        for fd in (out_r, res_r, ctl_r):
            os.set_blocking(fd, False)
        return Waiting(pid=pid, job_w=job_w, out_r=out_r, res_r=res_r, ctl_r=ctl_r,
                       cgroup=cgroup, ready=ready)

    def refill(self) -> None:
        while len(self.waiting) < self.prefork:
            self.waiting.append(self.spawn())

    def take(self) -> Waiting:
        if not self.waiting:  # only fork on the job's clock when nothing is waiting
            self.waiting.append(self.spawn())
        return self.waiting.pop(0)

    def read_ready(self, child: Waiting, timeout: float) -> dict[str, Any]:
        """The child reports 'ready' (or which layer failed) once it is isolated."""
        if child.ready is not None:
            return child.ready
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return {"ok": False, "layer": "startup", "error": "child not ready in time"}
            r, _, _ = select.select([child.ctl_r], [], [], left)
            if not r:
                continue
            try:
                chunk = os.read(child.ctl_r, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                return {"ok": False, "layer": "startup", "error": "child died during setup"}
            buf += chunk
        line = buf.split(b"\n", 1)[0]
        try:
            msg = json.loads(line)
        except ValueError:
            msg = {"ok": False, "layer": "startup", "error": "garbled readiness message"}
        return msg if isinstance(msg, dict) else {"ok": False, "error": "garbled"}

    def discard(self, child: Waiting) -> None:
        if child.pid > 0 and not child.reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)
        for fd in (child.job_w, child.out_r, child.res_r, child.ctl_r):
            with contextlib.suppress(OSError):
                os.close(fd)
        if child.cgroup is not None:
            child.cgroup.destroy()

    # -- one run ----------------------------------------------------------------------------
    def run(self, header: dict[str, Any], payload: bytes, files: list[tuple[str, bytes]]
            ) -> tuple[dict[str, Any], bytes, bytes]:
        limits = header["limits"]
        t_take = time.monotonic()
        child = self.take()
        ready = self.read_ready(child, timeout=30.0)
        for _ in range(3):
            # A waiting child that died meanwhile (killed from outside, say) is not the
            # student's fault: take a fresh one.
            try:
                wpid, _ = os.waitpid(child.pid, os.WNOHANG) if child.pid > 0 else (0, 0)
            except ChildProcessError:
                wpid = child.pid
            if wpid == 0:
                break
            child.reaped = True
            self.discard(child)
            child = self.take()
            ready = self.read_ready(child, timeout=30.0)
        self.timings["wait_child_ms"] = (time.monotonic() - t_take) * 1000
        if not ready.get("ok"):
            self.discard(child)
            msg = f"sandbox layer '{ready.get('layer')}' failed: {ready.get('error')}"
            r = self.report("refused", message=msg)
            r["reason"], r["detail"] = "layer", {"layer": ready.get("layer")}
            return r, b"", b""
        if child.cgroup is not None:
            # The run may use memory_bytes beyond what it held while waiting (a few MiB of
            # warm-up on CPU; the CUDA context's host memory on a GPU).
            child.cgroup.set_limits(memory=int(limits["memory_bytes"]) + child.cgroup.usage(),
                                    pids=int(limits["processes"]),
                                    cpus=float(limits.get("cpus") or 0))
        job = json.dumps({"limits": limits, "payload": len(payload),
                          "files": [[name, len(data)] for name, data in files]}).encode()
        cpu_start = proc_cpu_ms(child.pid)
        t0 = time.monotonic()
        try:
            protocol.write_all(child.job_w, protocol.HEADER.pack(len(job)) + job)
            protocol.write_all(child.job_w, payload)
            for _, data in files:
                protocol.write_all(child.job_w, data)
        except BrokenPipeError:
            pass  # it died; the wait below says how
        os.close(child.job_w)
        child.job_w = -1
        if self.refill_during_run:
            # Fork the replacement now, while this run executes on another core.
            t_refill = time.monotonic()
            self.refill()
            self.timings["refill_ms"] = (time.monotonic() - t_refill) * 1000
        try:
            return self.supervise(child, limits, t0, cpu_start)
        finally:
            for fd in (child.out_r, child.res_r, child.ctl_r):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self.pending.append(child)  # reaped right after the answer is sent

    def reap_pending(self, block: bool = True) -> None:
        """Kill what is left of finished runs (the whole pid namespace goes with PID 1),
        reap, and remove their cgroups. Runs after the answer has gone out; without
        `block`, only what has already exited (exit teardown takes a few ms of the
        child's own time, which the warm parent need not wait for)."""
        still = []
        for child in self.pending:
            if child.pid > 0 and not child.reaped:
                if not child.killed:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.pid, signal.SIGKILL)
                    child.killed = True
                try:
                    wpid, _ = os.waitpid(child.pid, 0 if block else os.WNOHANG)
                except ChildProcessError:
                    wpid = child.pid
                if wpid == 0:
                    still.append(child)
                    continue
                child.reaped = True
            if child.cgroup is not None:
                child.cgroup.destroy()
            if not self.host.mount:
                import shutil

                shutil.rmtree(self.host.workdir_for(child.pid), ignore_errors=True)
        self.pending = still

    def supervise(self, child: Waiting, limits: dict[str, Any], t0: float,
                  cpu_start: float | None = None) -> tuple[dict[str, Any], bytes, bytes]:
        out_cap = int(limits["output_bytes"])
        res_cap = int(limits["result_bytes"]) + FRAME.size
        deadline = t0 + float(limits["wall_seconds"])
        out = bytearray()
        res = bytearray()
        out_over = res_over = timed_out = False
        pidfd = os.pidfd_open(child.pid)
        open_fds = {child.out_r, child.res_r}
        status_raw = rusage = None
        exit_code = sig = None
        cpu_ms = None
        cpu_over = False
        cpu_budget_ms = float(limits["cpu_seconds"]) * 1000

        def take(fd: int, chunk: bytes) -> None:
            nonlocal out_over, res_over
            if fd == child.out_r:
                room = out_cap - len(out)
                out.extend(chunk[:max(room, 0)])
                if len(chunk) > room and not out_over:
                    out_over = True
                    self.kill(child)
            else:
                room = res_cap - len(res)
                res.extend(chunk[:max(room, 0)])
                if len(chunk) > room and not res_over:
                    res_over = True
                    self.kill(child)

        try:
            poller = select.poll()
            for fd in (*open_fds, pidfd):
                poller.register(fd, select.POLLIN)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 and not timed_out:
                    timed_out = True
                    self.kill(child)
                if not (timed_out or cpu_over or out_over or res_over):
                    used = proc_cpu_ms(child.pid)
                    if used is not None and cpu_start is not None and \
                            used - cpu_start >= cpu_budget_ms:
                        cpu_over = True
                        self.kill(child)
                # wake at least every 100 ms to look at the CPU clock
                wait = min(max(0.0, left), 0.1) if not timed_out else 1.0
                events = poller.poll(wait * 1000)
                for fd, _ in events:
                    if fd == pidfd:
                        continue
                    try:
                        chunk = os.read(fd, 1 << 16)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        poller.unregister(fd)
                        open_fds.discard(fd)
                        continue
                    take(fd, chunk)
                if (not open_fds and not (out_over or res_over or timed_out or cpu_over)
                        and frame_complete(res)):
                    # The harness returned and the run closed its output: answer now, and
                    # let the process exit (and be reaped) after the answer is sent.
                    exit_code = 0
                    cpu_ms = proc_cpu_ms(child.pid)
                    break
                if any(fd == pidfd for fd, _ in events) or (timed_out and not events):
                    try:
                        wpid, status_raw, rusage = os.wait4(child.pid, os.WNOHANG)
                    except ChildProcessError:
                        wpid = child.pid
                    if wpid == child.pid:
                        child.reaped = True
                        break
            if child.reaped:
                # The run is dead and its namespace with it: drain what is left.
                for fd in list(open_fds):
                    while True:
                        try:
                            chunk = os.read(fd, 1 << 16)
                        except OSError:
                            break
                        if not chunk:
                            break
                        take(fd, chunk)
        finally:
            os.close(pidfd)
        duration_ms = (time.monotonic() - t0) * 1000
        if status_raw is not None:
            if os.WIFEXITED(status_raw):
                exit_code = os.WEXITSTATUS(status_raw)
            elif os.WIFSIGNALED(status_raw):
                sig = os.WTERMSIG(status_raw)
        if rusage is not None:
            cpu_ms = (rusage.ru_utime + rusage.ru_stime) * 1000
        oom = child.cgroup.oom_killed() if child.cgroup is not None else False
        mem_peak = child.cgroup.peak() if child.cgroup is not None else None
        if mem_peak is None and rusage is not None:
            mem_peak = rusage.ru_maxrss * 1024
        return self.classify(limits, bytes(out), bytes(res), out_over, res_over, timed_out,
                             oom, exit_code, sig, cpu_ms, duration_ms, mem_peak, cpu_over)

    def kill(self, child: Waiting) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        if child.cgroup is not None:
            child.cgroup.kill_all()

    def classify(self, limits: dict[str, Any], out: bytes, res: bytes, out_over: bool,
                 res_over: bool, timed_out: bool, oom: bool, exit_code: int | None,
                 sig: int | None, cpu_ms: float | None, duration_ms: float,
                 mem_peak: int | None, cpu_over: bool = False
                 ) -> tuple[dict[str, Any], bytes, bytes]:
        """Map how the run ended to (status, reason, message). `reason` is a stable code
        (with `detail`) for callers that phrase their own messages (e.g. translated)."""
        extra = {"exit_code": exit_code, "signal": sig, "duration_ms": duration_ms,
                 "cpu_ms": cpu_ms, "memory_peak_bytes": mem_peak}
        truncated = out_over
        if out_over:
            out += MARKER.format(limit=fmt_bytes(limits["output_bytes"])).encode()
        kind, body = None, b""
        if len(res) >= FRAME.size and not res_over:
            kind, size = FRAME.unpack(res[:FRAME.size])
            body = res[FRAME.size:]
            if size != len(body):
                kind = b"?"
        elif res:
            kind = b"?"
        cpu_limit = float(limits["cpu_seconds"])

        def rep(status: str, reason: str, message: str = "", **detail: Any
                ) -> tuple[dict[str, Any], bytes, bytes]:
            r = self.report(status, message=message, truncated=truncated, **extra)
            r["reason"], r["detail"] = reason, detail
            return r, (body if status == "ok" else b""), out

        if out_over:
            return rep("output_limit", "output", (
                f"Your code printed more than {fmt_bytes(limits['output_bytes'])}; "
                "it was stopped and the output cut."), limit=limits["output_bytes"])
        if res_over:
            return rep("output_limit", "result_size", (
                f"The result is larger than {fmt_bytes(limits['result_bytes'])}."),
                limit=limits["result_bytes"])
        if timed_out:
            return rep("timeout", "wall_time", (
                f"Wall-clock time limit of {limits['wall_seconds']:g} s exceeded: the code "
                "was still running (an endless loop, or waiting on something?)."),
                limit=limits["wall_seconds"])
        if cpu_over:
            return rep("timeout", "cpu_time", f"CPU time limit of {cpu_limit:g} s exceeded.",
                       limit=cpu_limit)
        if kind == protocol.KIND_RESULT and exit_code == 0:
            return rep("ok", "ok")
        if kind == protocol.KIND_LAYER:
            text = body.decode("utf-8", "replace")
            return rep("refused", "layer", text, layer=text.split("'")[1] if "'" in text else "")
        if kind == protocol.KIND_MEMORY and body == b"gpu":
            share = float(limits.get("gpu_memory_fraction", 0))
            return rep("memory_limit", "gpu_memory", (
                f"GPU memory limit exceeded (a run may use {share:.0%} of the card)."),
                limit=share)
        if oom or kind == protocol.KIND_MEMORY:
            return rep("memory_limit", "memory", (
                f"Memory limit of {fmt_bytes(limits['memory_bytes'])} exceeded."),
                limit=limits["memory_bytes"])
        # Nobody here sent that SIGKILL and the run (PID 1 of its namespace) cannot get
        # one from inside: it is the kernel enforcing RLIMIT_CPU (the backstop under the
        # warm parent's own CPU check; tick accounting may show a little less).
        if sig in (signal.SIGKILL, signal.SIGXCPU) and cpu_ms is not None and (
                sig == signal.SIGXCPU or cpu_ms >= cpu_limit * 1000 * 0.5):
            return rep("timeout", "cpu_time", f"CPU time limit of {cpu_limit:g} s exceeded.",
                       limit=cpu_limit)
        tail = last_lines(out)
        suffix = ("\nLast output:\n" + tail) if tail else ""
        if sig == signal.SIGXFSZ:
            return rep("crashed", "file_size", (
                f"A file grew past the limit of {fmt_bytes(limits['file_size_bytes'])}."
                + suffix), limit=limits["file_size_bytes"])
        if kind == protocol.KIND_ERROR:
            return rep("crashed", "harness_error", "The run failed inside the harness:\n"
                       + body.decode("utf-8", "replace")[-2000:] + suffix)
        if kind == protocol.KIND_EXIT:
            code = body.decode("utf-8", "replace")
            return rep("crashed", "system_exit", (
                f"The code called exit() (SystemExit {code}) before the run finished."
                + suffix), code=code)
        if kind == protocol.KIND_RESULT:
            return rep("crashed", "unclean_exit",
                       "The run produced a result but did not exit cleanly." + suffix)
        if kind == b"?":
            return rep("crashed", "malformed_result", (
                "The run sent a malformed result (was something else written to its pipe?)."
                + suffix))
        if sig is not None:
            return rep("crashed", "signal", (
                f"The run was killed by signal {sig} ({signal_name(sig)}) before finishing."
                + suffix), signal=sig, name=signal_name(sig), last_output=tail)
        return rep("crashed", "exit", (
            f"The run exited with code {exit_code} before finishing." + suffix),
            code=exit_code, last_output=tail)

    @staticmethod
    def report(status: str, *, message: str = "", truncated: bool = False,
               **extra: Any) -> dict[str, Any]:
        base = {"exit_code": None, "signal": None, "duration_ms": 0.0, "cpu_ms": None,
                "memory_peak_bytes": None}
        base.update(extra)
        return {"status": status, "message": message, "output_truncated": truncated, **base}

    # -- main loop --------------------------------------------------------------------------
    def serve(self, rfd: int, wfd: int) -> None:
        hello = {"ready": True, "layers": self.host.layers, "refused": self.host.refused,
                 "pid": os.getpid()}
        if not self.host.refused:
            try:
                self.refill()
            except OSError as exc:
                self.host.refused = f"cannot start a sandboxed child: {exc}"
            else:
                # Prove the layers now: a child that cannot isolate refuses at startup.
                first = self.waiting[0]
                ready = self.read_ready(first, timeout=60.0)
                first.ready = ready
                if not ready.get("ok"):
                    self.host.refused = (f"sandbox layer '{ready.get('layer')}' failed: "
                                         f"{ready.get('error')}")
                    self.discard(self.waiting.pop(0))
                else:
                    self.host.layers.update(ready.get("layers", {}))
            hello["refused"] = self.host.refused
            hello["layers"] = self.host.layers
        protocol.send_message(wfd, hello)
        if self.host.refused:
            return
        while True:
            try:
                header = protocol.recv_header(rfd)
            except EOFError:
                return
            payload = protocol.read_exact(rfd, int(header["payload"]))
            files = [(str(name), protocol.read_exact(rfd, int(size)))
                     for name, size in header["files"]]
            try:
                rep, result, out = self.run(header, payload, files)
            except Exception as exc:
                # Our fault, not the student's: the pool raises SandboxError (the worker
                # retries) and replaces this warm parent.
                protocol.send_message(wfd, {"internal_error": repr(exc)})
                raise
            rep["result"] = len(result) if rep["status"] == "ok" else None
            rep["output"] = len(out)
            rep["timings"] = {k: round(v, 2) for k, v in self.timings.items()}
            self.timings = {}
            protocol.send_message(wfd, rep, result if rep["status"] == "ok" else b"", out)
            self.reap_pending(block=False)
            # Fork replacements while idle, but a job that is already waiting (and a child
            # ready for it) goes first.
            while len(self.waiting) < self.prefork:
                if self.waiting and select.select([rfd], [], [], 0)[0]:
                    break
                self.waiting.append(self.spawn())
            # Wait for the next job; meanwhile reap finished runs as they exit.
            while self.pending:
                r, _, _ = select.select([rfd], [], [], 0.005)
                self.reap_pending(block=False)
                if r:
                    break

    def shutdown(self) -> None:
        self.reap_pending()
        for child in self.waiting:
            self.discard(child)
        self.waiting.clear()
        self.host.cleanup()


def frame_complete(res: bytes | bytearray) -> bool:
    if len(res) < FRAME.size:
        return False
    _, size = FRAME.unpack(bytes(res[:FRAME.size]))
    return len(res) == FRAME.size + size


def proc_cpu_ms(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def last_lines(out: bytes, n: int = 8) -> str:
    text = out.decode("utf-8", "replace").rstrip("\n")
    return "\n".join(text.splitlines()[-n:])


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return "unknown"


def main() -> None:
    cfg = protocol.recv_header(0)
    # Die with the worker that started us (and never outlive it into a re-parented life).
    from sandbox import sysapi

    sysapi.prctl(sysapi.PR_SET_PDEATHSIG, signal.SIGKILL)
    if cfg.get("parent_pid") and os.getppid() != cfg["parent_pid"]:
        sys.exit("sandbox warm parent: the worker that started it is gone")
    # The pool's stdin/stdout are the control channel; move them off 0/1 so nothing the
    # libraries print can corrupt the protocol, and so children never get them by accident.
    rfd = os.dup(0)
    wfd = os.dup(1)
    for fd in (rfd, wfd):
        os.set_inheritable(fd, False)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints from imports go to the worker's log
    os.close(devnull)
    for path in reversed(cfg.get("pythonpath", [])):
        sys.path.insert(0, path)
    # One thread: set before torch/numpy load their thread pools.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    import importlib

    for name in cfg.get("preload", ["numpy", "pandas", "torch"]):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            print(f"sandbox warm parent: cannot preload {name}: {exc}", file=sys.stderr)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(1)
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    try:
        zygote = Zygote(cfg)
    except Exception as exc:
        protocol.send_message(wfd, {"ready": True, "layers": {},
                                    "refused": f"warm parent failed to start: {exc!r}"})
        raise
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        zygote.serve(rfd, wfd)
    except (BrokenPipeError, EOFError):
        pass
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
    finally:
        zygote.shutdown()


if __name__ == "__main__":
    main()
