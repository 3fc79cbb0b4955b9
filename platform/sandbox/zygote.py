"""The warm parent: a separate program (never a fork of the worker) that imports torch,
numpy, pandas and the harness once, keeps pre-forked, pre-isolated children waiting, and
hands each one exactly one job, without ever touching the job itself.

Started by `SandboxPool` as `python -I -c "...zygote.main()" PLATFORM_DIR` with an almost
empty environment; its configuration is the first message on its control socket (fd 0 and
1, one UNIX stream socket). It is single-threaded on purpose: forking a process that has
run a multi-threaded op makes children hang.

**It never reads, holds or copies job data.** A child forked from it can read everything
it ever held (live objects, freed heap, stack frames, through /proc/self/mem), so the job
(a sealed memfd) and the run's output and result pipes travel as file descriptors: the pool
sends them here with SCM_RIGHTS, this process passes them on to a waiting child the same
way and closes its copies. The pool reads the output and result itself; this process only
supervises (wall clock, CPU clock, exit, cgroup counters) and reports those facts."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

from sandbox import protocol

# The fds a run request carries: the job memfd, the output pipe's and the result pipe's
# write ends (in this order).
RUN_FDS = 3


@dataclass
class Waiting:
    """A pre-forked run process, isolated as far as possible before its job arrives."""

    pid: int  # as seen by the warm parent
    sock: socket.socket | None  # readiness (child → us), then the job's fds (us → child)
    cgroup: Any = None
    ready: dict[str, Any] | None = None
    reaped: bool = False
    killed: bool = False
    warm_sent: bool = False  # told to warm up (the machine was idle)


class Zygote:
    def __init__(self, cfg: dict[str, Any]) -> None:
        from sandbox import isolation

        self.cfg = cfg
        self.iso = isolation
        self.device = cfg.get("device", "cpu")
        self.strict = bool(cfg.get("strict", True))
        self.prefork = max(1, int(cfg.get("prefork", 1)))
        self.refill_during_run = bool(cfg.get("refill_during_run", False))
        # How long no job must come before waiting children warm up (see warm_idle).
        self.warm_after_idle = float(cfg.get("warm_after_idle_ms", 20)) / 1000
        self.pressure = CpuPressure(threshold=float(cfg.get("warm_pressure", 0.1)))
        self.waiting: list[Waiting] = []
        self.timings: dict[str, float] = {}  # where the time of the last run went
        self.pending: list[Waiting] = []  # finished runs still to reap
        self.host = isolation.Host.probe(
            device=self.device, strict=self.strict, workdir=cfg.get("statedir"),
            simulate_missing=tuple(cfg.get("simulate_missing", ())))
        self.harness = self._load_harness(cfg["harness"])
        cfg["_harness_fn"] = self.harness
        harness_module = sys.modules[self.harness.__module__]
        cfg["_warmup_fn"] = getattr(harness_module, "warmup", None)
        # Lazy imports the harness knows runs will need, paid once here and shared by every
        # child (no job exists yet, so nothing of a run can be in them).
        # `prime_on_demand` only in warm parents that serve the jobs naming ON_DEMAND words
        # (sandbox/pool.py): what it imports, every fork and exit would pay for otherwise.
        primes = ["prime"] + (["prime_on_demand"] if cfg.get("on_demand", True) else [])
        for name in primes:
            prime = getattr(harness_module, name, None)
            if prime is None:
                continue
            try:
                prime()
            except Exception as exc:
                print(f"sandbox warm parent: harness {name} failed: {exc!r}", file=sys.stderr)
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
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        cgroup = self.host.new_cgroup()
        ready = None
        try:
            pid = self.iso.fork_isolated(self.host, {"sock": theirs.fileno()}, cgroup, self.cfg)
        except self.iso.LayerError as exc:
            pid, ready = -1, {"ok": False, "layer": exc.layer, "error": exc.error}
        theirs.close()
        return Waiting(pid=pid, sock=ours, cgroup=cgroup, ready=ready)

    def refill(self) -> None:
        while len(self.waiting) < self.prefork:
            self.waiting.append(self.spawn())

    def take(self) -> Waiting:
        if not self.waiting:  # only fork on the job's clock when nothing is waiting
            self.waiting.append(self.spawn())
        return self.waiting.pop(0)

    def read_ready(self, child: Waiting, timeout: float) -> dict[str, Any]:
        """The child reports 'ready' (or which layer failed) once it is isolated. This is
        the only thing a child ever sends us, and it is sent before any job exists."""
        if child.ready is not None:
            return child.ready
        assert child.sock is not None
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\n" not in buf and len(buf) < 65536:
            left = deadline - time.monotonic()
            if left <= 0:
                return {"ok": False, "layer": "startup", "error": "child not ready in time"}
            r, _, _ = select.select([child.sock], [], [], left)
            if not r:
                continue
            chunk = child.sock.recv(65536)
            if not chunk:
                return {"ok": False, "layer": "startup", "error": "child died during setup"}
            buf += chunk
        line = buf.split(b"\n", 1)[0]
        try:
            msg = json.loads(line)
        except ValueError:
            msg = {"ok": False, "layer": "startup", "error": "garbled readiness message"}
        return msg if isinstance(msg, dict) else {"ok": False, "error": "garbled"}

    def warm_idle(self, ctl: socket.socket) -> None:
        """Let waiting children warm up, but only while the CPU is to spare: when the
        machine is idle a warm-up moves page faults off the student's clock; when runs
        queue for the CPU the run would pay them anyway, and the pages a warm-up touches
        that the run does not are pure cost (~4 ms of CPU, a sixth of a small graded run).
        So: not when a job comes within `warm_after_idle`, nor while tasks wait for a
        CPU (the kernel's pressure figure). isolation.WARM_UP."""
        while any(not c.warm_sent for c in self.waiting):
            if select.select([ctl], [], [], self.warm_after_idle)[0]:
                return  # a job: it takes a child as it is
            if not self.pressure.busy():
                break
        for child in self.waiting:
            if child.warm_sent or child.sock is None:
                continue
            if select.select([ctl], [], [], 0)[0]:
                return
            child.ready = self.read_ready(child, timeout=30.0)
            if not child.ready.get("ok") or select.select([ctl], [], [], 0)[0]:
                return  # (a job arrived while the child was setting up: it goes cold)
            child.warm_sent = True
            with contextlib.suppress(OSError):  # it died; the run's checks say so
                child.sock.sendall(self.iso.WARM_UP)

    def discard(self, child: Waiting) -> None:
        if child.pid > 0 and not child.reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child.pid, 0)
        if child.sock is not None:
            child.sock.close()
            child.sock = None
        if child.cgroup is not None:
            child.cgroup.destroy()

    # -- one run ----------------------------------------------------------------------------
    def run(self, header: dict[str, Any], fds: list[int], ctl: socket.socket) -> dict[str, Any]:
        """Hand the job's descriptors to a waiting child, supervise it, return the facts of
        how it ended (no output, no result: those went to the pool)."""
        limits = header["limits"]
        t_take = time.monotonic()
        try:
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
            self.timings["warmed"] = float(child.warm_sent)
            if not ready.get("ok"):
                self.discard(child)
                for fd in fds:
                    os.close(fd)
                fds = []
                self.await_end(ctl)
                return {"refused": f"sandbox layer '{ready.get('layer')}' failed: "
                                   f"{ready.get('error')}", "layer": ready.get("layer")}
            if child.cgroup is not None:
                # The run may use memory_bytes beyond what it held while waiting (a few MiB
                # of warm-up on CPU; the CUDA context's host memory on a GPU).
                child.cgroup.set_limits(
                    memory=int(limits["memory_bytes"]) + child.cgroup.usage(),
                    pids=int(limits["processes"]), cpus=float(limits.get("cpus") or 0))
            cpu_start = proc_cpu_ms(child.pid)
            t0 = time.monotonic()
            assert child.sock is not None
            with contextlib.suppress(OSError):  # it died; the wait below says how
                socket.send_fds(child.sock, [b"J"], fds)
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        child.sock.close()
        child.sock = None
        if self.refill_during_run:
            # Fork the replacement now, while this run executes on another core.
            t_refill = time.monotonic()
            self.refill()
            self.timings["refill_ms"] = (time.monotonic() - t_refill) * 1000
        try:
            return self.supervise(child, limits, t0, cpu_start, ctl)
        finally:
            self.pending.append(child)  # reaped right after the answer is sent

    @staticmethod
    def await_end(ctl: socket.socket) -> dict[str, Any]:
        return protocol.recv_with_fds(ctl, 0)[0]

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
                  cpu_start: float | None, ctl: socket.socket) -> dict[str, Any]:
        """Enforce the wall clock and the CPU clock until the pool says the run's pipes are
        done ("end": complete, or kill on an output/result breach) and, unless the harness
        finished cleanly, until the run has exited."""
        deadline = t0 + float(limits["wall_seconds"])
        cpu_budget_ms = float(limits["cpu_seconds"]) * 1000
        timed_out = cpu_over = killed = False
        status_raw = rusage = None
        exit_code: int | None = None
        cpu_ms: float | None = None
        end: dict[str, Any] | None = None
        pidfd = os.pidfd_open(child.pid)
        try:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            poller.register(ctl.fileno(), select.POLLIN)
            while True:
                left = deadline - time.monotonic()
                if not child.reaped and not killed:
                    if left <= 0:
                        timed_out = killed = True
                        self.kill(child)
                    else:
                        used = proc_cpu_ms(child.pid)
                        if used is not None and cpu_start is not None and \
                                used - cpu_start >= cpu_budget_ms:
                            cpu_over = killed = True
                            self.kill(child)
                if end is not None:
                    if child.reaped:
                        break
                    if end.get("complete") and not killed:
                        # The harness returned and the run closed its pipes: answer now, and
                        # let the process exit (and be reaped) after the answer is sent.
                        exit_code = 0
                        cpu_ms = proc_cpu_ms(child.pid)
                        break
                # wake at least every 100 ms to look at the CPU clock
                wait = min(max(0.0, left), 0.1) if not killed else 1.0
                for fd, _ in poller.poll(wait * 1000):
                    if fd == pidfd:
                        try:
                            wpid, status_raw, rusage = os.wait4(child.pid, os.WNOHANG)
                        except ChildProcessError:
                            wpid = child.pid
                        if wpid == child.pid:
                            child.reaped = True
                            poller.unregister(pidfd)
                    elif end is None:
                        end = self.await_end(ctl)
                        poller.unregister(ctl.fileno())
                        if end.get("kill") and not killed and not child.reaped:
                            killed = True
                            self.kill(child)
        finally:
            os.close(pidfd)
        sig = None
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
        return {"timed_out": timed_out, "cpu_over": cpu_over, "oom": oom,
                "exit_code": exit_code, "signal": sig, "cpu_ms": cpu_ms,
                "duration_ms": (time.monotonic() - t0) * 1000, "memory_peak_bytes": mem_peak}

    def kill(self, child: Waiting) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
        if child.cgroup is not None:
            child.cgroup.kill_all()

    # -- main loop --------------------------------------------------------------------------
    def serve(self, ctl: socket.socket) -> None:
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
        protocol.send_message(ctl.fileno(), hello)
        if self.host.refused:
            return
        while True:
            self.warm_idle(ctl)
            try:
                header, fds = protocol.recv_with_fds(ctl, RUN_FDS)
            except EOFError:
                return
            try:
                if len(fds) != RUN_FDS or not isinstance(header.get("limits"), dict):
                    raise ValueError("a run request needs limits and three descriptors")
                facts = self.run(header, fds, ctl)
            except Exception as exc:
                # Our fault, not the student's: the pool raises SandboxError (the worker
                # retries) and replaces this warm parent.
                protocol.send_message(ctl.fileno(), {"internal_error": repr(exc)})
                raise
            facts["timings"] = {k: round(v, 2) for k, v in self.timings.items()}
            self.timings = {}
            protocol.send_message(ctl.fileno(), facts)
            self.reap_pending(block=False)
            # Fork replacements while idle, but a job that is already waiting (and a child
            # ready for it) goes first.
            while len(self.waiting) < self.prefork:
                if self.waiting and select.select([ctl], [], [], 0)[0]:
                    break
                self.waiting.append(self.spawn())
            # Wait for the next job; meanwhile reap finished runs as they exit.
            while self.pending:
                r, _, _ = select.select([ctl], [], [], 0.005)
                self.reap_pending(block=False)
                if r:
                    break

    def shutdown(self) -> None:
        self.reap_pending()
        for child in self.waiting:
            self.discard(child)
        self.waiting.clear()
        self.host.cleanup()


