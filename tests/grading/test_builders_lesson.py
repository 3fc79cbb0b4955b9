"""The builders lesson (issue 13, items 2, 5 and 9): every exercise catches its plausible
mistakes with a message that says what went wrong, and right answers in other styles pass
(DataLoader or manual batching, optim.SGD or a hand-written update, attributes or an
nn.Sequential inside a custom module, a path or a file object for torch.save).

Runs the real lesson files (lessons/builders) through grader.grade with the fake pool. The
training exercises grade several codes in one test, so that the reference runs once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from courses.loader import load_lesson
from grading import grader

ROOT = Path(__file__).resolve().parents[2]
SPECS = {s.slug: s for s in load_lesson(ROOT / "lessons" / "builders").exercises}


def _sol(slug: str, *replacements: tuple[str, str]) -> str:
    """The reference solution with each (old, new) replaced; each old must occur."""
    code = SPECS[slug].solution
    for old, new in replacements:
        assert old in code, (slug, old)
        code = code.replace(old, new)
    return code


def _all_text(v: dict) -> str:
    parts = [c["message"] for c in v["checks"]] + [c["messages"]["zh-hans"] for c in v["checks"]]
    if v["error"]:
        parts += [str(v["error"].get("message")), *v["error"]["messages"].values()]
    return "\n".join(parts)


def _grade(pool, slug: str, code: str) -> dict:
    return grader.grade(SPECS[slug], code, pool=pool).to_dict()


def _grade_training(pool, slug: str, code: str) -> dict:
    """Like _grade with a generous wall-clock limit: these tests judge the diagnostics, not
    the speed, and a busy test machine must not turn them into timeouts. (The first
    torch.optim optimizer of a process imports torch._dynamo: seconds of CPU.)"""
    spec = replace(SPECS[slug], limits={**SPECS[slug].limits, "wall_seconds": 60.0})
    return grader.grade(spec, code, pool=pool).to_dict()


def test_the_lesson_has_its_exercises_in_teaching_order() -> None:
    assert list(SPECS) == [
        "digits-images", "digits-loader", "mlp-scratch", "param-init", "custom-module",
        "save-load",
    ]  # fmt: skip
    for slug in ("digits-images", "digits-loader", "mlp-scratch", "custom-module"):
        assert "digits_train.b64" in SPECS[slug].files
    heldout = [c for s in SPECS.values() for c in s.checks if c.heldout]
    assert {c.heldout for c in heldout} == {"net", "torch.relu(X @ W1 + b1) @ W2 + b2"}
    assert all(c.heldout_data and c.accuracy >= 0.93 for c in heldout)


IMAGES = "images = pixels.reshape(-1, 1, 8, 8).float() / 16"
SPLIT = "generator=torch.Generator().manual_seed(42)"

# (slug, code, outcome, diagnostic expected in the verdict, text in a message)
MISTAKES = [
    ("digits-images", _sol("digits-images", (IMAGES, "images = pixels.reshape(-1, 8, 8) / 16")),
     "failed", "shape-mismatch", "(1437, 1, 8, 8)"),
    ("digits-images", _sol("digits-images", ("/ 16", "/ 255")),
     "failed", "wrong-value", "not 0 to 255"),
    ("digits-images", _sol("digits-images", (".float() / 16", " // 16")),
     "error", "dtype-mismatch", "torch.float32"),
    ("digits-images", _sol("digits-images", ("mean(dim=0)", "mean()")),
     "failed", "shape-mismatch", "(1, 8, 8)"),
    ("digits-loader", _sol("digits-loader", (", shuffle=True", "")),
     "failed", "wrong-value", "shuffle=True"),
    ("digits-loader", _sol("digits-loader", ("shuffle=False", "shuffle=True")),
     "failed", "wrong-value", "`y_val`"),
    ("digits-loader", _sol("digits-loader", (SPLIT, "")),
     "failed", "wrong-value", "`y_val`"),
    ("digits-loader", _sol("digits-loader", ("[1137, 300]", "[0.8, 0.2]")),
     "failed", "wrong-value", "1137"),
    ("digits-loader", _sol("digits-loader", ("num_batches = len(train_iter)",
                                             "num_batches = len(train_set)")),
     "failed", "wrong-value", "should be 18"),
    ("param-init", _sol("param-init", ("    if type(m) == nn.Linear:\n", "    if True:\n")),
     "error", None, "'ReLU' object has no attribute 'weight'"),
    ("param-init", _sol("param-init", ("mean=0, std=0.01", "")),
     "failed", "wrong-value", "default `std`"),
    ("param-init", _sol("param-init", ("nn.init.normal_(m.weight, mean=0, std=0.01)",
                                       "nn.init.zeros_(m.weight)")),
     "failed", "wrong-value", "same thing"),
    ("param-init", _sol("param-init", ("        nn.init.zeros_(m.bias)\n", "")),
     "failed", "wrong-value", "nn.init.zeros_(m.bias)"),
    ("param-init", _sol("param-init", ("p.numel() for p in net.parameters()",
                                       "1 for p in net.parameters()")),
     "failed", "wrong-value", "19210"),
    ("param-init", _sol("param-init", ("p.numel() for p in net.parameters()",
                                       "p.numel() for n, p in net.named_parameters() "
                                       "if n.endswith('weight')")),
     "failed", "wrong-value", "19210"),  # the biases forgotten
    ("digits-loader", _sol("digits-loader", ("TensorDataset(images, labels)",
                                             "TensorDataset(images, labels.float())")),
     "failed", "dtype-mismatch", "torch.int64"),
    ("param-init", _sol("param-init", ("[name for name, _ in net.named_parameters()]",
                                       "[name for name, _ in net[0].named_parameters()]")),
     "failed", "wrong-value", "0.weight"),
    # Saving the model object: a class defined in the cell cannot even be pickled.
    ("save-load", _sol("save-load", ("torch.save(net.state_dict(),", "torch.save(net,")),
     "error", None, "pickle"),
    ("save-load", _sol("save-load", ("clone.load_state_dict(state)\n", "")),
     "failed", "wrong-value", "`clone.hidden.weight`"),
    ("save-load", _sol("save-load", ("clone = MLP()", "clone = net")),
     "failed", "wrong-value", "`clone` is `net` itself"),
    ("save-load", _sol("save-load", ("clone.eval()\n", "")),
     "failed", "wrong-value", "clone.eval()"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("slug", "code", "outcome", "diagnostic", "text"),
    MISTAKES,
    ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)],
)
def test_typical_mistake(pool, slug, code, outcome, diagnostic, text):
    v = _grade(pool, slug, code)
    assert v["outcome"] == outcome, _all_text(v)
    if diagnostic:
        assert diagnostic in v["diagnostics"], v["diagnostics"]
    assert text in _all_text(v), _all_text(v)
    assert v["passed"] is False


RIGHT = [
    ("digits-images",
     "images = (pixels.float() / 16).view(len(pixels), 1, 8, 8)\n"
     "counts = torch.tensor([int((labels == k).sum()) for k in range(10)])\n"
     "mean_zero = images[labels == 0].sum(dim=0) / counts[0]"),
    ("digits-images",
     "images = pixels.unsqueeze(1).reshape(1437, 1, 8, 8).to(torch.float32) / 16.0\n"
     "counts = labels.bincount()\n"
     "mean_zero = torch.stack([im for im, l in zip(images, labels) if l == 0]).mean(0)"),
    ("digits-loader",  # positional arguments, for-break instead of next(iter(...))
     "from torch.utils import data\ng = torch.Generator()\ng.manual_seed(42)\n"
     "train_set, val_set = data.random_split(data.TensorDataset(images, labels), (1137, 300), g)\n"
     "sizes = [len(train_set), len(val_set)]\n"
     "train_iter = data.DataLoader(train_set, 64, True)\n"
     "val_iter = data.DataLoader(val_set, 64)\n"
     "for X, y in train_iter:\n    break\n"
     "for _, y_again in train_iter:\n    break\n"
     "for X_val, y_val in val_iter:\n    break\n"
     "num_batches = sum(1 for _ in train_iter)"),
    ("param-init",
     "num_params = 0\nfor p in net.parameters():\n    num_params += p.numel()\n"
     "names = list(net.state_dict().keys())\n"
     "def init_normal(m):\n    if isinstance(m, nn.Linear):\n"
     "        m.weight.data.normal_(0, 0.01)\n        m.bias.data.zero_()\n"
     "net.apply(init_normal)"),
    ("param-init",  # no apply: a loop over the layers, a copy under no_grad
     "num_params = sum(p.numel() for p in net.parameters())\n"
     "names = list(dict(net.named_parameters()))\n"
     "def init_normal(m):\n    if isinstance(m, nn.Linear):\n        with torch.no_grad():\n"
     "            m.weight.copy_(torch.randn(m.weight.shape) * 0.01)\n"
     "            m.bias.fill_(0)\n"
     "for layer in net:\n    init_normal(layer)"),
    ("save-load",
     "torch.save(net.state_dict(), 'mlp.params')\nclone = MLP()\n"
     "clone.load_state_dict(state := torch.load('mlp.params', weights_only=True))\n"
     "clone = clone.eval()\nwith torch.no_grad():\n    Y_clone = clone(X)"),
    ("save-load",  # file objects, train(False)
     "with open('mlp.params', 'wb') as f:\n    torch.save(net.state_dict(), f)\n"
     "with open('mlp.params', 'rb') as f:\n    state = torch.load(f)\n"
     "clone = MLP()\nclone.load_state_dict(state)\nclone.train(False)\n"
     "Y_clone = clone(X).detach()"),
]  # fmt: skip


@pytest.mark.parametrize(("slug", "code"), RIGHT, ids=[f"{r[0]}-{i}" for i, r in enumerate(RIGHT)])
def test_right_answer_in_another_style_passes(pool, slug, code):
    v = _grade(pool, slug, code)
    assert v["outcome"] == "passed", _all_text(v)
    assert v["score"] == v["max_score"]


# --------------------------------------------------------------------------- training

RELU = "    a = torch.zeros_like(X)\n    return torch.max(X, a)"
LOOP = """    for X, y in train_iter:
        l = loss(net(X), y)
        trainer.zero_grad()
        l.backward()
        trainer.step()"""
LOOP_SCRATCH = """    for X, y in train_iter:
        l = loss(net(X), y)
        l.backward()"""
MANUAL_SCRATCH = """    perm = torch.randperm(len(X_train))
    for i in range(0, len(X_train), 32):
        l = loss(net(X_train[perm[i:i + 32]]), y_train[perm[i:i + 32]])
        l.backward()"""
MANUAL = """    perm = torch.randperm(len(X_train))
    for i in range(0, len(X_train), 32):
        idx = perm[i:i + 32]
        l = loss(net(X_train[idx]), y_train[idx])
        l.backward()
        with torch.no_grad():
            for p in PARAMS:
                p -= 0.5 * p.grad
                p.grad.zero_()"""


def test_mlp_scratch_catches_its_mistakes_and_passes_other_styles(pool):
    slug = "mlp-scratch"
    update = """        l.backward()
        with torch.no_grad():  # minibatch SGD, written out (or: torch.optim.SGD(params, lr))
            for param in params:
                param -= lr * param.grad
                param.grad.zero_()"""
    optim = """        trainer.zero_grad()
        l.backward()
        trainer.step()"""
    wrong = [
        (_sol(slug, (RELU, "    return X.clamp_(min=0)")), "failed", "`Z` changed"),
        (_sol(slug, ("W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * 0.01)",
                     "W1 = torch.randn(num_inputs, num_hiddens, requires_grad=True) * 0.01")),
         "error", "NoneType"),
        (_sol(slug, (RELU, "    return torch.relu(X)")), "rejected", "torch.relu"),
        # Without the ReLU: the digits are nearly linearly separable, so the held-out
        # accuracy may still pass; the logits check against the formula catches it.
        (_sol(slug, ("H = relu(X @ W1 + b1)", "H = X @ W1 + b1")), "failed", "collapse"),
        (_sol(slug, ("lr = 0.5", "lr = 0.0")), "failed", "did not move"),
        # all-zero weights: by symmetry W1 and W2 get zero gradients and never move
        (_sol(slug, ("nn.Parameter(torch.randn(num_inputs, num_hiddens) * 0.01)",
                     "nn.Parameter(torch.zeros(num_inputs, num_hiddens))"),
              ("nn.Parameter(torch.randn(num_hiddens, num_outputs) * 0.01)",
               "nn.Parameter(torch.zeros(num_hiddens, num_outputs))")),
         "failed", "changed after only 0"),
    ]  # fmt: skip
    for code, outcome, text in wrong:
        v = _grade_training(pool, slug, code)
        assert (v["outcome"], v["passed"]) == (outcome, False), _all_text(v)
        assert text in _all_text(v), _all_text(v)
    right = [
        # torch.optim.SGD, a clamp ReLU
        _sol(slug, (RELU, "    return X.clamp(min=0)"), (update, optim),
             ("lr = 0.5\n", "trainer = torch.optim.SGD(params, lr=0.5)\n")),
        # manual batching instead of a DataLoader; requires_grad_ leaves; a mask ReLU
        _sol(slug, (RELU, "    return X * (X > 0)"), (LOOP_SCRATCH, MANUAL_SCRATCH),
             ("W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * 0.01)",
              "W1 = (torch.randn(num_inputs, num_hiddens) * 0.01).requires_grad_()"),
             ("b1 = nn.Parameter(torch.zeros(num_hiddens))",
              "b1 = torch.zeros(num_hiddens, requires_grad=True)")),
    ]  # fmt: skip
    for code in right:
        v = _grade_training(pool, slug, code)
        assert v["outcome"] == "passed", _all_text(v)


def test_custom_module_catches_its_mistakes_and_passes_other_styles(pool):
    slug = "custom-module"
    layers = """        self.hidden = nn.Linear(64, 256)  # the hidden layer
        self.act = nn.ReLU()
        self.out = nn.Linear(256, 10)  # the output layer"""
    forward = "return self.out(self.act(self.hidden(X)))"
    wrong = [
        ("import torch.nn.functional as F\n" + _sol(
            slug, ("        self.act = nn.ReLU()\n", ""),
            ("self.out(self.act(self.hidden(X)))", "self.out(F.relu(self.hidden(X)))")),
         "failed", "ReLU missing between `Linear(64, 256)` and `Linear(256, 10)`"),
        (_sol(slug, (layers, "        self.layers = [nn.Linear(64, 256), nn.ReLU(), "
                             "nn.Linear(256, 10)]"),
              (forward, "for layer in self.layers:\n            X = layer(X)\n"
                        "        return X")),
         "error", "empty parameter list"),
        (_sol(slug, ("net = MLP()",
                     "net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))")),
         "failed", "instance of your own class"),
    ]  # fmt: skip
    for code, outcome, text in wrong:
        v = _grade_training(pool, slug, code)
        assert (v["outcome"], v["passed"]) == (outcome, False), _all_text(v)
        assert text in _all_text(v), _all_text(v)
    # nn.Sequential inside the class, manual batching and a hand-written update
    right = _sol(
        slug,
        (layers, "        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(64, 256), "
                 "nn.ReLU(), nn.Linear(256, 10))"),
        (forward, "return self.layers(X)"),
        (LOOP, MANUAL.replace("PARAMS", "net.parameters()")),
        ("trainer = torch.optim.SGD(net.parameters(), lr=0.5)\n", ""),
    )  # fmt: skip
    v = _grade_training(pool, slug, right)
    assert v["outcome"] == "passed", _all_text(v)
