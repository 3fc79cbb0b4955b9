"""One cgroup per run for memory and pids, on cgroup v1 (memory + pids hierarchies) or v2
(one unified tree). The warm parent creates it, the run joins it before it forks, and the
warm parent reads the OOM counter and kills whatever is left afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

V1_ROOT = Path("/sys/fs/cgroup")
NAME = "pytorch-sandbox"
CPU_PERIOD_US = 100_000


def _write(path: Path, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def _read(path: Path) -> str:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return ""


def _alive(pid: str) -> bool:
    """Is pid a live warm parent? (A reused pid of something else counts as dead.)"""
    try:
        with open(f"/proc/{int(pid)}/cmdline", "rb") as fh:
            return b"sandbox.zygote" in fh.read()
    except (OSError, ValueError):
        return False


def _kv(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


class Cgroup:
    """Common interface; `dirs` are the per-run directories (one or two)."""

    version = 0

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs
        for d in dirs:
            d.mkdir()

    def add(self, pid: int) -> None:
        for d in self.dirs:
            _write(d / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for d in self.dirs:
            for line in _read(d / "cgroup.procs").split():
                found.add(int(line))
        return sorted(found)

    def kill_all(self) -> None:
        for _ in range(100):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.001)

    def destroy(self) -> bool:
        """Remove the run's directories. Its PID 1 has been reaped by now, and its pid
        namespace died with it, so they are usually empty: remove them at once, and read
        `cgroup.procs` and kill what is left only when the kernel refuses (EBUSY)."""
        ok = True
        killed = False
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if not killed:
                        self.kill_all()
                        killed = True
                    else:
                        time.sleep(0.002)
            else:
                ok = False
        return ok

    def set_limits(self, *, memory: int, pids: int, cpus: float | None = None) -> None:
        raise NotImplementedError

    def usage(self) -> int:
        return 0

    def oom_killed(self) -> bool:
        raise NotImplementedError

    def peak(self) -> int | None:
        return None


class CgroupV1(Cgroup):
    version = 1

    def set_limits(self, *, memory: int, pids: int, cpus: float | None = None) -> None:
        mem, pid_dir = self.dirs[0], self.dirs[1]
        _write(mem / "memory.limit_in_bytes", str(memory))
        with contextlib.suppress(OSError):  # only where swap accounting is on
            _write(mem / "memory.memsw.limit_in_bytes", str(memory))
        _write(pid_dir / "pids.max", str(pids))
        if cpus and len(self.dirs) > 2:
            _write(self.dirs[2] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(self.dirs[2] / "cpu.cfs_quota_us", str(max(1000, int(cpus * CPU_PERIOD_US))))

    def oom_killed(self) -> bool:
        ctl = _kv(_read(self.dirs[0] / "memory.oom_control"))
        if ctl.get("oom_kill", 0) > 0:
            return True
        # Older kernels have no oom_kill counter: hitting the limit is the best sign.
        return "oom_kill" not in ctl and _read(self.dirs[0] / "memory.failcnt").strip() not in (
            "", "0")

    def peak(self) -> int | None:
        raw = _read(self.dirs[0] / "memory.max_usage_in_bytes").strip()
        return int(raw) if raw.isdigit() else None

    def usage(self) -> int:
        raw = _read(self.dirs[0] / "memory.usage_in_bytes").strip()
        return int(raw) if raw.isdigit() else 0


class CgroupV2(Cgroup):
    version = 2
    cpu = False  # whether the cpu controller is enabled for run cgroups

    def set_limits(self, *, memory: int, pids: int, cpus: float | None = None) -> None:
        (d,) = self.dirs
        _write(d / "memory.max", str(memory))
        with contextlib.suppress(OSError):
            _write(d / "memory.swap.max", "0")
        _write(d / "pids.max", str(pids))
        if cpus and self.cpu:
            _write(d / "cpu.max", f"{max(1000, int(cpus * CPU_PERIOD_US))} {CPU_PERIOD_US}")

    def oom_killed(self) -> bool:
        return _kv(_read(self.dirs[0] / "memory.events")).get("oom_kill", 0) > 0

    def peak(self) -> int | None:
        raw = _read(self.dirs[0] / "memory.peak").strip()
        return int(raw) if raw.isdigit() else None

    def usage(self) -> int:
        raw = _read(self.dirs[0] / "memory.current").strip()
        return int(raw) if raw.isdigit() else 0

    def kill_all(self) -> None:
        kill = self.dirs[0] / "cgroup.kill"
        if kill.exists():
            with contextlib.suppress(OSError):
                _write(kill, "1")
        super().kill_all()


class Manager:
    """Finds the hierarchy, makes this warm parent's base folder, hands out run cgroups."""

    def __init__(self, root: Path = V1_ROOT, base: Path | None = None) -> None:
        self.root = root
        self.counter = 0
        tag = f"z{os.getpid()}"
        if (root / "memory" / "memory.limit_in_bytes").exists() and (
                root / "pids" / "cgroup.procs").exists():
            self.version = 1
            self.bases = [root / "memory" / NAME / tag, root / "pids" / NAME / tag]
            # the cpu controller caps a run's share of the cores (optional)
            self.cpu = (root / "cpu" / "cpu.cfs_quota_us").exists()
            if self.cpu:
                self.bases.append(root / "cpu" / NAME / tag)
            for b in self.bases:
                b.mkdir(parents=True, exist_ok=True)
        elif (root / "cgroup.controllers").exists():
            self.version = 2
            top = base or root / NAME
            self.cpu = "cpu" in _read(root / "cgroup.controllers").split()
            for d in (top.parent, top, top / tag):
                d.mkdir(exist_ok=True)
                self.cpu = self._enable(d, self.cpu)
            self.bases = [top / tag]
        else:
            raise OSError("no cgroup v1 memory+pids hierarchy and no cgroup v2 tree found "
                          f"under {root}")

    @staticmethod
    def _enable(d: Path, cpu: bool) -> bool:
        """Enable memory + pids (required) and cpu (optional) for d's children; return
        whether cpu is on."""
        def have() -> list[str]:
            return [c.lstrip("+") for c in _read(d / "cgroup.subtree_control").split()]

        want = [c for c in ("memory", "pids") if c not in have()]
        if want:
            _write(d / "cgroup.subtree_control", " ".join("+" + c for c in want))
        missing = [c for c in ("memory", "pids") if c not in have()]
        if missing:
            raise OSError(f"cgroup v2 controllers {missing} cannot be enabled in {d}")
        if cpu and "cpu" not in have():
            with contextlib.suppress(OSError):
                _write(d / "cgroup.subtree_control", "+cpu")
        return cpu and "cpu" in have()

    def sweep_stale(self) -> None:
        """Remove what warm parents that died without cleaning up (SIGKILL) left behind."""
        for base in self.bases:
            for d in base.parent.glob("z*"):
                if d == base or _alive(d.name[1:]):
                    continue
                for run in d.glob("r*"):
                    cg = (CgroupV1 if self.version == 1 else CgroupV2).__new__(
                        CgroupV1 if self.version == 1 else CgroupV2)
                    cg.dirs = [run]
                    cg.kill_all()
                    with contextlib.suppress(OSError):
                        run.rmdir()
                with contextlib.suppress(OSError):
                    d.rmdir()

    def new(self) -> Cgroup:
        self.counter += 1
        name = f"r{self.counter}"
        if self.version == 1:
            return CgroupV1([b / name for b in self.bases])
        cg = CgroupV2([self.bases[0] / name])
        cg.cpu = self.cpu
        return cg

    def cleanup(self) -> None:
        for b in self.bases:
            for d in sorted(b.glob("r*")):
                cg = (CgroupV1 if self.version == 1 else CgroupV2).__new__(
                    CgroupV1 if self.version == 1 else CgroupV2)
                cg.dirs = [d]
                cg.kill_all()
                with contextlib.suppress(OSError):
                    d.rmdir()
            with contextlib.suppress(OSError):
                b.rmdir()
