"""Everything that happens between fork and the harness call, plus the host probe.

Per run there is one fork. The warm parent unshares its pid namespace *for children*,
forks, and steps back (setns): the child is PID 1 of a fresh pid namespace, so when it
exits the kernel kills everything left in it, daemons included. The child unshares the
network, mount, IPC and UTS namespaces and joins its own cgroup.

Before its job arrives the child mounts a fresh /proc, pivots into the minimal read-only
root the warm parent built once, and drops the old root; it then says "ready" on its
socket to the warm parent and waits (warming up first if the warm parent says that no job
is queued). The job arrives as three file descriptors on that
socket (the job's memfd, the output pipe, the result pipe), sent by the pool through the
warm parent, which never reads them. The child then mounts the size-capped working tmpfs,
sets rlimits, moves its output onto the capture pipe, drops to an unprivileged uid with no
capabilities, sets NO_NEW_PRIVS, applies Landlock and the seccomp filter, writes the
exercise's files and only then calls the harness."""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import signal
import stat
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from sandbox import landlock, protocol, sysapi
from sandbox.cgroups import Cgroup, Manager

UID_BASE = 2_000_000_000  # + the run's pid outside its namespace: unique per live run
WORKDIR = "/sandbox"
STATE_ROOT = "/run/pytorch-sandbox"
REQUIRED = ("namespaces", "mount", "uid", "cgroup", "seccomp", "rlimits")
# Relocated fd numbers in the run, so nothing else of the warm parent's survives. FD_SOCK
# (to the warm parent) is the only one while the child waits; the job brings the others.
FD_SOCK, FD_JOB, FD_OUT, FD_RES = 100, 101, 102, 103
# The warm parent's "nothing is queued: warm up now" to a waiting child (the job is b"J").
WARM_UP = b"W"
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
           "urandom": (1, 9)}


class LayerError(Exception):
    def __init__(self, layer: str, error: BaseException | str) -> None:
        super().__init__(f"{layer}: {error}")
        self.layer = layer
        self.error = str(error)


