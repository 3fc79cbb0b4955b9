"""GPU-only checks (run where CUDA exists; skipped elsewhere): cuda tensors export with
their device, and the device exercises' mistakes are diagnosed as device-mismatch."""

from __future__ import annotations

import pytest
import torch
from fakepool import make_spec

from grading import grader, wire
from grading.spec import CheckSpec

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SETUP = "import torch\nY = torch.rand(2, 3, generator=torch.Generator().manual_seed(0))\n"
SOLUTION = "X = torch.ones(2, 3, device='cuda')\nY = Y.to('cuda')\nZ = X + Y\n"
SPEC = make_spec(
    SETUP,
    SOLUTION,
    CheckSpec(name="X"),
    CheckSpec(name="Y"),
    CheckSpec(name="Z"),
    CheckSpec(name="Z.device.type"),
    slug="gpu-add",
    queue="gpu",
)


@pytest.fixture(scope="module")
def gpu_pool():
    from fakepool import FakePool

    pool = FakePool(device="gpu")
    yield pool
    pool.close()


def test_cuda_tensor_round_trip():
    t = torch.arange(6.0, device="cuda").reshape(2, 3)
    out = wire.decode(wire.encode({"t": t})).values["t"]
    assert wire.meta_of(out).device == "cuda:0" and out.device.type == "cpu"
    assert torch.equal(out, t.cpu())


def test_gpu_add_right_answers(gpu_pool):
    for code in (
        SOLUTION,
        "X = torch.ones(2, 3).cuda()\nY = Y.cuda()\nZ = X + Y\n",
        "dev = torch.device('cuda:0')\nX = torch.ones((2, 3), device=dev)\n"
        "Y = Y.to(dev)\nZ = torch.add(X, Y)\n",
    ):
        v = grader.grade(SPEC, code, pool=gpu_pool).to_dict()
        assert v["outcome"] == "passed", v


def test_mixing_devices_is_diagnosed(gpu_pool):
    v = grader.grade(SPEC, "X = torch.ones(2, 3, device='cuda')\nZ = X + Y\n", pool=gpu_pool)
    d = v.to_dict()
    assert d["outcome"] == "error" and d["error"]["diagnostic"] == "device-mismatch"
    assert "device-mismatch" in [c["diagnostic"] for c in d["checks"]]


def test_tensors_left_on_the_cpu(gpu_pool):
    v = grader.grade(SPEC, "X = torch.ones(2, 3)\nZ = X + Y\n", pool=gpu_pool).to_dict()
    assert v["outcome"] == "failed"
    assert [c["diagnostic"] for c in v["checks"]][:3] == ["device-mismatch"] * 3
    assert "cuda:0" in v["checks"][0]["message"]
    # side by side, the device shows after shape and dtype
    assert v["checks"][0]["expected"] == (
        "tensor([[1., 1., 1.],\n        [1., 1., 1.]])  shape (2, 3) float32 cuda:0"
    )
    assert v["checks"][0]["actual"].endswith("shape (2, 3) float32")


def test_try_gpu(gpu_pool):
    spec = make_spec(
        "import torch\n",
        "def try_gpu(i=0):\n    if torch.cuda.device_count() >= i + 1:\n"
        "        return torch.device(f'cuda:{i}')\n    return torch.device('cpu')\n"
        "X = torch.ones(2, 3, device=try_gpu())\nn = torch.cuda.device_count()\n",
        CheckSpec(name="X"),
        CheckSpec(name="n"),
        CheckSpec(call="try_gpu"),
        CheckSpec(call="try_gpu", args=("10",)),
        queue="any",
    )
    assert grader.grade(spec, spec.solution, pool=gpu_pool).outcome == "passed"
    wrong = "def try_gpu(i=0):\n    return torch.device('cpu')\nX = torch.ones(2, 3)\nn = 0\n"
    v = grader.grade(spec, wrong, pool=gpu_pool).to_dict()
    assert [c["diagnostic"] for c in v["checks"]] == [
        "device-mismatch",
        "wrong-value",
        "wrong-value",
        None,
    ]
