"""The attack suite: hostile code through the real sandbox (no layer disabled). Each case
asserts containment, not just the outcome, and a normal run must succeed right after."""

from __future__ import annotations

import ast
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sbhelpers import CANARY, HARNESS, HERE, assert_healthy, run, sandbox_processes

from sandbox import Job, Limits, SandboxPool

CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def healthy_after(pool: SandboxPool) -> Iterator[None]:
    yield
    assert sandbox_processes(pool) == [], "a sandboxed process outlived its run"
    assert_healthy(pool)


# ---------------------------------------------------------------- CPU, time, processes
def test_infinite_loop(pool: SandboxPool) -> None:
    rep = run(pool, "while True:\n    pass", cpu_seconds=1, wall_seconds=20)
    assert rep.status == "timeout", rep
    assert "CPU time limit of 1 s" in rep.message  # the CPU limit, not the wall clock
    assert rep.reason == "cpu_time"
    assert rep.duration_ms < 20000
    assert rep.cpu_ms is not None and rep.cpu_ms >= 900


def test_ignoring_sigxcpu(pool: SandboxPool) -> None:
    code = ("import signal\nfor s in (signal.SIGXCPU, signal.SIGTERM, signal.SIGINT):\n"
            "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass")
    rep = run(pool, code, cpu_seconds=1, wall_seconds=20)
    assert rep.status == "timeout", rep
    assert "CPU time limit of 1 s" in rep.message


def test_sleep_forever(pool: SandboxPool) -> None:
    rep = run(pool, "import select\nselect.select([], [], [])", wall_seconds=1)
    assert rep.status == "timeout"
    assert "Wall-clock" in rep.message
    assert rep.duration_ms < 6000  # killed at 1 s (generous: shared CI machines)


def test_fork_bomb_is_capped(pool: SandboxPool) -> None:
    code = ("import os, time\nn = 0\nerr = None\ntry:\n    while True:\n"
            "        if os.fork() == 0:\n            time.sleep(100)\n            os._exit(0)\n"
            "        n += 1\nexcept OSError as e:\n    err = type(e).__name__\n"
            "RESULT = f'{n} {err}'")
    rep = run(pool, code, processes=16)
    assert rep.status == "ok", rep
    n, err = rep.result.decode().split()
    assert int(n) < 16 and err == "BlockingIOError"
    # the sleeping children died with the run's pid namespace (checked by the fixture)


def test_real_fork_bomb(pool: SandboxPool) -> None:
    rep = run(pool, "import os\nwhile True:\n    try:\n        os.fork()\n"
                    "    except OSError:\n        pass", wall_seconds=2, cpu_seconds=2)
    assert rep.status in ("timeout", "crashed")
    assert rep.duration_ms < 10000  # the 2 s wall clock, with room for a loaded machine


def test_a_run_gets_its_share_of_the_cores_only(pool: SandboxPool) -> None:
    assert "cpu quota" in pool.layers["cgroup"]
    code = """
import os, time
kids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            pass
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
t = os.times()
RESULT = repr(t.children_user + t.children_system)
"""
    rep = run(pool, code, cpus=0.25, wall_seconds=20)
    assert rep.status == "ok", rep
    # three spinners for a second each would use up to 2 s of CPU on two cores; the quota
    # gives the whole run a quarter of one core
    assert float(rep.result) < 0.5


def test_thread_bomb_is_capped(pool: SandboxPool) -> None:
    code = ("import threading, time\nn = 0\ntry:\n    while True:\n"
            "        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n"
            "        n += 1\nexcept RuntimeError as e:\n    err = str(e)\n"
            "RESULT = f'{n}|{err}'")
    rep = run(pool, code, processes=16)
    assert rep.status == "ok", rep
    n, err = rep.result.decode().split("|")
    assert int(n) < 16
    assert "can't start new thread" in err


def test_setsid_daemon_does_not_outlive_the_run(pool: SandboxPool) -> None:
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        while True:\n            time.sleep(0.05)\n    os._exit(0)\n"
            "time.sleep(0.2)\nRESULT = str(len([p for p in os.listdir('/proc') if p.isdigit()]))")
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert int(rep.result) >= 2  # the daemon was running inside the run...
    assert sandbox_processes(pool) == []  # ...and is gone now