class Host:
    """What this host can do, decided once in the warm parent."""

    def __init__(self) -> None:
        self.layers: dict[str, str] = {}
        self.refused: str | None = None
        self.device = "cpu"
        self.strict = True
        self.root = os.geteuid() == 0
        self.ns = self.mount = self.setuid = False
        self.cgroups: Manager | None = None
        self.seccomp: Any = None
        self.landlock_abi = 0
        self.cap_last = 40
        self.statedir = ""
        self.newroot = ""
        self.binds: list[str] = []
        self.mkdirs: list[str] = []
        self.symlinks: list[tuple[str, str]] = []
        self.ldcache = b""
        self.gpu_nodes: list[tuple[str, int]] = []
        self.pidns_fd = -1

    @classmethod
    def probe(cls, *, device: str, strict: bool, workdir: str | None = None,
              simulate_missing: tuple[str, ...] = ()) -> Host:
        """`simulate_missing` (tests of the fail-closed path only) turns layers off as if
        the host lacked them: "root", "cgroup", "seccomp", "landlock"."""
        h = cls()
        h.device, h.strict = device, strict
        if "root" in simulate_missing:
            h.root = False
        sysapi.prctl(sysapi.PR_SET_CHILD_SUBREAPER, 1)
        root = workdir or STATE_ROOT
        if not workdir and not os.access(os.path.dirname(STATE_ROOT), os.W_OK):
            import tempfile  # not root (development): somewhere this user may write

            root = os.path.join(tempfile.gettempdir(), f"pytorch-sandbox-{os.getuid()}")
        h.statedir = os.path.join(root, f"z{os.getpid()}")
        os.makedirs(h.statedir, mode=0o700, exist_ok=True)
        h.newroot = os.path.join(h.statedir, "root")
        os.makedirs(h.newroot, mode=0o700, exist_ok=True)
        if h.root:
            h.ns = h.mount = h.setuid = True
            h.layers.update(namespaces="on (pid, mount, ipc, uts per run; one empty network "
                                       "namespace per warm parent)",
                            mount="on (pivot_root into a read-only minimal root)",
                            uid="on (per-run uid, no capabilities)")
        else:
            why = f"off: needs root (the warm parent runs as uid {os.geteuid()})"
            h.layers.update(namespaces=why, mount=why, uid=why)
        h._sweep_stale_statedirs()
        try:
            if not h.root or "cgroup" in simulate_missing:
                raise OSError("needs root" if not h.root else "simulated for a test")
            h.cgroups = Manager()
            h.cgroups.sweep_stale()
            h.layers["cgroup"] = (f"on (v{h.cgroups.version}, memory + pids"
                                  + (" + cpu quota)" if h.cgroups.cpu else ")"))
        except OSError as exc:
            h.layers["cgroup"] = f"off: {exc}"
        try:
            if "seccomp" in simulate_missing:
                raise OSError("simulated for a test")
            from sandbox.seccomp import Filter

            h.seccomp = Filter()
            h.layers["seccomp"] = "on (deny list, EPERM)"
        except OSError as exc:
            h.layers["seccomp"] = f"off: {exc}"
        h.landlock_abi = 0 if "landlock" in simulate_missing else landlock.abi_version()
        h.layers["landlock"] = (f"on (ABI {h.landlock_abi})" if h.landlock_abi
                                else "off: the kernel has no Landlock (optional layer)")
        h.layers["rlimits"] = "on"
        with contextlib.suppress(OSError, ValueError):
            h.cap_last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
        h._plan_root()
        if device == "gpu":
            h.gpu_nodes = [(p.name, p.stat().st_rdev) for p in sorted(Path("/dev").glob("nvidia*"))
                           if stat.S_ISCHR(p.stat().st_mode)]
            h.layers["gpu"] = ("on (" + ", ".join(n for n, _ in h.gpu_nodes) + ")"
                               if h.gpu_nodes else "off: no /dev/nvidia* device nodes")
        missing = [k for k in REQUIRED if not h.layers.get(k, "").startswith("on")]
        if device == "gpu" and not h.gpu_nodes:
            missing.append("gpu")
        if missing and strict:
            h.refused = ("the sandbox refuses to run student code: missing isolation layer(s) "
                         + "; ".join(f"{k} ({h.layers.get(k)})" for k in missing)
                         + ". Set SANDBOX_ALLOW_UNSAFE=1 only on a development machine.")
        return h

    def _plan_root(self) -> None:
        """Which host folders the run's root shows (read-only), under their own paths."""
        binds: list[str] = []
        for d in ("/usr/lib", "/usr/lib64", "/usr/lib32"):
            if os.path.isdir(d) and not os.path.islink(d):
                binds.append(d)
        for top in ("/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"):
            if os.path.islink(top):
                self.symlinks.append((top, os.readlink(top)))
            elif os.path.isdir(top):
                binds.append(top)
        extra = [sys.base_prefix, sys.prefix]
        if self.device == "gpu":
            # the driver's libraries, wherever this host keeps them
            extra += [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
            extra += [str(p) for p in Path("/usr/local").glob("nvidia")]
            extra += [str(p) for p in Path("/usr/local").glob("cuda*")]
        for prefix in sorted({os.path.realpath(p) for p in extra if os.path.isdir(p)}):
            if not any(prefix == b or prefix.startswith(b + "/") for b in binds):
                binds.append(prefix)
        self.binds = binds
        dirs = {"/etc", "/dev", "/proc", WORKDIR, "/usr"}
        for b in binds:
            parent = os.path.dirname(b)
            while parent not in ("/", ""):
                dirs.add(parent)
                parent = os.path.dirname(parent)
        self.mkdirs = sorted(dirs)
        with contextlib.suppress(OSError):
            self.ldcache = Path("/etc/ld.so.cache").read_bytes()

    def _sweep_stale_statedirs(self) -> None:
        import shutil

        from sandbox.cgroups import _alive

        parent = Path(self.statedir).parent
        for d in parent.glob("z*"):
            if str(d) != self.statedir and not _alive(d.name[1:]):
                shutil.rmtree(d, ignore_errors=True)

    def new_cgroup(self) -> Cgroup | None:
        return self.cgroups.new() if self.cgroups else None

    def workdir_for(self, outer_pid: int) -> str:
        return WORKDIR if self.mount else os.path.join(self.statedir, f"work-{outer_pid}")

    def cleanup(self) -> None:
        if self.cgroups:
            self.cgroups.cleanup()
        import shutil

        if self.mount:
            with contextlib.suppress(OSError):
                sysapi.umount2(self.newroot, sysapi.MNT_DETACH)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.statedir)


