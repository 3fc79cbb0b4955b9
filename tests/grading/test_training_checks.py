"""Issue 13, grading training: held-out accuracy on data the run never sees, the model's
structure against the reference, and the loss curve. Wrong-but-plausible code is caught;
correct alternative styles (nn.Sequential or a custom nn.Module, optim.SGD or a hand-written
update, DataLoader or manual batching) pass.

Unit tests export real models through the harness (``harness.main`` in this process);
the grader tests run the real lesson files (lessons/training) with the fake pool."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from courses.loader import load_course
from grading import grader, harness, wire
from grading import models_rebuild as mr
from grading.messages import render
from grading.training_messages import TRAINING_TEMPLATES

ROOT = Path(__file__).resolve().parents[2]
SPECS = {s.slug: s for lesson in load_course(ROOT / "lessons") for s in lesson.exercises}


def export(code: str, *names: str) -> wire.Decoded:
    payload = {"mode": "submit", "setup": "import torch\nfrom torch import nn\n", "code": code,
               "export": list(names)}  # fmt: skip
    return wire.decode(harness.main(json.dumps(payload).encode()))


MLP = "net = nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))\n"
CUSTOM = (
    "class MLP(nn.Module):\n"
    "    def __init__(self):\n"
    "        super().__init__()\n"
    "        self.hidden = nn.Linear(64, 256)\n"
    "        self.act = nn.ReLU()\n"
    "        self.out = nn.Linear(256, 10)\n"
    "    def forward(self, x):\n"
    "        return self.out(self.act(self.hidden(x.reshape(len(x), -1))))\n"
    "net = MLP()\n"
)


def _npz(X: np.ndarray, y: np.ndarray) -> str:
    buf = io.BytesIO()
    np.savez(buf, X=X, y=y)
    return base64.b64encode(buf.getvalue()).decode()


# --------------------------------------------------------------------------- rebuild


def test_rebuilt_sequential_and_custom_module_compute_what_the_run_computed():
    torch.manual_seed(0)
    X = torch.rand(5, 64)
    for code in (MLP, CUSTOM):
        torch.manual_seed(1)
        ns: dict = {}
        exec("import torch\nfrom torch import nn\n" + code, ns)
        d = export(code.replace("net = ", "torch.manual_seed(1)\nnet = "), "net")
        rebuilt = mr.rebuild(d.values["net"])
        assert torch.allclose(rebuilt(X), ns["net"](X).detach(), atol=1e-6)


@pytest.mark.parametrize(
    ("code", "variant", "text"),
    [
        ("net = nn.Sequential(nn.Linear(64, 10), nn.BatchNorm1d(10))", "layer",
         "layer `1` is a `BatchNorm1d`, which is not supported"),
        ("class Sq(nn.Module):\n    def forward(self, x):\n        return x * x\n"
         "net = nn.Sequential(nn.Linear(64, 10), Sq())", "layer", "layer `1` is a `Sq`"),
        ("class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
         "        self.W = nn.Parameter(torch.zeros(64, 10))\n        self.l = nn.Linear(10, 10)\n"
         "net = Net()", "own-parameters", "holds its own parameters (W)"),
    ],
)  # fmt: skip
def test_a_model_that_cannot_be_rebuilt_names_the_layer(code, variant, text):
    d = export(code, "net")
    with pytest.raises(mr.ModelError) as info:
        mr.rebuild(d.values["net"])
    facts = {**info.value.facts, "name": "net"}
    assert facts["variant"] == variant
    assert text in render("model-unsupported", facts)["en"]
    zh = render("model-unsupported", facts)["zh-hans"]
    assert "不受支持" in zh or variant == "own-parameters"


def test_a_forged_hyperparameter_is_refused_not_evaluated():
    forged = wire.ModuleSummary(
        cls="torch.nn.modules.container.Sequential",
        layers=[("", "torch.nn.modules.container.Sequential", ""),
                ("0", "torch.nn.modules.linear.Linear",
                 "in_features=__import__('os'), out_features=2")],
        params={}, buffers={},
    )  # fmt: skip
    with pytest.raises(mr.ModelError) as info:
        mr.rebuild(forged)
    assert info.value.facts["variant"] == "hyperparameter"


# --------------------------------------------------------------------------- held-out


def _scores_data() -> tuple[str, torch.Tensor]:
    torch.manual_seed(3)
    X = torch.rand(40, 4)
    y = (X[:, 0] > X[:, 1]).long()  # class 1 when feature 0 beats feature 1
    return _npz(X.numpy(), y.numpy()), X


def test_heldout_accuracy_of_a_model_and_of_a_from_scratch_formula():
    data, _ = _scores_data()
    good = export("net = nn.Linear(4, 2)\nwith torch.no_grad():\n"
                  "    net.weight.copy_(torch.tensor([[0., 1, 0, 0], [1., 0, 0, 0]]))\n"
                  "    net.bias.zero_()", "net")  # fmt: skip
    f = mr.heldout_finding("net", (), data, 0.99, good)
    assert f.passed and f.facts["accuracy"] == "100.0%"
    bad = export("net = nn.Linear(4, 2)\nwith torch.no_grad():\n"
                 "    net.weight.copy_(torch.tensor([[1., 0, 0, 0], [0., 1, 0, 0]]))\n"
                 "    net.bias.zero_()", "net")  # fmt: skip
    f = mr.heldout_finding("net", (), data, 0.9, bad)
    assert f.diagnostic == "heldout-accuracy" and f.facts["variant"] == "low"
    assert "0.0% of 40 held-out" in render("heldout-accuracy", {**f.facts, "name": "net"})["en"]
    # From scratch: tensors W, b and the exercise's declared formula.
    W = "W = torch.tensor([[0., 1], [1., 0], [0, 0], [0, 0]])\nb = torch.zeros(2)"
    d = export(W, "W", "b")
    assert mr.heldout_finding("torch.softmax(X @ W + b, dim=1)", ("W", "b"), data, 0.99, d).passed
    wrong = export(W.replace("[[0., 1], [1., 0]", "[[1., 0], [0., 1]"), "W", "b")
    assert not mr.heldout_finding("X @ W + b", ("W", "b"), data, 0.5, wrong).passed
    shape = export("W = torch.zeros(4, 1)\nb = torch.zeros(1)", "W", "b")
    f = mr.heldout_finding("X @ W + b", ("W", "b"), data, 0.5, shape)
    assert f.diagnostic == "heldout-accuracy" and f.facts["variant"] == "shape"
    assert "(40, 1)" in render("heldout-accuracy", f.facts)["en"]


def test_heldout_data_never_travels_to_the_run():
    spec = SPECS["mlp-digits"]
    held = next(c for c in spec.checks if c.heldout)
    job = grader._job(spec, grader.build_payload(spec, spec.solution))
    blob = base64.b64decode(held.heldout_data)
    assert set(job.files) == {"digits_train.b64"}
    assert held.heldout_data not in job.payload.decode()
    assert all(blob not in v and held.heldout_data.encode() not in v for v in job.files.values())


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize(
    ("code", "variant", "en"),
    [
        ("net = nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.Linear(256, 10))", "missing",
         "ReLU missing between `Linear(64, 256)` and `Linear(256, 10)`"),
        ("net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.ReLU(), nn.Linear(256, 10))",
         "changed", "Layer 1 of `net` is `Linear(64, 10)` but should be `Linear(64, 256)`"),
        ("net = nn.Sequential(nn.Linear(64, 10), nn.Linear(10, 10))", "layers",
         "Layer 1 of `net` is `Linear(64, 10)` but should be `Linear(64, 256)`"),
        ("net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))",
         "extra", "Layer 3 of `net`, `Dropout(p=0.5)`, is not expected"),
        ("net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10, bias=False))",
         "changed", "should be `Linear(256, 10)`"),
    ],
)  # fmt: skip
def test_structure_diff_names_the_difference(code, variant, en):
    ref = export(MLP, "net").values["net"]
    f = mr.structure_finding(ref, export(code, "net").values["net"])
    assert f.diagnostic == "structure-mismatch" and f.facts["variant"] == variant
    assert en in render("structure-mismatch", {**f.facts, "name": "net"})["en"]


def test_structure_passes_sequential_custom_module_and_no_flatten():
    ref = export(MLP, "net").values["net"]
    for code in (MLP, CUSTOM, "net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), "
                 "nn.Linear(256, 10))"):  # fmt: skip
        assert mr.structure_finding(ref, export(code, "net").values["net"]).passed, code


# --------------------------------------------------------------------------- loss curve


@pytest.mark.parametrize(
    ("losses", "variant", "en"),
    [
        ("[2.3, 40.0, float('nan')]", "nan", "learning rate is most likely too high"),
        ("[2.3, 2.3, 2.3]", "flat", "did not move"),
        ("[1.0, 1.5]", "up", "went up"),
        ("[1.0, 0.5]", "high", "above 0.1"),
        ("[0.2]", "short", "at least 2"),
        ("'low'", "type", "list of the losses"),
    ],
)
def test_loss_curve_messages(losses, variant, en):
    d = export(f"losses = {losses}", "losses")
    f = mr.loss_finding("losses", d.values["losses"], 0.1)
    assert f.diagnostic == "loss-curve" and f.facts["variant"] == variant
    assert en in render("loss-curve", {**f.facts, "name": "losses"})["en"]


def test_loss_curve_accepts_floats_tensors_and_a_tensor():
    for code in ("[1.0, 0.5, 0.05]", "[torch.tensor(1.0), torch.tensor(0.05)]",
                 "torch.tensor([1.0, 0.05])"):  # fmt: skip
        d = export(f"losses = {code}", "losses")
        assert mr.loss_finding("losses", d.values["losses"], 0.1).passed, code


def test_every_training_template_renders_in_both_languages():
    for code, variant in TRAINING_TEMPLATES.items():
        facts = {"variant": variant, "name": "net", "actual_type": "a list"}
        out = render(code, facts)
        assert set(out) == {"en", "zh-hans"} and all(out.values())
        assert out["en"] != out["zh-hans"]


# --------------------------------------------------------------------------- real lessons


def _grade(pool, slug: str, code: str):
    return grader.grade(SPECS[slug], code, pool=pool)


def _diags(verdict) -> set:
    return {c.diagnostic for c in verdict.checks if not c.passed}


LOOP = (
    "for epoch in range({epochs}):\n"
    "    for X, y in train_iter:\n"
    "        l = loss(net(X), y)\n"
    "        trainer.zero_grad()\n"
    "        l.backward()\n"
    "        {step}\n"
    "    with torch.no_grad():\n"
    "        losses.append(loss(net(X_train), y_train).item())\n"
)
HEAD = (
    "train_iter = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True)\n"
    "loss = nn.CrossEntropyLoss()\nlosses = []\n"
)


def test_softmax_digits_passes_and_catches_softmax_before_cross_entropy(pool):
    net = "net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n"
    sgd = "trainer = torch.optim.SGD(net.parameters(), lr=0.5)\n"
    ok = _grade(pool, "softmax-digits", HEAD + net + sgd + LOOP.format(epochs=10,
                step="trainer.step()"))  # fmt: skip
    assert ok.outcome == "passed", [c.messages["en"] for c in ok.checks]
    # Probabilities into CrossEntropyLoss: it trains, slowly; the loss stays high.
    twice = net.replace("nn.Linear(64, 10))", "nn.Linear(64, 10), nn.Softmax(dim=1))")
    v = _grade(pool, "softmax-digits", HEAD + twice + sgd + LOOP.format(epochs=10,
               step="trainer.step()"))  # fmt: skip
    assert v.outcome == "failed" and "loss-curve" in _diags(v)
    # Forgot step(): the loss does not move and the model is no better than chance.
    v = _grade(pool, "softmax-digits", HEAD + net + sgd + LOOP.format(epochs=3, step="pass"))
    assert {"loss-curve", "heldout-accuracy"} <= _diags(v)
    assert any("did not move" in c.messages["en"] for c in v.checks)
    # Learning rate far too high: nan.
    v = _grade(pool, "softmax-digits", HEAD + net + sgd.replace("0.5", "1e38")
               + LOOP.format(epochs=3, step="trainer.step()"))  # fmt: skip
    assert any("training diverged" in c.messages["en"] for c in v.checks)


def test_mlp_digits_custom_module_and_hand_written_update_pass_missing_relu_fails(pool):
    manual = (
        CUSTOM.replace("net = MLP()", "torch.manual_seed(0)\nnet = MLP()")
        + "loss = nn.CrossEntropyLoss()\nlosses = []\n"
        + "for epoch in range(10):\n"
        "    perm = torch.randperm(len(X_train))\n"
        "    for i in range(0, len(perm), 64):\n"  # manual batching, no DataLoader
        "        idx = perm[i:i + 64]\n"
        "        l = loss(net(X_train[idx]), y_train[idx])\n"
        "        for p in net.parameters():\n"
        "            p.grad = None\n"
        "        l.backward()\n"
        "        with torch.no_grad():\n"  # a hand-written SGD update
        "            for p in net.parameters():\n"
        "                p -= 0.5 * p.grad\n"
        "    with torch.no_grad():\n"
        "        losses.append(loss(net(X_train), y_train).item())\n"
        "num_params = sum(p.numel() for p in net.parameters())\n"
    )
    v = _grade(pool, "mlp-digits", manual)
    assert v.outcome == "passed", [c.messages["en"] for c in v.checks if not c.passed]
    no_relu = SPECS["mlp-digits"].solution.replace("nn.ReLU(), ", "")
    v = _grade(pool, "mlp-digits", no_relu)
    structure = next(c for c in v.checks if c.diagnostic == "structure-mismatch")
    en = structure.messages["en"]
    assert "ReLU missing between `Linear(64, 256)` and `Linear(256, 10)`" in en
    assert "缺少 ReLU" in structure.messages["zh-hans"]
    conv = SPECS["mlp-digits"].solution.replace("nn.ReLU()", "nn.LeakyReLU()")
    v = _grade(pool, "mlp-digits", conv)
    unsupported = [c for c in v.checks if c.diagnostic == "model-unsupported"]
    assert unsupported and "`LeakyReLU`, which is not supported" in unsupported[0].messages["en"]


def test_linreg_concise_manual_batches_pass_and_lr_zero_fails(pool):
    manual = (
        "class Lin(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.linear = nn.Linear(2, 1)\n"
        "    def forward(self, x):\n"
        "        return self.linear(x)\n"
        "net = Lin()\nloss = nn.MSELoss()\n"
        "trainer = torch.optim.SGD(net.parameters(), lr=0.03)\nlosses = []\n"
        "for epoch in range(3):\n"
        "    for i in range(0, 1000, 10):\n"
        "        l = loss(net(features[i:i + 10]), labels[i:i + 10])\n"
        "        trainer.zero_grad()\n        l.backward()\n        trainer.step()\n"
        "    losses.append(float(loss(net(features), labels)))\n"
        "w, b = net.linear.weight.data, net.linear.bias.data\n"
    )
    v = _grade(pool, "linreg-concise", manual)
    assert v.outcome == "passed", [c.messages["en"] for c in v.checks if not c.passed]
    v = _grade(pool, "linreg-concise", SPECS["linreg-concise"].solution.replace("lr=0.03", "lr=0"))
    assert any("did not move" in c.messages["en"] for c in v.checks)
    v = _grade(pool, "linreg-concise", SPECS["linreg-concise"].solution.replace(
        "nn.Linear(2, 1))", "nn.Linear(2, 1), nn.ReLU())"))  # fmt: skip
    assert "structure-mismatch" in _diags(v)


def test_softmax_from_scratch_formula_passes_naive_loss_and_least_squares_fail(pool):
    spec = SPECS["softmax-scratch-digits"]
    v = _grade(pool, "softmax-scratch-digits", spec.solution)
    assert v.outcome == "passed"
    # Softmax then log, without LogSumExp: exp(1000) overflows and the loss is nan.
    naive = spec.solution.replace(
        "    m = logits.max(dim=1, keepdim=True).values\n"
        "    log_probs = logits - m - torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))\n",
        "    e = torch.exp(logits)\n    log_probs = torch.log(e / e.sum(dim=1, keepdim=True))\n",
    )
    assert naive != spec.solution
    v = _grade(pool, "softmax-scratch-digits", naive)
    ce = next(c for c in v.checks if c.name.startswith("cross_entropy"))
    assert not ce.passed
    # A least-squares fit of one-hot labels classifies fine but was never trained: the
    # held-out accuracy alone would let it through; the training rule does not.
    head = spec.solution.split("train_iter = ")[0]
    lstsq = head + (
        "losses = [1.0, 0.3]\n"  # a forged curve
        "with torch.no_grad():\n"
        "    Xb = torch.cat([X_train, torch.ones(len(X_train), 1)], dim=1)\n"
        "    sol = torch.linalg.pinv(Xb) @ nn.functional.one_hot(y_train, 10).float()\n"
        "W = sol[:64].clone().requires_grad_()\n"
        "b = sol[64].clone().requires_grad_()\n"
    )
    v = _grade(pool, "softmax-scratch-digits", lstsq)
    assert "not-trained" in _diags(v)
    assert next(c for c in v.checks if "held-out" in c.name).passed