# ---------------------------------------------------------------- memory
@pytest.mark.parametrize("code", [
    "b = bytearray(4 * 1024**3)",
    "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024**2))",
    "import torch\nt = torch.ones(2 * 1024**3)",
    "import torch\nts = []\nwhile True:\n    ts.append(torch.ones(4 * 1024**2))",
    "import numpy as np\na = np.ones(10**10)",
], ids=["bytes-big", "bytes-gradual", "torch-big", "torch-gradual", "numpy-big"])
def test_memory_bombs(pool: SandboxPool, code: str) -> None:
    limit = 256 * 2**20
    rep = run(pool, code, memory_bytes=limit)
    assert rep.status == "memory_limit", rep
    assert "Memory limit of 256 MiB" in rep.message
    if rep.memory_peak_bytes is not None:
        assert rep.memory_peak_bytes <= limit + 8 * 2**20


# ---------------------------------------------------------------- output, disk
def test_stdout_flood(pool: SandboxPool) -> None:
    rep = run(pool, "while True:\n    print('x' * 1000)", output_bytes=4096)
    assert rep.status == "output_limit"
    assert rep.output_truncated
    assert len(rep.output.encode()) < 4096 + 200
    assert "output cut" in rep.output
    assert rep.duration_ms < 8000  # stopped at the cap, not at the 10 s wall clock


def test_raw_fd_flood_on_stderr(pool: SandboxPool) -> None:
    rep = run(pool, "import os\nwhile True:\n    os.write(2, b'y' * 65536)", output_bytes=8192)
    assert rep.status == "output_limit"
    assert len(rep.output.encode()) < 8192 + 200


def test_disk_fill_one_file(pool: SandboxPool) -> None:
    code = ("import os\nn = 0\ntry:\n    with open('big', 'wb') as f:\n        while True:\n"
            "            f.write(b'z' * 2**20)\n            f.flush()\n            n += 1\n"
            "except OSError as e:\n    err = e.strerror\n"
            "RESULT = f'{n}|{err}|{os.statvfs(\".\").f_blocks * os.statvfs(\".\").f_frsize}'")
    rep = run(pool, code, file_size_bytes=4 * 2**20, disk_bytes=16 * 2**20)
    assert rep.status == "ok", rep
    n, err, total = rep.result.decode().split("|")
    assert int(n) <= 4 and err == "File too large"
    rep = run(pool, code, file_size_bytes=64 * 2**20, disk_bytes=8 * 2**20)
    n, err, total = rep.result.decode().split("|")
    assert int(n) <= 8 and err == "No space left on device"
    assert int(total) <= 8 * 2**20  # the working folder is its own small tmpfs


def test_disk_fill_many_files(pool: SandboxPool) -> None:
    code = ("import os\nn = 0\ntry:\n    while True:\n        open(f'f{n}', 'w').close()\n"
            "        n += 1\nexcept OSError as e:\n    err = e.strerror\nRESULT = f'{n}|{err}'")
    rep = run(pool, code, disk_bytes=4 * 2**20, wall_seconds=20)
    assert rep.status == "ok", rep
    n, err = rep.result.decode().split("|")
    assert int(n) < 5000 and err == "No space left on device"


# ---------------------------------------------------------------- reading secrets
def test_etc_passwd_is_not_the_hosts(pool: SandboxPool) -> None:
    code = ("import os, getpass\nout = [sorted(os.listdir('/etc')), getpass.getuser()]\n"
            "for p in ('/etc/passwd', '/etc/shadow', '/etc/hosts'):\n    try:\n"
            "        out.append(open(p).read())\n    except OSError as e:\n"
            "        out.append(type(e).__name__)\nRESULT = repr(out)")
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert rep.result == repr([["hostname", "ld.so.cache"], "sandbox"] +
                              ["FileNotFoundError"] * 3).encode()


def test_checkout_settings_and_database_invisible(pool: SandboxPool) -> None:
    import sys

    assert (CHECKOUT / "platform").is_dir()
    code = (f"import os\nroot = {str(CHECKOUT)!r}\n"
            "RESULT = repr(sorted(os.listdir(root))) if os.path.isdir(root) else 'absent'\n"
            f"for p in ('platform/config/settings.py', 'db.sqlite3', 'manage.py', '.env'):\n"
            f"    assert not os.path.exists(os.path.join(root, p)), p\n")
    rep = run(pool, code)
    assert rep.status == "ok", rep
    # Only the virtual environment is bound (read-only), never the checkout around it.
    venv = os.path.realpath(sys.prefix)
    if venv.startswith(str(CHECKOUT) + "/"):
        assert rep.result == repr([venv[len(str(CHECKOUT)) + 1:].split("/")[0]]).encode()
    else:
        assert rep.result == b"absent"


# The virtual environment, bound read-only into every run (under /tmp or /work when the
# checkout is there). The walks below skip it: it is the Python installation, written before
# any run or secret existed, and reading its ~40,000 files from a cold page cache took a
# fresh clone's run past its wall limit.
VENV = os.path.realpath(sys.prefix) + "/"