# ---------------------------------------------------------------- in the warm parent
def setup_parent(host: Host) -> None:
    """Once, in the warm parent: an empty network namespace the runs share, and a private
    mount namespace holding the run's root, built once (tmpfs + read-only binds), so each
    run only mounts /proc and pivots into it."""
    if host.ns:
        # One empty network namespace for this warm parent and every run it forks, made
        # once: it holds no per-run state (no interface is up, and socket() is refused by
        # seccomp, so runs cannot reach each other through it), while a namespace per run
        # cost ~0.5 ms of kernel time to create and tear down. The pool's control socket is
        # a socketpair made before, so it keeps working.
        try:
            sysapi.unshare(sysapi.CLONE_NEWNET)
        except OSError as exc:
            raise LayerError("namespaces", exc) from exc
    if not host.mount:
        return
    try:
        sysapi.unshare(sysapi.CLONE_NEWNS)
        sysapi.mount(None, "/", None, sysapi.MS_REC | sysapi.MS_PRIVATE)
        _build_template(host)
        host.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise LayerError("mount", exc) from exc


def _build_template(host: Host) -> None:
    R = host.newroot
    sysapi.mount("tmpfs", R, "tmpfs", sysapi.MS_NOSUID, "size=4m,nr_inodes=4096,mode=0755")
    for d in host.mkdirs:
        os.makedirs(R + d, mode=0o755, exist_ok=True)
    os.makedirs(R + "/.old", mode=0o700, exist_ok=True)
    for link, target in host.symlinks:
        os.symlink(target, R + link)
    ro = sysapi.MS_REMOUNT | sysapi.MS_BIND | sysapi.MS_RDONLY | sysapi.MS_NOSUID | sysapi.MS_NODEV
    for src in host.binds:
        os.makedirs(R + src, mode=0o755, exist_ok=True)
        sysapi.mount(src, R + src, None, sysapi.MS_BIND | sysapi.MS_REC)
        sysapi.mount(None, R + src, None, ro)
    etc = R + "/etc/"
    if host.ldcache:
        Path(etc + "ld.so.cache").write_bytes(host.ldcache)
    Path(etc + "hostname").write_text("sandbox\n")
    dev = R + "/dev/"
    nodes = [(n, os.makedev(*mm)) for n, mm in DEVICES.items()]
    if host.device == "gpu":
        nodes += host.gpu_nodes
    for name, rdev in nodes:
        os.mknod(dev + name, stat.S_IFCHR | 0o666, rdev)
        os.chmod(dev + name, 0o666)
    os.symlink("/proc/self/fd", dev + "fd")
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", dev + name)
    # /tmp points at the working folder, unless a bound folder lives under /tmp (a checkout
    # in /tmp brings its venv there): then /tmp stays a read-only parent and TMPDIR serves.
    if not os.path.lexists(R + "/tmp"):
        os.symlink(WORKDIR, R + "/tmp")
    sysapi.mount(None, R, None, sysapi.MS_REMOUNT | sysapi.MS_RDONLY | sysapi.MS_NOSUID)


