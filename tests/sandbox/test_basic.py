"""The interface: ok runs, results, output capture, files, limits mapped to statuses."""

from __future__ import annotations

from sbhelpers import assert_healthy, run

from sandbox import Job, Limits, SandboxPool


def test_ok_run_returns_result_and_output(pool: SandboxPool) -> None:
    rep = run(pool, "import torch\nprint('hello')\nRESULT = str(torch.ones(3).sum().item())")
    assert rep.status == "ok", rep
    assert rep.reason == "ok"
    assert rep.result == b"3.0"
    assert rep.output == "hello\n"
    assert not rep.output_truncated
    assert rep.exit_code == 0 and rep.signal is None
    assert rep.duration_ms > 0


def test_all_layers_on(pool: SandboxPool) -> None:
    for layer in ("namespaces", "mount", "uid", "cgroup", "seccomp", "rlimits", "landlock"):
        assert pool.layers[layer].startswith("on"), (layer, pool.layers[layer])


def test_files_are_written_to_the_working_folder(pool: SandboxPool) -> None:
    rep = run(pool, "import os, pandas as pd\n"
                    "df = pd.read_csv('data/house_tiny.csv')\n"
                    "RESULT = f'{os.getcwd()} {len(df)} {df.columns[0]}'",
              files={"data/house_tiny.csv": b"NumRooms,Price\n3,127500\n2,106000\n"})
    assert rep.status == "ok", rep
    assert rep.result == b"/sandbox 2 NumRooms"


def test_stderr_and_exceptions_reported(pool: SandboxPool) -> None:
    rep = run(pool, "import sys\nprint('to stderr', file=sys.stderr)\nraise ValueError('boom')")
    assert rep.status == "crashed"
    assert "ValueError: boom" in rep.message
    assert "to stderr" in rep.output


def test_wall_timeout(pool: SandboxPool) -> None:
    rep = run(pool, "import time\ntime.sleep(60)", wall_seconds=1)
    assert rep.status == "timeout"
    assert rep.reason == "wall_time" and rep.detail == {"limit": 1}
    assert "Wall-clock time limit of 1 s" in rep.message
    assert rep.duration_ms < 6000
    assert_healthy(pool)


def test_each_run_is_fresh(pool: SandboxPool) -> None:
    a = run(pool, "import torch\ntorch.leaked = 1\nopen('left.txt','w').write('x')")
    assert a.status == "ok"
    b = run(pool, "import torch, os\nRESULT = str((hasattr(torch, 'leaked'), "
                  "os.path.exists('left.txt')))")
    assert b.result == b"(False, False)"


def test_runs_are_forked_without_pythons_at_fork_hooks(pool: SandboxPool) -> None:
    """The warm parent forks with glibc's fork, not os.fork (isolation.fork_isolated):
    `random`'s at-fork hook would have reseeded every run from the kernel, so without it
    two runs of a harness that does not seed start from the warm parent's state."""
    code = "import random\nRESULT = repr(random.getstate()[1][:8])"
    first, second = run(pool, code), run(pool, code)
    assert first.status == second.status == "ok", (first, second)
    assert first.result == second.result


def test_threads_locks_and_forks_work_in_a_run_without_the_hooks(pool: SandboxPool) -> None:
    """What the skipped hooks re-create after a fork (threading's state, logging's and the
    import system's locks, torch's OpenMP) still works in a run: a run is a process whose
    warm parent had one thread and held none of those locks when it forked."""
    code = """
import logging, os, threading, torch
from concurrent.futures import ThreadPoolExecutor
logging.basicConfig(level=logging.INFO)
log = logging.getLogger("cell")
box = []
t = threading.Thread(target=lambda: box.append(threading.current_thread().name), name="w")
t.start(); t.join()
with ThreadPoolExecutor(2) as ex:
    squares = list(ex.map(lambda v: v * v, range(4)))
log.info("from the run")
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    import json  # the import lock, in a grandchild
    os.write(w, json.dumps(threading.main_thread().is_alive()).encode())
    os._exit(0)
os.close(w)
_, status = os.waitpid(pid, 0)
child = os.read(r, 10)
RESULT = repr((box, squares, child, status, torch.get_num_threads(),
               float(torch.ones(64, 64).matmul(torch.ones(64, 64)).sum()),
               threading.main_thread() is threading.current_thread()))
"""
    rep = run(pool, code)
    assert rep.status == "ok", rep
    assert rep.result == repr((["w"], [0, 1, 4, 9], b"true", 0, 1, 262144.0, True)).encode()
    assert "from the run" in rep.output


def test_invalid_limits_rejected(pool: SandboxPool) -> None:
    import pytest

    before = [wp.proc.pid for wp in pool._all]
    with pytest.raises(ValueError):
        pool.run(Job(payload=b"", limits=Limits(cpu_seconds=0)))
    with pytest.raises(ValueError):
        pool.run(Job(payload=b"", files={"../escape": b"x"}))
    assert [wp.proc.pid for wp in pool._all] == before  # no warm parent was lost


def test_limits_from_dict() -> None:
    lim = Limits.from_dict({"cpu_seconds": 2, "nonsense": 1})
    assert lim.cpu_seconds == 2 and lim.wall_seconds == Limits().wall_seconds


def test_open_files_and_processes_limits(pool: SandboxPool) -> None:
    code = ("import os\nfds = []\ntry:\n    while True:\n        fds.append(os.open('/dev/null', "
            "os.O_RDONLY))\nexcept OSError as e:\n    err = e.strerror\n"
            "import resource as r\nRESULT = repr((len(fds) < 32, err, "
            "r.getrlimit(r.RLIMIT_NOFILE), r.getrlimit(r.RLIMIT_NPROC)))")
    rep = run(pool, code, open_files=32, processes=8)
    assert rep.status == "ok", rep
    assert rep.result == b"(True, 'Too many open files', (32, 32), (8, 8))"


def test_warm_parent_environment_is_minimal(pool: SandboxPool) -> None:
    from sbhelpers import CANARY

    for wp in pool._all:
        with open(f"/proc/{wp.proc.pid}/environ", "rb") as fh:
            env = dict(item.split(b"=", 1) for item in fh.read().split(b"\0") if item)
        assert set(env) <= {b"PATH", b"LANG", b"OMP_NUM_THREADS", b"MKL_NUM_THREADS",
                            b"OPENBLAS_NUM_THREADS"}
        with open(f"/proc/{wp.proc.pid}/cmdline", "rb") as fh:
            assert CANARY.encode() not in fh.read()