def test_whole_filesystem_holds_no_secret(pool: SandboxPool) -> None:
    """Walk every readable file outside the Python installation and grep for secrets."""
    code = f"""
import os
hits = []
for top in ('/etc', '/proc', '/sandbox', '/dev', '/tmp', '/work'):
    for d, dirs, files in os.walk(top):
        if (d.startswith('/proc/') and not d[6:7].isdigit() and d != '/proc') \\
                or (d + '/').startswith({VENV!r}):
            dirs[:] = []
            continue
        for f in files:
            p = os.path.join(d, f)
            try:
                with open(p, 'rb') as fh:
                    if {CANARY.encode()!r} in fh.read(1 << 20):
                        hits.append(p)
            except OSError:
                pass
RESULT = repr(hits)
"""
    rep = run(pool, code, wall_seconds=30, cpu_seconds=20)
    assert rep.status == "ok", rep
    assert rep.result == b"[]"


def test_proc_environ_and_cmdline(pool: SandboxPool) -> None:
    code = """
import os
seen = []
for pid in os.listdir('/proc'):
    if pid.isdigit():
        for name in ('environ', 'cmdline'):
            try:
                seen.append(open(f'/proc/{pid}/{name}', 'rb').read())
            except OSError as e:
                seen.append(type(e).__name__.encode())
pids = sorted(p for p in os.listdir('/proc') if p.isdigit())
RESULT = b'|'.join(seen) + b'|' + repr(pids).encode()
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert CANARY.encode() not in rep.result
    assert b"SECRET" not in rep.result and b"REDIS" not in rep.result
    assert rep.result.endswith(b"['1']")  # only the run itself: its own pid namespace


def test_heap_hunt_with_gc(pool: SandboxPool) -> None:
    code = f"""
import gc, os, sys
def text(o):
    if isinstance(o, str):
        return o
    if isinstance(o, bytes):
        return o.decode('latin-1')
    return repr(o)
hits = [o for o in gc.get_objects()
        if isinstance(o, (str, bytes, dict)) and {CANARY!r} in text(o)]
mods = [m for m in sys.modules if m.split('.')[0] in ('django', 'celery', 'redis', 'kombu')]
RESULT = repr((len(hits), sorted(os.environ), mods))
"""
    rep = run(pool, code, wall_seconds=30, cpu_seconds=20)
    assert rep.status == "ok", rep
    hits, env, mods = eval(rep.result)  # our own test output, not student data
    assert hits == 0
    assert not {"DJANGO_SECRET_KEY", "SANDBOX_TEST_CANARY", "SANDBOX_TEST_SECRET_KEY"} & set(env)
    assert mods == []


# ---------------------------------------------------------------- network
class _Listener:
    def __init__(self, kind: str) -> None:
        self.hits: list[bytes] = []
        if kind == "tcp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.listen()
        elif kind == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.path = f"/tmp/sandbox-test-{os.getpid()}.sock"
            with __import__("contextlib").suppress(FileNotFoundError):
                os.unlink(self.path)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(self.path)
            os.chmod(self.path, 0o777)
            self.sock.listen()
        self.kind = kind
        self.sock.settimeout(0.2)
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        while not self.stop:
            try:
                if self.kind == "udp":
                    self.hits.append(self.sock.recv(100))
                else:
                    conn, _ = self.sock.accept()
                    self.hits.append(b"connection")
                    conn.close()
            except (TimeoutError, OSError):
                continue

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.mark.parametrize("kind", ["tcp", "udp", "unix"])
def test_loopback_and_unix_services_unreachable(pool: SandboxPool, kind: str) -> None:
    srv = _Listener(kind)
    try:
        if kind == "tcp":
            code = (f"import socket\ns = socket.create_connection(('127.0.0.1', {srv.port}), "
                    "timeout=1)")
        elif kind == "udp":
            code = (f"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    f"s.sendto(b'hello', ('127.0.0.1', {srv.port}))")
        else:
            code = (f"import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect({srv.path!r})")
        rep = run(pool, code)
        assert rep.status == "crashed"
        assert "PermissionError" in rep.message  # seccomp refuses socket() itself
        time.sleep(0.3)
        assert srv.hits == []
    finally:
        srv.close()


def test_unix_socket_path_not_even_visible(pool: SandboxPool) -> None:
    srv = _Listener("unix")
    try:
        rep = run(pool, f"import os\nRESULT = str(os.path.exists({srv.path!r}))")
        assert rep.result == b"False"
    finally:
        srv.close()


def test_netlink_and_raw_socket_via_ctypes(pool: SandboxPool) -> None:
    code = """
import ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
out = []
for fam, typ, proto in ((16, 3, 0), (2, 3, 1), (2, 1, 0), (17, 3, 0x0300), (1, 1, 0)):
    fd = libc.syscall(41, fam, typ, proto)
    out.append((fd, ctypes.get_errno()))
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    out.append('netlink-open')
except PermissionError:
    out.append('netlink-denied')
RESULT = repr(out)
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert rep.result == repr([(-1, 1)] * 5 + ["netlink-denied"]).encode()


# ---------------------------------------------------------------- writing outside
def test_writes_outside_the_working_folder_fail(pool: SandboxPool) -> None:
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    targets = ["/etc/evil", "/evil", f"{site}/evil_sandbox_test.py", "/usr/lib/evil",
               f"{CHECKOUT}/evil", "/proc/sys/kernel/hostname", "/dev/evil"]
    code = f"""
out = []
for p in {targets!r}:
    try:
        with open(p, 'w') as fh:
            fh.write('x')
        out.append('WROTE ' + p)
    except OSError as e:
        out.append(type(e).__name__)
RESULT = repr(out)
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert b"WROTE" not in rep.result
    for p in targets[:5]:
        assert not os.path.exists(p)


# ---------------------------------------------------------------- other processes
def test_signalling_parent_and_kill_minus_one(pool: SandboxPool) -> None:
    zygotes = [wp.proc.pid for wp in pool._all]
    code = f"""
import os, signal
out = [os.getpid(), os.getppid()]
for target in {zygotes!r} + [{os.getpid()}]:
    try:
        os.kill(target, signal.SIGKILL)
        out.append('killed')
    except OSError as e:
        out.append(type(e).__name__)
for target in (-1, 0):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError as e:
        out.append(type(e).__name__)
RESULT = repr(out)
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert b"killed" not in rep.result
    assert rep.result.startswith(b"[1, 0,")
    for pid in zygotes:
        os.kill(pid, 0)  # still alive


def test_ptrace_denied(pool: SandboxPool) -> None:
    code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r1 = libc.ptrace(0, 0, 0, 0)   # PTRACE_TRACEME
e1 = ctypes.get_errno()
r2 = libc.ptrace(16, 1, 0, 0)  # PTRACE_ATTACH to PID 1
e2 = ctypes.get_errno()
RESULT = repr((r1, e1, r2, e2))
"""
    rep = run(pool, code)
    assert rep.result == b"(-1, 1, -1, 1)"


def test_new_namespaces_denied(pool: SandboxPool) -> None:
    code = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
out = []
for flags in (0x10000000, 0x20000000, 0x40000000, 0x00020000):
    out.append((libc.unshare(flags), ctypes.get_errno()))
# clone(CLONE_NEWUSER | SIGCHLD) through the raw syscall
out.append((libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0), ctypes.get_errno()))
out.append((libc.syscall(308, 0, 0), ctypes.get_errno()))  # setns
RESULT = repr(out)
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert rep.result == repr([(-1, 1)] * 6).encode()


def test_keyctl_bpf_io_uring_userfaultfd_perf_denied(pool: SandboxPool) -> None:
    code = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
out = []
for nr, args in ((250, (0, -3)), (248, ()), (321, (0, 0, 0)), (425, (8, 0)), (323, (0,)),
                 (298, (0, 0, -1, -1, 0)), (310, (1, 0, 0, 0, 0, 0)), (165, (0, 0, 0, 0, 0)),
                 (161, (0,)), (155, (0, 0))):
    out.append((libc.syscall(nr, *args), ctypes.get_errno()))
RESULT = repr(out)
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert rep.result == repr([(-1, 1)] * 10).encode()


def test_identity_has_no_privileges(pool: SandboxPool) -> None:
    code = """
import os
st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
RESULT = repr((os.getuid(), os.getgid(), os.getgroups(), st['CapEff'].strip(),
               st['CapPrm'].strip(), st['CapBnd'].strip(), st['NoNewPrivs'].strip(),
               st['Seccomp'].strip()))
"""
    rep = run(pool, code)
    uid, gid, groups, eff, prm, bnd, nnp, seccomp = eval(rep.result)
    assert uid >= 2_000_000_000 and gid == uid and groups == []
    assert int(eff, 16) == int(prm, 16) == int(bnd, 16) == 0
    assert nnp == "1" and seccomp == "2"


# ---------------------------------------------------------------- the result channel
def test_symlink_planted_where_results_are_read(pool: SandboxPool) -> None:
    code = """
