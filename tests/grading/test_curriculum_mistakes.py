"""Every typical mistake of curriculum.md yields its diagnostic; right answers pass in any style.

Runs the real lesson files (lessons/) through grader.grade with the fake pool.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from courses.loader import load_course
from grading import grader

ROOT = Path(__file__).resolve().parents[2]
SPECS = {s.slug: s for lesson in load_course(ROOT / "lessons") for s in lesson.exercises}

# (slug, code, outcome, diagnostic expected somewhere in the verdict, text in the message)
MISTAKES = [
    (
        "autograd-backward",
        "y = 2 * torch.dot(x, x)\ny.backward()\ny.backward()",
        "error",
        "grad-accumulated",
        "once",
    ),
    (
        "autograd-backward",
        "x = torch.arange(4.0)\ny = 2 * torch.dot(x, x)\ny.backward()",
        "error",
        "grad-missing",
        "requires_grad=True",
    ),
    (
        "tensor-arange",
        "x = torch.arange(12)\nn = x.numel\nX = x.reshape(3, 4)",
        "failed",
        "method-not-called",
        "`x.numel()`",
    ),
    (
        "tensor-arange",
        "x = torch.arange(12)\nn = x.numel()\nX = x.reshape(4, 3)",
        "failed",
        "shape-mismatch",
        "(4, 3)",
    ),
    (
        "tensor-create",
        "zeros = torch.zeros((2, 3, 4))\nones = torch.ones((2, 3, 4))\n"
        "T = troch.tensor([[1, 2, 3, 4], [2, 3, 4, 1], [2, 4, 1, 5]])\nR = torch.randn(3, 4)",
        "error",
        "name-error",
        "`torch`",
    ),
    (
        "tensor-elementwise",
        "add, sub, mul, div = x + y, x - y, x * y, x / y\npower = x ^ y\ne = torch.exp(x)",
        "error",
        "xor-operator",
        "`**`",
    ),
    (
        "tensor-cat",
        "rows = torch.cat((X, Y), dim=1)\ncols = torch.cat((X, Y), dim=0)",
        "failed",
        "shape-mismatch",
        "(3, 8)",
    ),
    ("tensor-compare-sum", "eq = X == Y\ntotal = X.sum(0)", "failed", "shape-mismatch", "(4,)"),
    ("tensor-inplace", "Z = X + Y\nX += Y", "failed", "not-in-place", "in place"),
    ("tensor-inplace", "Z[:] = X + Y\nX = X + Y", "failed", "not-in-place", "`X`"),
    (
        "tensor-numpy-scalar",
        "A = X.numpy()\nB = torch.from_numpy(A)\n"
        "item = torch.tensor([3, 2]).item()\nf = float(a)\ni = int(a)",
        "error",
        "item-multi-element",
        "one element",
    ),
    ("pandas-read", "data = pd.read_csv('house_tiny.csv')", "error", None, "FileNotFoundError"),
    (
        "pandas-impute",
        "inputs, outputs = data.iloc[:, 0:2], data.iloc[:, 2]\n"
        "inputs = inputs.fillna(inputs.mean())",
        "error",
        "pandas-nonnumeric-mean",
        "numeric_only",
    ),
    ("pandas-dummies", "inputs = pd.get_dummies(inputs)", "failed", "missing-column", "Alley_nan"),
    (
        "pandas-to-tensor",
        "X = torch.tensor(inputs.values)\ny = torch.tensor(outputs.values)",
        "error",
        "object-array-to-tensor",
        "to_numpy(dtype=float)",
    ),
    (
        "linalg-clone-sum",
        "B = A\nsum0 = A.sum(axis=0)\nsum1 = A.sum(axis=1)",
        "failed",
        "shares-memory",
        "clone()",
    ),
    (
        "linalg-mean-keepdims",
        "mean = A.mean()\nsum_A = A.sum(axis=1)\nnormalized = A / A.sum(axis=1)",
        "error",
        "broadcast-shape",
        "(5, 4)",
    ),
    ("linalg-cumsum", "cs = A.cumsum(axis=1)", "failed", "wrong-value", "first difference"),
    (
        "linalg-products",
        "d = torch.dot(x, y)\nAx = torch.mv(A, x)\nAM = torch.mv(A, M)",
        "error",
        None,
        "vector",
    ),
    (
        "linalg-norms",
        "l2 = torch.norm(u)\nl1 = torch.norm(u)\nfro = torch.norm(torch.ones((4, 9)))",
        "failed",
        "wrong-value",
        "7.0",
    ),
    ("autograd-backward", "y = 2 * torch.dot(x, x)", "failed", "grad-missing", "backward"),
    (
        "autograd-backward",
        "y = 2 * torch.dot(x, x)\ny.backward(retain_graph=True)\ny.backward()",
        "failed",
        "grad-accumulated",
        "2 times",
    ),
    ("autograd-zero-grad", "x.sum().backward()", "failed", "grad-accumulated", "zero_()"),
    ("autograd-nonscalar", "y = x * x\ny.backward()", "error", "nonscalar-backward", "y.sum()"),
    (
        "autograd-detach",
        "y = x * x\nu = y\nz = u * x\nz.sum().backward()",
        "failed",
        "wrong-value",
        "detach",
    ),
    ("softmax-pick", "picked = y_hat[:, y]", "failed", "shape-mismatch", "(2, 2)"),
    ("softmax-pick", "picked = y_hat[:, y]", "failed", "shape-mismatch", "element by element"),
    ("softmax-pick", "picked = y_hat[:, y]", "failed", "shape-mismatch", "y_hat[torch.arange("),
    (
        "softmax-function",
        "def softmax(X):\n    return torch.softmax(X, dim=1)",
        "rejected",
        "forbidden-call",
        "torch.softmax",
    ),
    (
        "softmax-function",
        "import torch.nn.functional as F\ndef softmax(X):\n    return F.softmax(X, dim=1)",
        "rejected",
        "forbidden-call",
        "softmax",
    ),
    (
        "softmax-function",
        "from torch import softmax as sm\ndef softmax(X):\n    return sm(X, 1)",
        "rejected",
        "forbidden-call",
        "softmax",
    ),
    (
        "softmax-function",
        "def softmax(X):\n    return X.softmax(1)",
        "rejected",
        "forbidden-call",
        "softmax",
    ),
    (
        "cross-entropy",
        "def cross_entropy(y_hat, y):\n    return -torch.log(y_hat[:, y])",
        "failed",
        "shape-mismatch",
        "(2, 2)",
    ),
    (
        "nn-sequential",
        "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(4, 1))\nout = net(X)",
        "error",
        "shape-mismatch",
        "(1, 4)",
    ),
    # ---- issue 13: loopholes that passed before, and messages that said too little
    (
        "pandas-impute",
        "inputs, outputs = data.iloc[:, 0:2], data.iloc[:, 2]\n"
        "inputs['NumRooms'].fillna(inputs['NumRooms'].mean(), inplace=True)",
        "failed",
        "wrong-value",
        "Copy-on-Write",
    ),
    (
        "tensor-create",
        "zeros = torch.zeros((2, 3, 4))\nones = torch.ones((2, 3, 4))\n"
        "T = torch.tensor([[1, 2, 3, 4], [2, 3, 4, 1], [2, 4, 1, 5]])\nR = torch.rand(3, 4)",
        "failed",
        "wrong-value",
        "N(0, 1)",
    ),
    (
        "tensor-create",
        "zeros = torch.zeros((2, 3, 4))\nones = torch.ones((2, 3, 4))\n"
        "T = torch.tensor([[1, 2, 3, 4], [2, 3, 4, 1], [2, 4, 1, 5]])\n"
        "R = torch.randn(3, 4) * 100",
        "failed",
        "wrong-value",
        "standard deviation",
    ),
    (
        "device-try-gpu",
        "def try_gpu(i=0):\n    return None\n\n\nX = torch.ones(2, 3)",
        "failed",
        "wrong-type",
        "`try_gpu(0)` is None",
    ),
    (
        "device-try-gpu",
        "def try_gpu(i=0):\n    return torch.device(f'cuda:{i}')\n\n\nX = torch.ones(2, 3)",
        "failed",
        "wrong-value",
        "index=100",
    ),
    (
        "device-try-gpu",
        "def try_gpu(i=0):\n    return torch.device('cpu')\n\n\nX = None",
        "failed",
        "missing-name",
        "cannot be read while `X` is None",
    ),
    (
        "linreg-sgd",
        "w = true_w.reshape(2, 1).clone().requires_grad_()\n"
        "b = torch.tensor([true_b], requires_grad=True)",
        "failed",
        "not-trained",
        "no backward pass",
    ),
    (
        "linreg-sgd",
        "A = torch.cat([features, torch.ones(1000, 1)], 1)\n"
        "sol = torch.linalg.lstsq(A, labels).solution\n"
        "w = sol[:2].clone().requires_grad_()\nb = sol[2].clone().requires_grad_()\n"
        "for _ in range(20):\n    ((features @ w + b - labels) ** 2).mean().backward()",
        "failed",
        "not-trained",
        "changed after only 0",
    ),
    (
        "linreg-sgd",
        "A = torch.cat([features, torch.ones(1000, 1)], 1)\n"
        "sol = torch.linalg.lstsq(A, labels).solution\n"
        "w = (sol[:2] + 0.01).requires_grad_()\nb = (sol[2] - 0.01).requires_grad_()\n"
        "opt = torch.optim.SGD([w, b], lr=0.1)\n"
        "for _ in range(50):\n    opt.zero_grad()\n"
        "    ((features @ w + b - labels) ** 2).mean().backward()\n    opt.step()",
        "failed",
        "not-trained",
        "solved for",
    ),
    (
        "autograd-backward",
        "y = 2 * torch.dot(x, x)\nx.grad = 4 * x.detach()",
        "failed",
        "grad-not-from-backward",
        "by hand",
    ),
    (
        "autograd-backward",
        "y = 2 * torch.dot(x, x)\ny.backward()\nx.grad = torch.tensor([0.0, 4.0, 8.0, 12.0])",
        "failed",
        "grad-not-from-backward",
        "after the last backward",
    ),
    (
        "autograd-zero-grad",
        "x.grad = torch.ones(4)",
        "failed",
        "grad-not-from-backward",
        "by hand",
    ),
    (
        "autograd-zero-grad",
        "x.grad.zero_()\nx.grad += 1",
        "failed",
        "grad-not-from-backward",
        "`.backward()`",
    ),
    (
        "nn-sequential",
        "torch.rand(1)\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n"
        "out = net(X)",
        "failed",
        "wrong-value",
        "torch.manual_seed(0)",
    ),
]


def _all_text(v: dict) -> str:
    parts = [c["message"] for c in v["checks"]] + [c["messages"]["zh-hans"] for c in v["checks"]]
    if v["error"]:
        parts += [str(v["error"].get("message")), *v["error"]["messages"].values()]
    if v.get("message"):
        parts += list(v["message"].values())
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("slug", "code", "outcome", "diagnostic", "text"),
    MISTAKES,
    ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)],
)
def test_typical_mistake(pool, slug, code, outcome, diagnostic, text):
    v = grader.grade(SPECS[slug], code, pool=pool).to_dict()
    assert v["outcome"] == outcome, v
    if diagnostic:
        assert diagnostic in v["diagnostics"], v
    assert text in _all_text(v), _all_text(v)
    assert v["passed"] is False


def test_naive_softmax_gets_partial_credit(pool):
    code = (
        "def softmax(X):\n    X_exp = torch.exp(X)\n    return X_exp / X_exp.sum(1, keepdim=True)"
    )
    v = grader.grade(SPECS["softmax-function"], code, pool=pool).to_dict()
    assert v["outcome"] == "failed"
    assert v["score"] == 3.0 and v["max_score"] == 4.0
    failed = [c for c in v["checks"] if not c["passed"]]
    assert len(failed) == 1 and "1000" in failed[0]["name"]


RIGHT = [
    (
        "nn-params",
        "bias = net[2].bias.data\nkeys = net[2].state_dict().keys()\n"
        "grad_before = net[2].weight.grad\nnet(X).sum().backward()\n"
        "grad_shape = net[2].weight.grad.size()",
    ),
    ("tensor-cat", "rows = torch.concat([X, Y], 0)\ncols = torch.concat([X, Y], axis=1)"),
    ("tensor-cat", "rows = torch.cat((X, Y))\ncols = torch.cat((X, Y), -1)"),
    ("tensor-compare-sum", "eq = torch.eq(X, Y)\ntotal = torch.sum(X)"),
    ("tensor-compare-sum", "eq = X == Y\ntotal = X.sum().item()"),
    ("tensor-compare-sum", "eq = X.eq(Y)\ntotal = float(X.sum())"),
    ("linalg-products", "d = x @ y\nAx = A @ x\nAM = A @ M"),
    ("linalg-products", "d = torch.dot(x, y)\nAx = torch.mv(A, x)\nAM = torch.mm(A, M)"),
    ("linalg-products", "d = torch.sum(x * y)\nAx = torch.matmul(A, x)\nAM = A.matmul(M)"),
    ("tensor-arange", "x = torch.arange(12)\nn = len(x)\nX = x.view(3, -1)"),
    ("tensor-arange", "x = torch.arange(0, 12, 1)\nn = x.nelement()\nX = x.reshape((-1, 4))"),
    ("tensor-inplace", "torch.add(X, Y, out=Z)\nX.add_(Y)"),
    ("tensor-inplace", "Z.copy_(X + Y)\nX[:] = X + Y"),
    ("autograd-backward", "y = 2 * x @ x\ny.backward()"),
    ("autograd-backward", "y = 2 * (x * x).sum()\ntorch.autograd.backward(y)"),
    ("autograd-zero-grad", "x.grad = None\nx.sum().backward()"),
    ("autograd-zero-grad", "x.grad.data.zero_()\nx.sum().backward()"),
    ("autograd-backward", "x.grad = None\ny = 2 * torch.dot(x, x)\ny.backward()"),
    (
        "tensor-create",
        "zeros = torch.zeros(2, 3, 4)\nones = torch.ones(2, 3, 4)\n"
        "T = torch.tensor([[1, 2, 3, 4], [2, 3, 4, 1], [2, 4, 1, 5]])\n"
        "R = torch.normal(0.0, 1.0, size=(3, 4))",
    ),
    (
        "tensor-create",
        "R = torch.randn((3, 4))\nzeros = torch.zeros_like(torch.ones(2, 3, 4))\n"
        "ones = torch.ones((2, 3, 4))\n"
        "T = torch.tensor([[1, 2, 3, 4], [2, 3, 4, 1], [2, 4, 1, 5]])",
    ),
    (
        "device-try-gpu",
        "def try_gpu(i=0):\n"
        "    return torch.device(f'cuda:{i}') if i < torch.cuda.device_count() "
        "else torch.device('cpu')\n\n\nX = torch.ones((2, 3)).to(try_gpu())",
    ),
    (
        "nn-sequential",
        "first = nn.Linear(4, 8)\nsecond = nn.Linear(8, 1)\n"
        "net = nn.Sequential(first, nn.ReLU(), second)\nout = net(X)",
    ),
    (  # optim.SGD, full batch
        "linreg-sgd",
        "w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)\n"
        "b = torch.zeros(1, requires_grad=True)\nopt = torch.optim.SGD([w, b], lr=0.1)\n"
        "for epoch in range(100):\n    opt.zero_grad()\n"
        "    loss = ((features @ w + b - labels) ** 2).mean()\n    loss.backward()\n"
        "    opt.step()",
    ),
    (  # a hand-written update that makes a new leaf every step; manual batching
        "linreg-sgd",
        "w = torch.zeros((2, 1), requires_grad=True)\nb = torch.zeros(1, requires_grad=True)\n"
        "for epoch in range(5):\n    for i in range(0, 1000, 50):\n"
        "        X, y = features[i:i + 50], labels[i:i + 50]\n"
        "        l = ((X @ w + b - y) ** 2).mean()\n        l.backward()\n"
        "        w = (w - 0.1 * w.grad).detach().requires_grad_()\n"
        "        b = (b - 0.1 * b.grad).detach().requires_grad_()",
    ),
    ("autograd-nonscalar", "y = x * x\ny.backward(torch.ones_like(y))"),
    ("autograd-detach", "y = x * x\nu = y.detach().clone()\nz = u * x\nz.sum().backward()"),
    ("pandas-dummies", "inputs = pd.get_dummies(inputs, dummy_na=True, dtype=int)"),
    ("pandas-dummies", "inputs = pd.get_dummies(inputs, dummy_na=True, dtype=float)"),
    (
        "pandas-to-tensor",
        "X = torch.tensor(inputs.to_numpy(dtype=float))\n"
        "y = torch.tensor(outputs.to_numpy(dtype=float))",
    ),
    (
        "pandas-to-tensor",
        "X = torch.tensor(inputs.astype(float).values)\n"
        "y = torch.tensor(outputs.values, dtype=torch.float64)",
    ),
    (
        "pandas-impute",
        "inputs, outputs = data.iloc[:, 0:2], data.iloc[:, -1]\n"
        "inputs['NumRooms'] = inputs['NumRooms'].fillna(inputs['NumRooms'].mean())",
    ),
    ("linalg-clone-sum", "B = A.clone()\nsum0 = torch.sum(A, dim=0)\nsum1 = A.sum(1)"),
    ("linalg-clone-sum", "B = A.detach().clone()\nsum0 = A.sum(0)\nsum1 = A.sum(dim=1)"),
    (
        "linalg-norms",
        "l2 = torch.norm(u)\nl1 = torch.abs(u).sum()\nfro = torch.norm(torch.ones((4, 9)))",
    ),
    (
        "linalg-norms",
        "l2 = torch.linalg.norm(u)\nl1 = u.abs().sum().item()\n"
        "fro = torch.linalg.matrix_norm(torch.ones((4, 9)))",
    ),
    (
        "tensor-numpy-scalar",
        "A = X.numpy()\nB = torch.tensor(A)\nitem = a.item()\nf = float(a)\ni = int(a)",
    ),
    ("softmax-pick", "picked = y_hat[[0, 1], y]"),
    (
        "softmax-function",
        "def softmax(X):\n    X = X - X.max(dim=1, keepdim=True).values\n"
        "    e = X.exp()\n    return e / e.sum(axis=1, keepdims=True)",
    ),
    (
        "cross-entropy",
        "def cross_entropy(y_hat, y):\n"
        "    return -torch.log(y_hat.gather(1, y.unsqueeze(1)).squeeze(1))",
    ),
    (
        "nn-params",
        "bias = net[2].bias.detach()\nkeys = [k for k in net[2].state_dict()]\n"
        "grad_before = net[2].weight.grad\nnet(X).sum().backward()\n"
        "grad_shape = tuple(net[2].weight.grad.shape)",
    ),
    (
        "nn-params",
        "bias = net[-1].bias.data\nkeys = list(net[-1].state_dict())\n"
        "grad_before = net[-1].weight.grad\nloss = net(X).sum()\nloss.backward()\n"
        "grad_shape = net[-1].weight.grad.shape",
    ),
]


@pytest.mark.parametrize(("slug", "code"), RIGHT, ids=[f"{r[0]}-{i}" for i, r in enumerate(RIGHT)])
def test_right_answer_in_any_style_passes(pool, slug, code):
    v = grader.grade(SPECS[slug], code, pool=pool).to_dict()
    assert v["outcome"] == "passed", _all_text(v)
    assert v["score"] == v["max_score"]


@pytest.mark.parametrize("slug", sorted(s for s in SPECS if SPECS[s].queue != "gpu"))
def test_reference_passes_and_starter_fails(pool, slug):
    spec = SPECS[slug]
    assert grader.grade(spec, spec.solution, pool=pool).outcome == "passed"
    assert grader.grade(spec, spec.starter, pool=pool).outcome != "passed"


JUNK = [
    "None",
    "(i for i in range(3))",
    "torch.sparse_coo_tensor([[0]], [1.0], (2,))",
    "np.array([1, 'a'], dtype=object)",
    "type('K', (), {'__repr__': lambda self: 1 / 0})()",
    "torch.empty(3, 4, device='meta')",
]


@pytest.mark.parametrize("slug", sorted(s for s in SPECS if SPECS[s].queue != "gpu"))
def test_junk_never_passes_and_never_breaks_the_grader(pool, slug):
    spec = SPECS[slug]
    names = {c.name.split(".")[0] for c in spec.checks if c.name}
    names |= {c.call for c in spec.checks if c.call} | {u for c in spec.checks for u in c.uses}
    for junk in JUNK:
        code = "import numpy as np\n" + "\n".join(f"{n} = {junk}" for n in sorted(names))
        v = grader.grade(spec, code, pool=pool)
        assert v.outcome in ("failed", "error"), (junk, v.outcome, v.message)
        assert v.to_dict()["passed"] is False