def fork_isolated(host: Host, keep: dict[str, int], cgroup: Cgroup | None,
                  cfg: dict[str, Any]) -> int:
    """One fork. The warm parent unshares its pid namespace *for children* just before,
    so the child is PID 1 of a fresh one, then steps back into its own (setns); the
    child makes its own mount, network, IPC and UTS namespaces.

    glibc's fork, not os.fork: the warm parent is single-threaded and holds no Python
    lock here, so CPython's after-fork work (its modules' hooks: threading, logging,
    random, ...) is ~1 ms of pure cost per run. The harness seeds `random` itself."""
    if host.ns:
        try:
            sysapi.unshare(sysapi.CLONE_NEWPID)
        except OSError as exc:
            raise LayerError("namespaces", exc) from exc
    try:
        pid = sysapi.fork_without_python_hooks()
    except BaseException:
        if host.ns:
            sysapi.setns(host.pidns_fd, sysapi.CLONE_NEWPID)
        raise
    if pid == 0:
        # Never return into the warm parent's code from here, whatever happens.
        try:
            if "torch" in sys.modules:
                # The one at-fork hook a run needs (torch's own, gh-28389): OpenMP set up
                # in this process. Without it a run costs ~1 ms more, not less.
                sys.modules["torch"].get_num_threads()
            _relocate_fds(keep)
            if cgroup is not None:
                # Joining a cgroup waits for an RCU grace period (ms): let the child pay it,
                # off the warm parent's clock. It joins before it does anything else.
                try:
                    cgroup.add(0)
                except OSError as exc:
                    raise LayerError("cgroup", exc) from exc
            _child(host, cfg)
        except LayerError as exc:
            _ctl(FD_SOCK, {"ok": False, "layer": exc.layer, "error": exc.error})
        except BaseException as exc:
            _ctl(FD_SOCK, {"ok": False, "layer": "startup",
                          "error": "".join(traceback.format_exception_only(exc)).strip()})
        finally:
            os._exit(70)
    if host.ns:
        sysapi.setns(host.pidns_fd, sysapi.CLONE_NEWPID)
    return pid


def _ctl(fd: int, msg: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        protocol.write_all(fd, json.dumps(msg).encode() + b"\n")


def _relocate_fds(keep: dict[str, int]) -> None:
    """Only the run's own socket survives, at a fixed number; 0-2 become /dev/null."""
    targets = {"sock": FD_SOCK}
    for name, fd in keep.items():
        os.dup2(fd, targets[name] + 50)  # out of the way first, then to the final number
    for name in keep:
        os.dup2(targets[name] + 50, targets[name])
        os.close(targets[name] + 50)
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    keepers = sorted(targets.values())
    os.closerange(3, keepers[0])
    sysapi.close_range(keepers[-1] + 1)


def _receive_job(cfg: dict[str, Any]) -> tuple[dict[str, Any], bytes, list[tuple[str, bytes]]]:
    """Wait for the job's descriptors (memfd, output pipe, result pipe) on our socket, put
    them at their fixed numbers and read the job from the memfd. Before it, the warm parent
    may send WARM_UP (nothing else is waiting): then warm up and keep waiting."""
    import socket

    sock = socket.socket(fileno=FD_SOCK)
    try:
        while True:
            # One byte at a time: the job's byte carries the descriptors.
            msg, fds, _, _ = socket.recv_fds(sock, 1, 4)
            if msg != WARM_UP or fds:
                break
            _warm_up(cfg)
    finally:
        sock.close()  # nothing of ours goes to the warm parent after this
    if not msg or len(fds) != 3:
        os._exit(0)  # the warm parent went away (or sent nonsense): nothing to run
    for fd, target in zip(fds, (FD_JOB, FD_OUT, FD_RES), strict=True):
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)
    os.lseek(FD_JOB, 0, os.SEEK_SET)
    header = protocol.recv_header(FD_JOB)
    payload = protocol.read_exact(FD_JOB, int(header["payload"]))
    files = [(str(n), protocol.read_exact(FD_JOB, int(s))) for n, s in header["files"]]
    os.close(FD_JOB)
    return header, payload, files


# ---------------------------------------------------------------- in the run
def _child(host: Host, cfg: dict[str, Any]) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    os.setsid()
    os.umask(0o022)
    outer = int(os.readlink("/proc/self"))  # the host /proc is still ours: pid outside
    uid = UID_BASE + outer if host.setuid else os.getuid()
    layers: dict[str, str] = {}
    if host.ns:
        try:
            # The network namespace is the warm parent's own empty one (setup_parent);
            # mount, IPC (SysV objects) and UTS are per run.
            sysapi.unshare(sysapi.CLONE_NEWNS | sysapi.CLONE_NEWIPC | sysapi.CLONE_NEWUTS)
            sysapi.libc.sethostname(b"sandbox", 7)
        except OSError as exc:
            raise LayerError("namespaces", exc) from exc
        if os.getpid() != 1:
            raise LayerError("namespaces", "the run is not PID 1 of a new pid namespace")
    if host.device == "gpu":
        # CUDA is initialised here, in the run, never in the warm parent: after the
        # namespaces (so its threads share them) and before the pivot (the driver may
        # look at the host's /sys and /proc while it starts).
        try:
            import torch

            if host.ns:
                # The driver looks itself up in /proc by getpid(): give it this pid
                # namespace's /proc (the host's would show someone else as PID 1).
                sysapi.mount("proc", "/proc", "proc",
                             sysapi.MS_NOSUID | sysapi.MS_NODEV | sysapi.MS_NOEXEC)
            torch.cuda.init()
            a = torch.ones(64, 64, device="cuda")
            (a @ a).sum().item()  # loads the BLAS kernels now, not on the student's clock
            del a
            torch.cuda.empty_cache()
            layers["cuda"] = f"initialised in the run after fork ({torch.cuda.get_device_name()})"
        except Exception as exc:
            raise LayerError("gpu", f"CUDA failed to initialise in the child: {exc}") from exc
    if host.mount:
        try:
            _enter_root(host)
        except OSError as exc:
            raise LayerError("mount", exc) from exc
    _ctl(FD_SOCK, {"ok": True, "layers": layers})
    header, payload, files = _receive_job(cfg)
    _run_job(host, cfg, header["limits"], payload, files, uid, outer)


