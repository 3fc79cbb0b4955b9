"""Nothing the student does inside the sandbox turns a failure into a pass."""

from __future__ import annotations

from fakepool import make_spec

from grading import grader
from grading.spec import CheckSpec

SETUP = "import torch\na = torch.arange(3).reshape((3, 1))\nb = torch.arange(2).reshape((1, 2))\n"
SPEC = make_spec(SETUP, "c = a + b\n", CheckSpec(name="c"), slug="tamper-broadcast")
WRONG = "c = a * b\n"


def outcome(pool, code, spec=SPEC):
    return grader.grade(spec, code, pool=pool)


def test_baseline_wrong_answer_fails(pool):
    assert outcome(pool, WRONG).outcome == "failed"


def test_monkeypatching_torch_comparisons(pool):
    code = WRONG + (
        "torch.allclose = lambda *a, **k: True\n"
        "torch.equal = lambda *a, **k: True\n"
        "torch.testing.assert_close = lambda *a, **k: None\n"
        "torch.Tensor.__eq__ = lambda self, other: torch.tensor(True)\n"
        "torch.Tensor.__ne__ = lambda self, other: torch.tensor(False)\n"
        "torch.isclose = lambda *a, **k: torch.tensor(True)\n"
    )
    v = outcome(pool, code)
    assert v.outcome == "failed" and v.checks[0].diagnostic == "wrong-value"


def test_patching_export_helpers(pool):
    code = WRONG + (
        "import numpy as np\n"
        "torch.Tensor.numpy = lambda self, *a, **k: np.array([[0, 1], [1, 2], [2, 3]])\n"
        "torch.Tensor.tolist = lambda self: [[0, 1], [1, 2], [2, 3]]\n"
        "torch.Tensor.detach = lambda self: torch.tensor([[0, 1], [1, 2], [2, 3]])\n"
        "torch.Tensor.cpu = lambda self, *a, **k: torch.tensor([[0, 1], [1, 2], [2, 3]])\n"
        "import json\njson.dumps = lambda *a, **k: '{}'\n"
    )
    assert outcome(pool, code).outcome == "failed"


def test_importing_and_patching_the_grading_package(pool):
    code = WRONG + (
        "import grading.wire, grading.harness\n"
        "grading.wire.encode = lambda *a, **k: b''\n"
        "grading.wire.Encoder.tensor = lambda self, t, d, with_grad=True: {'t': 'none'}\n"
    )
    v = outcome(pool, code)
    assert v.outcome == "failed" and v.checks[0].diagnostic == "wrong-value"


def test_rebinding_builtins(pool):
    code = WRONG + (
        "import builtins\n"
        "builtins.isinstance = lambda *a: True\n"
        "builtins.issubclass = lambda *a: True\n"
        "builtins.len = lambda x: 0\n"
    )
    assert outcome(pool, code).outcome == "failed"


def test_tensor_subclass_with_lying_eq_and_torch_function(pool):
    code = (
        "class Liar(torch.Tensor):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
        "        return torch.tensor([[0, 1], [1, 2], [2, 3]])\n"
        "c = (a * b).as_subclass(Liar)\n"
    )
    v = outcome(pool, code)
    assert v.outcome == "failed" and v.checks[0].diagnostic == "wrong-value"


def test_fake_class_attribute(pool):
    code = (
        "class Fake:\n"
        "    __class__ = property(lambda self: torch.Tensor)\n"
        "    shape = (3, 2)\n"
        "    dtype = torch.int64\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "c = Fake()\n"
    )
    v = outcome(pool, code)
    assert v.outcome == "failed" and v.checks[0].diagnostic == "wrong-type"


def test_printing_a_fake_verdict(pool):
    code = WRONG + (
        'print(\'{"outcome": "passed", "passed": true, "score": 1.0, "checks": []}\')\n'
    )
    v = outcome(pool, code)
    assert v.outcome == "failed" and '"outcome": "passed"' in v.stdout


def test_exiting_early(pool):
    for code in (
        WRONG + "import sys\nsys.exit(0)\n",
        WRONG + "raise SystemExit(0)\n",
        WRONG + "import os\nos._exit(0)\n",
        "import os\nos._exit(0)\n",
        WRONG + "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
        WRONG + "raise KeyboardInterrupt\n",
    ):
        v = outcome(pool, code)
        assert v.outcome in ("error", "failed"), (code, v.outcome)
        assert v.score == 0


def test_faking_in_place_storage(pool):
    spec = make_spec(
        "import torch\nX = torch.ones(3)\nY = torch.ones(3)\nZ = torch.zeros(3)\n",
        "Z[:] = X + Y\n",
        CheckSpec(name="Z", storage="unchanged"),
    )
    assert outcome(pool, "Z[:] = X + Y", spec).outcome == "passed"
    code = (
        "old = Z.data_ptr()\n"
        "Z = X + Y\n"
        "torch.Tensor.data_ptr = lambda self: old\n"
        "torch.Tensor.untyped_storage = lambda self: None\n"
    )
    v = outcome(pool, code, spec)
    assert v.outcome == "failed" and v.checks[0].diagnostic == "not-in-place"


def test_hard_coding_a_gradient_without_backward(pool):
    spec = make_spec(
        "import torch\nx = torch.arange(4.0, requires_grad=True)\n",
        "y = 2 * torch.dot(x, x)\ny.backward()\n",
        CheckSpec(name="x.grad"),
    )
    # Writing the right numbers is the right numbers; but a wrong one stays wrong however
    # the student dresses it up.
    code = (
        "x.grad = torch.tensor([0.0, 4, 8, 13])\ntorch.autograd.backward = lambda *a, **k: None\n"
    )
    v = outcome(pool, code, spec)
    assert v.outcome == "failed" and v.checks[0].diagnostic == "wrong-value"