class CpuPressure:
    """Is the CPU contended right now? The share of the time since the last look (at
    least `window` s) during which some task was runnable but waiting for a CPU, from
    /proc/pressure/cpu (PSI). Without PSI the CPU never counts as contended."""

    def __init__(self, threshold: float = 0.1, window: float = 0.1) -> None:
        self.threshold, self.window = threshold, window
        self.last: tuple[float, int] | None = self._read()
        self.contended = False

    @staticmethod
    def _read() -> tuple[float, int] | None:
        try:
            with open("/proc/pressure/cpu") as fh:
                some = fh.readline().split()
            return time.monotonic(), int(some[-1].partition("=")[2])
        except (OSError, IndexError, ValueError):
            return None

    def busy(self) -> bool:
        now = self._read()
        if now is None or self.last is None:
            return False
        dt = now[0] - self.last[0]
        if dt >= self.window:
            self.contended = (now[1] - self.last[1]) / 1e6 / dt > self.threshold
            self.last = now
        return self.contended


def proc_cpu_ms(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def main() -> None:
    cfg = protocol.recv_header(0)
    # Die with the worker that started us (and never outlive it into a re-parented life).
    from sandbox import sysapi

    sysapi.prctl(sysapi.PR_SET_PDEATHSIG, signal.SIGKILL)
    if cfg.get("parent_pid") and os.getppid() != cfg["parent_pid"]:
        sys.exit("sandbox warm parent: the worker that started it is gone")
    # The pool's socket (our stdin and stdout) is the control channel; move it off 0/1 so
    # nothing the libraries print can corrupt the protocol, and so children never get it.
    ctl = socket.socket(fileno=os.dup(0))
    ctl.set_inheritable(False)
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
        protocol.send_message(ctl.fileno(), {"ready": True, "layers": {},
                                    "refused": f"warm parent failed to start: {exc!r}"})
        raise
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        zygote.serve(ctl)
    except (BrokenPipeError, EOFError, ConnectionResetError):
        pass  # the worker went (a reset: it left something of ours unread): nothing to say
    finally:
        zygote.shutdown()


if __name__ == "__main__":
    main()