def _enter_root(host: Host) -> None:
    R = host.newroot
    sysapi.mount("proc", R + "/proc", "proc",
                 sysapi.MS_NOSUID | sysapi.MS_NODEV | sysapi.MS_NOEXEC)
    sysapi.pivot_root(R, R + "/.old")
    os.chdir("/")
    sysapi.umount2("/.old", sysapi.MNT_DETACH)


def _warm_up(cfg: dict[str, Any]) -> None:
    """While waiting for its job, touch what a run touches, so the copy-on-write page
    faults are paid here and not on the student's clock. Leaves no state behind.

    Only when the warm parent says nothing is queued (WARM_UP): under load the job is
    already waiting, the faults are paid either way, and the pages a warm-up touches that
    the run would not (~4 ms of CPU, a seventh of a small run) are pure cost."""
    warm = cfg.get("_warmup_fn")
    try:
        if "torch" in sys.modules:
            import torch

            a = torch.ones(4, 4, requires_grad=True)
            (a @ a).relu().sum().backward()
            del a
        if warm is not None:
            warm()
    except Exception:
        pass


def _vm_size() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _run_job(host: Host, cfg: dict[str, Any], limits: dict[str, Any], payload: bytes,
             files: list[tuple[str, bytes]], uid: int, outer: int) -> None:
    work = host.workdir_for(outer)
    try:
        if host.mount:
            disk = int(limits["disk_bytes"])
            inodes = max(64, min(100_000, disk // 4096))
            sysapi.mount("tmpfs", work, "tmpfs",
                         sysapi.MS_NOSUID | sysapi.MS_NODEV | sysapi.MS_NOEXEC,
                         f"size={disk},nr_inodes={inodes},mode=0700,uid={uid},gid={uid}")
        else:
            os.makedirs(work, mode=0o700, exist_ok=True)
            if host.setuid:
                os.chown(work, uid, uid)
    except OSError as exc:
        _die(f"sandbox layer 'mount' failed: working folder: {exc}")
    if host.device == "gpu":
        import torch

        torch.cuda.set_per_process_memory_fraction(float(limits["gpu_memory_fraction"]), 0)
    # rlimits: the floor under the cgroup
    used = resource.getrusage(resource.RUSAGE_SELF)
    # relative to what this process already used (warm-up, CUDA start-up)
    # The warm parent checks the run's CPU clock every 100 ms; this is the kernel's backstop
    # one second later. soft == hard: SIGKILL (SIGXCPU could be ignored; PID 1 ignores it).
    cpu = max(1, math.ceil(used.ru_utime + used.ru_stime + float(limits["cpu_seconds"])) + 1)
    rl = [(resource.RLIMIT_CPU, cpu, cpu),
          (resource.RLIMIT_NPROC, int(limits["processes"]), int(limits["processes"])),
          (resource.RLIMIT_FSIZE, int(limits["file_size_bytes"]),
           int(limits["file_size_bytes"])),
          (resource.RLIMIT_NOFILE, int(limits["open_files"]), int(limits["open_files"])),
          (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_MSGQUEUE, 0, 0),
          (resource.RLIMIT_RTPRIO, 0, 0)]
    if host.device != "gpu":  # CUDA reserves huge address ranges; the cgroup caps it there
        vm = _vm_size() + int(limits["memory_bytes"])
        rl.append((resource.RLIMIT_AS, vm, vm))
        rl.append((resource.RLIMIT_MEMLOCK, 0, 0))
    try:
        for what, soft, hard in rl:
            resource.setrlimit(what, (soft, hard))
    except (OSError, ValueError) as exc:
        _die(f"sandbox layer 'rlimits' failed: {exc}")
    os.dup2(FD_OUT, 1)
    os.dup2(FD_OUT, 2)
    os.close(FD_OUT)
    if host.setuid:
        try:
            for cap in range(host.cap_last + 1):
                sysapi.prctl(sysapi.PR_CAPBSET_DROP, cap)
            with contextlib.suppress(OSError):
                sysapi.prctl(sysapi.PR_CAP_AMBIENT, sysapi.PR_CAP_AMBIENT_CLEAR_ALL)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        except OSError as exc:
            _die(f"sandbox layer 'uid' failed: {exc}")
    # Credentials changed, so set this now: if the warm parent dies, the run dies.
    sysapi.prctl(sysapi.PR_SET_PDEATHSIG, signal.SIGKILL)
    sysapi.prctl(sysapi.PR_SET_NO_NEW_PRIVS, 1)
    if host.landlock_abi:
        devices = ["/dev/" + n for n in DEVICES]
        if host.device == "gpu":
            devices += ["/dev/" + n for n, _ in host.gpu_nodes]
        try:
            landlock.restrict(host.landlock_abi, read=["/"], write=[work], devices=devices)
        except OSError as exc:
            if host.strict:
                _die(f"sandbox layer 'landlock' failed: {exc}")
    if host.seccomp is not None:
        try:
            host.seccomp.install()
        except OSError as exc:
            _die(f"sandbox layer 'seccomp' failed: {exc}")
    os.chdir(work)
    for name, data in files:
        _write_file(work, name, data)
    os.environ.clear()
    os.environ.update(HOME=work, TMPDIR=work, PATH="/usr/bin:/bin", LANG="C.UTF-8",
                      USER="sandbox", LOGNAME="sandbox",
                      OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    import tempfile

    tempfile.tempdir = work
    sys.dont_write_bytecode = True
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                      closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace",  # noqa: SIM115
                      closefd=False, buffering=1)
    _call_harness(cfg["_harness_fn"], payload)


def _write_file(work: str, name: str, data: bytes) -> None:
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts:
        _die(f"refusing exercise file name {name!r}")
    path = os.path.join(work, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        protocol.write_all(fd, data)
    finally:
        os.close(fd)


def _die(message: str) -> NoReturn:
    """A layer failed after the job arrived: say so on the result pipe (status refused),
    never run the student's code."""
    with contextlib.suppress(OSError):
        body = message.encode()
        protocol.write_all(FD_RES, protocol.FRAME.pack(protocol.KIND_LAYER, len(body)) + body)
    os._exit(71)


def _call_harness(fn: Any, payload: bytes) -> None:
    kind, body = protocol.KIND_ERROR, b""
    try:
        out = fn(payload)
        if not isinstance(out, bytes | bytearray | memoryview):
            raise TypeError(f"the harness returned {type(out).__name__}, not bytes")
        kind, body = protocol.KIND_RESULT, bytes(out)
    except MemoryError:
        kind = protocol.KIND_MEMORY
    except SystemExit as exc:
        kind, body = protocol.KIND_EXIT, str(exc.code).encode()
    except BaseException as exc:
        text = "".join(traceback.format_exception(exc))
        if "CUDA out of memory" in text or "OutOfMemoryError" in text:
            kind, body = protocol.KIND_MEMORY, b"gpu"
        elif "can't allocate memory" in text or "out of memory" in text.lower():
            kind = protocol.KIND_MEMORY
        else:
            kind, body = protocol.KIND_ERROR, text.encode("utf-8", "replace")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # Output first, then the frame: once both pipes are closed the warm parent can answer
    # without waiting for this process to finish exiting.
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.close(fd)
    with contextlib.suppress(OSError):
        protocol.write_all(FD_RES, protocol.FRAME.pack(kind, len(body)) + body)
        os.close(FD_RES)
    os._exit(0)
