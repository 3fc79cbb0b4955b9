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
