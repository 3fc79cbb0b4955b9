"""One pass through the real sandbox (sandbox.SandboxPool): the harness works isolated.

strict=False so that a host without every isolation layer still runs it (the sandbox's own
tests prove the isolation); this test proves the grading side of the contract.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakepool import make_spec

from grading import grader
from grading.spec import CheckSpec
from sandbox import SandboxPool


@pytest.fixture(scope="module")
def real_pool() -> Iterator[SandboxPool]:
    pool = SandboxPool(strict=False)
    yield pool
    pool.close()


def test_grade_through_the_real_sandbox(real_pool):
    spec = make_spec(
        "import torch\nx = torch.arange(4.0, requires_grad=True)\n",
        "def double(t):\n    return 2 * t\ny = 2 * torch.dot(x, x)\ny.backward()\n",
        CheckSpec(name="y"),
        CheckSpec(name="x.grad"),
        CheckSpec(call="double", args=("torch.tensor([1.4375, 2.8125])",), hidden=True),
        slug="real-sandbox",
    )
    good = grader.grade(spec, spec.solution, pool=real_pool).to_dict()
    assert good["outcome"] == "passed", good
    code = (
        "def double(t):\n    print('secret', t)\n    return 3 * t\n"
        "y = 2 * torch.dot(x, x)\ny.backward(retain_graph=True)\ny.backward()\n"
    )
    bad = grader.grade(spec, code, pool=real_pool).to_dict()
    assert bad["outcome"] == "failed"
    assert [c["diagnostic"] for c in bad["checks"]] == [None, "grad-accumulated", "wrong-value"]
    # The hidden input's digits (unlikely in timings) appear nowhere: its input, 2*t, 3*t.
    assert "secret" not in bad["stdout"]
    leaks = ("1.4375", "2.8125", "2.875", "5.625", "4.3125", "8.4375")
    assert not any(v in str(bad) for v in leaks)
    # expected vs actual for the visible failed check; the hidden one carries neither
    grad, hidden = bad["checks"][1], bad["checks"][2]
    assert grad["expected"] == "tensor([ 0.,  4.,  8., 12.])  shape (4,) float32"
    assert grad["actual"] == "tensor([ 0.,  8., 16., 24.])  shape (4,) float32"
    assert "expected" not in hidden and "actual" not in hidden


def test_run_view_values_through_the_real_sandbox(real_pool):
    spec = make_spec(
        "import torch\na = torch.arange(3).reshape((3, 1))\nb = torch.arange(2).reshape((1, 2))\n",
        "c = a + b\n",
        CheckSpec(name="c"),
        slug="real-sandbox-run",
    )
    view = grader.run_cell(spec, "c = a * b\nprint('hi')\n", pool=real_pool).to_dict()
    assert view["outcome"] == "ok" and view["stdout"] == "hi\n"
    assert view["names"] == {"c": "tensor int64 (3, 2) cpu"}
    assert view["values"] == {
        "c": "tensor([[0, 0],\n        [0, 1],\n        [0, 2]])  shape (3, 2) int64"
    }


PRIMED_RUNS = r"""
import os, sys
os.environ["OMP_NUM_THREADS"] = "1"
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import numpy, torch
from courses.loader import load_course
from grading import grader, harness
harness.prime()
specs = {e.slug: e for d in load_course(Path(sys.argv[2])) for e in d.exercises}
os.chdir(sys.argv[3])
before = set(sys.modules)
for slug in ("tensor-arange", "linalg-cumsum", "save-load", "nn-params"):
    harness.main(grader.build_payload(specs[slug], specs[slug].solution))
print(sorted(set(sys.modules) - before))
"""


def test_prime_leaves_no_import_to_the_runs_of_a_torch_exercise(tmp_path) -> None:
    """What a run imports lazily it pays on every run (a fresh fork each time): numpy's
    random module was ~6 ms of each run once pandas and the optimizers stopped importing it
    in the warm parent. After `prime()` alone, a torch exercise's runs import nothing."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", PRIMED_RUNS, str(root / "platform"), str(root / "lessons"),
         str(tmp_path)], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout[-2000:]