import os
for name in ('result', 'result.bin', 'export.json', 'out', 'stdout'):
    os.symlink('/proc/1/environ', name)
os.symlink('/etc/shadow', 'shadow')
RESULT = b'honest'
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert rep.result == b"honest"  # results come over a pipe; no path is ever read


def test_exercise_file_names_cannot_escape() -> None:
    from sandbox.pool import check_file_name

    for bad in ("../x", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError):
            check_file_name(bad)
    check_file_name("data/house_tiny.csv")


def test_pickle_payload_is_never_unpickled(pool: SandboxPool, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    code = f"""
import os, pickle, sys
class Evil:
    def __reduce__(self):
        return (os.system, ('touch {marker}',))
data = pickle.dumps(Evil())
sys.stdout.buffer.write(data)
RESULT = data
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert rep.result.startswith(b"\x80")  # raw bytes handed back, untouched
    assert not marker.exists()
    src = "".join(p.read_text() for p in (CHECKOUT / "platform/sandbox").glob("*.py"))
    for needle in ("import pickle", "pickle.load", "import marshal", "torch.load"):
        assert needle not in src


def test_fake_verdict_on_stdout_stays_output(pool: SandboxPool) -> None:
    fake = '{"outcome": "passed", "score": 1.0, "passed": true}'
    rep = run(pool, f"print({fake!r})\nRESULT = b'real'")
    assert rep.status == "ok"
    assert rep.result == b"real"
    assert rep.output.strip() == fake


def test_forged_frame_on_result_pipe_is_rejected(pool: SandboxPool) -> None:
    code = ("import os, struct\nfor fd in range(3, 200):\n    try:\n"
            "        os.write(fd, struct.pack('!cQ', b'R', 4) + b'fake')\n    except OSError:\n"
            "        pass\nRESULT = b'real'")
    rep = run(pool, code)
    assert rep.status == "crashed"
    assert "malformed result" in rep.message


# ---------------------------------------------------------------- crashes and exits
def test_segfault_via_ctypes(pool: SandboxPool) -> None:
    rep = run(pool, "import sys, ctypes\nprint('before', file=sys.stderr)\nctypes.string_at(0)")
    assert rep.status == "crashed"
    assert rep.signal == 11
    assert rep.reason == "signal" and rep.detail["name"] == "SIGSEGV"
    assert "SIGSEGV" in rep.message
    assert "before" in rep.message  # last stderr lines


@pytest.mark.parametrize(("code", "needle"), [
    ("import os\nos._exit(0)", "exited with code 0"),
    ("import os\nos._exit(3)", "exited with code 3"),
    ("raise SystemExit(2)", "exit()"),
    ("import sys\nsys.exit('bye')", "exit()"),
])
def test_exits_without_result(pool: SandboxPool, code: str, needle: str) -> None:
    rep = run(pool, code)
    assert rep.status == "crashed"
    assert needle in rep.message
    assert rep.result is None


def test_concurrent_runs_cannot_see_each_other() -> None:
    with SandboxPool(harness=HARNESS, pythonpath=[str(HERE)], size=2) as two:
        two.wait_ready()
        writer = threading.Thread(target=lambda: two.run(Job(
            payload=b"import time\nopen('other-run-secret', 'w').write('x')\ntime.sleep(2)",
            limits=Limits(wall_seconds=5))))
        writer.start()
        time.sleep(0.8)
        code = ("import os\nhits = []\nfor d, dirs, fs in os.walk('/'):\n"
                f"    if d.startswith('/proc') or (d + '/').startswith({VENV!r}):\n"
                "        dirs[:] = []\n        continue\n"
                "    hits += [f for f in fs if f == 'other-run-secret']\nRESULT = repr(hits)")
        rep = two.run(Job(payload=code.encode(), limits=Limits(wall_seconds=20,
                                                                   cpu_seconds=15)))
        writer.join()
        assert rep.status == "ok", rep
        assert rep.result == b"[]"


def test_the_network_namespace_is_empty_and_not_the_hosts(pool: SandboxPool) -> None:
    """Runs share their warm parent's network namespace (made once, empty): not the host's,
    no interface but a loopback that is down, and socket() is refused anyway."""
    code = """
import os
ns = os.readlink('/proc/self/ns/net')
with open('/proc/net/dev') as fh:
    devices = [line.split(':')[0].strip() for line in fh.readlines()[2:]]
with open('/proc/net/route') as fh:
    routes = fh.readlines()[1:]
RESULT = repr((ns, devices, len(routes)))
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    ns, devices, routes = ast.literal_eval(rep.result.decode())
    assert ns != os.readlink("/proc/self/ns/net")
    assert devices == ["lo"] and routes == 0
