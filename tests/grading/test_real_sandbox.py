"""One pass through the real sandbox (sandbox.SandboxPool): the harness works isolated.

strict=False so that a host without every isolation layer still runs it (the sandbox's own
tests prove the isolation); this test proves the grading side of the contract.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import make_spec

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
        CheckSpec(call="double", args=("torch.tensor([1.5, 2.5])",), hidden=True),
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
    assert "secret" not in bad["stdout"] and "1.5" not in str(bad)
