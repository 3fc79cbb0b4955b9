"""The lesson 'generalization' (issue 13: under/overfitting, weight decay, dropout) against
wrong-but-plausible student code, through the real grader and the fake pool: each mistake
is caught with a message that says what to fix; correct alternative styles pass.

Only this lesson is loaded, so a lesson being written elsewhere cannot break these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from courses.loader import load_lesson
from grading import grader

ROOT = Path(__file__).resolve().parents[2]
SPECS = {s.slug: s for s in load_lesson(ROOT / "lessons" / "generalization").exercises}


def _grade(pool, slug: str, code: str):
    return grader.grade(SPECS[slug], code, pool=pool)


def _failed(verdict) -> dict[str, object]:
    """Failed checks: label -> the check (diagnostic, messages)."""
    return {c.name: c for c in verdict.checks if not c.passed}


def _passes(verdict) -> None:
    assert verdict.outcome == "passed", {k: c.messages["en"] for k, c in _failed(verdict).items()}


def test_the_lesson_has_the_exercises_in_order():
    assert list(SPECS) == ["poly-fit", "poly-diagnose", "l2-penalty", "weight-decay-concise",
                           "dropout-layer", "dropout-mlp"]  # fmt: skip
    mode = [c for c in SPECS["dropout-mlp"].checks if c.mode]
    assert [(c.mode, c.expect) for c in mode] == [("net", "eval")]


# --------------------------------------------------------------------------- poly-fit

POLY = SPECS["poly-fit"].solution


def test_poly_fit_manual_batches_and_hand_written_update_pass(pool):
    manual = (
        "train_features = poly_features[:n_train, :4]\n"
        "test_features = poly_features[n_train:, :4]\n"
        "net = nn.Sequential(nn.Linear(4, 1, bias=False))\n"
        "train_losses, test_losses = [], []\n"
        "for epoch in range(60):\n"
        "    perm = torch.randperm(n_train)\n"
        "    for i in range(0, n_train, 10):\n"
        "        idx = perm[i:i + 10]\n"
        "        l = ((net(train_features[idx]) - train_labels[idx]) ** 2).mean()\n"
        "        net.zero_grad()\n"
        "        l.backward()\n"
        "        with torch.no_grad():\n"
        "            for p in net.parameters():\n"
        "                p -= 0.05 * p.grad\n"
        "    with torch.no_grad():\n"
        "        train_losses.append(float(((net(train_features) - train_labels) ** 2).mean()))\n"
        "        test_losses.append(float(((net(test_features) - test_labels) ** 2).mean()))\n"
        "w = net[0].weight.detach().reshape(-1)\n"
    )
    _passes(_grade(pool, "poly-fit", manual))


def test_poly_fit_a_least_squares_solve_is_not_training(pool):
    solved = POLY.replace(
        "w = net[0].weight.data.reshape(-1)",
        "with torch.no_grad():\n"
        "    net[0].weight.copy_(torch.linalg.lstsq(train_features, train_labels)"
        ".solution.T)\nw = net[0].weight.data.reshape(-1)",
    ).replace("for epoch in range(60):", "for epoch in range(0):")
    failed = _failed(_grade(pool, "poly-fit", solved))
    # The solved weights are right (the w check passes), but nothing was trained.
    assert set(failed) == {"net[0].weight", "train_losses go down and end below 0.02",
                           "test_losses go down and end below 0.02"}  # fmt: skip
    assert failed["net[0].weight"].diagnostic == "not-trained"


def test_poly_fit_all_twenty_features_fail_the_structure(pool):
    code = POLY.replace(":4]", "]").replace("nn.Linear(4, 1", "nn.Linear(20, 1")
    failed = _failed(_grade(pool, "poly-fit", code))
    layers = failed["net is one Linear(4, 1, bias=False) layer"]
    assert layers.diagnostic == "structure-mismatch"
    assert "`Linear(20, 1, bias=False)` but should be `Linear(4, 1, bias=False)`" in \
        layers.messages["en"]


def test_poly_fit_forgetting_step_leaves_a_flat_loss(pool):
    failed = _failed(_grade(pool, "poly-fit", POLY.replace("trainer.step()", "pass")))
    assert "did not move" in failed["train_losses go down and end below 0.02"].messages["en"]


# --------------------------------------------------------------------------- poly-diagnose

DIAGNOSE = SPECS["poly-diagnose"].solution


def test_poly_diagnose_another_style_passes(pool):
    code = ("gaps = {}\nfor name in results:\n    train, test = results[name]\n"
            "    gaps[name] = test - train\n"
            "underfit = max(results, key=lambda n: results[n][0])\n"
            "overfit = max(results, key=lambda n: results[n][1] / results[n][0])\n")  # fmt: skip
    _passes(_grade(pool, "poly-diagnose", code))


@pytest.mark.parametrize(
    ("code", "label", "en"),
    [
        # The largest gap belongs to the underfitting linear model.
        ("overfit = max(gaps, key=gaps.get)", "overfit", "largest gap only because both"),
        ("underfit = 'degree-19'", "underfit", "**training** loss stays high"),
        ("gaps = {n: train - test for n, (train, test) in results.items()}",
         "gaps (test loss − training loss per model)", "not train − test"),
    ],
)  # fmt: skip
def test_poly_diagnose_plausible_mistakes(pool, code, label, en):
    failed = _failed(_grade(pool, "poly-diagnose", DIAGNOSE + code + "\n"))
    assert set(failed) == {label}
    assert en in failed[label].messages["en"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in failed[label].messages["zh-hans"])


# --------------------------------------------------------------------------- l2-penalty

L2 = SPECS["l2-penalty"].solution


def test_l2_penalty_other_formulas_pass(pool):
    for body in ("(w ** 2).sum() / 2", "torch.norm(w) ** 2 / 2", "0.5 * (w * w).sum()"):
        _passes(_grade(pool, "l2-penalty", L2.replace("torch.sum(w.pow(2)) / 2", body)))


@pytest.mark.parametrize(
    ("body", "failing"),
    [
        ("w.norm()", {"l2_penalty(torch.tensor([3.0, -4.0])) is 12.5",
                      "l2_penalty of a (2, 3) matrix",
                      "l2_penalty of a (3, 1) column is a 0-d tensor"}),
        # Right for a vector, a (1, 1) matrix for a column, a Gram matrix for a matrix.
        ("w.T @ w / 2", {"l2_penalty of a (2, 3) matrix",
                         "l2_penalty of a (3, 1) column is a 0-d tensor"}),
        ("(w ** 2).mean() / 2", None),
    ],
)  # fmt: skip
def test_l2_penalty_wrong_formulas_fail_the_calls(pool, body, failing):
    failed = _failed(_grade(pool, "l2-penalty", L2.replace("torch.sum(w.pow(2)) / 2", body)))
    calls = {k for k in failed if k.startswith("l2_penalty")}
    assert calls == (failing or {k for k in calls}) and calls


def test_l2_penalty_left_out_of_the_loss_keeps_w_large(pool):
    code = L2.replace(" + lambd * l2_penalty(w)", "")
    failed = _failed(_grade(pool, "l2-penalty", code))
    assert set(failed) == {"‖w‖ < 0.5 (weight decay shrank the weights)", "test loss < 0.5"}
    assert "lambd * l2_penalty(w)" in failed["‖w‖ < 0.5 (weight decay shrank the weights)"]\
        .messages["en"]


# --------------------------------------------------------------------------- weight decay

WD = SPECS["weight-decay-concise"].solution


def test_weight_decay_by_name_or_by_hand_passes(pool):
    named = WD.replace(
        '[{"params": net[0].weight, "weight_decay": wd}, {"params": net[0].bias}]',
        '[{"params": [p for n, p in net.named_parameters() if n.endswith("weight")], '
        '"weight_decay": wd},\n     {"params": [p for n, p in net.named_parameters() '
        'if n.endswith("bias")], "weight_decay": 0}]',
    )
    _passes(_grade(pool, "weight-decay-concise", named))
    # The penalty wd/2 ‖w‖² in the loss has the gradient wd·w: the same update.
    by_hand = WD.replace(
        '[{"params": net[0].weight, "weight_decay": wd}, {"params": net[0].bias}]',
        "net.parameters()",
    ).replace("l = loss(net(X), y)", "l = loss(net(X), y) + wd / 2 * net[0].weight.pow(2).sum()")
    _passes(_grade(pool, "weight-decay-concise", by_hand))


def test_weight_decay_on_the_bias_too_is_caught(pool):
    code = WD.replace(
        '[{"params": net[0].weight, "weight_decay": wd}, {"params": net[0].bias}]',
        "net.parameters(), weight_decay=wd",
    )
    failed = _failed(_grade(pool, "weight-decay-concise", code))
    assert "net[0].bias" in failed
    assert "must **not** be decayed" in failed["net[0].bias"].messages["en"]
    assert "不应" in failed["net[0].bias"].messages["zh-hans"]


def test_no_weight_decay_is_caught(pool):
    code = WD.replace(', "weight_decay": wd}', "}")
    failed = _failed(_grade(pool, "weight-decay-concise", code))
    assert {"net[0].weight", "test loss < 0.5"} <= set(failed)


# --------------------------------------------------------------------------- dropout-layer

DROP = SPECS["dropout-layer"].solution
MASK = "mask = (torch.rand(X.shape) > p).float()"


@pytest.mark.parametrize(
    "mask", ["mask = (torch.rand_like(X) > p).float()",
             "mask = torch.bernoulli(torch.full_like(X, 1 - p))",
             "mask = (torch.rand(X.shape) < 1 - p).to(X.dtype)"],
)  # fmt: skip
def test_dropout_layer_other_masks_pass(pool, mask):
    _passes(_grade(pool, "dropout-layer", DROP.replace(MASK, mask)))


@pytest.mark.parametrize(
    ("code", "failing", "en"),
    [
        (DROP.replace(" / (1.0 - p)", ""), "the kept elements of out are 1 / 0.7",
         "do\nnot forget to rescale"),
        (DROP.replace("(1.0 - p)", "p"), "the kept elements of out are 1 / 0.7", "not by `p`"),
        (DROP.replace("> p", "< p"), "about 30% of out is dropped",
         "probability of **dropping**"),
        (DROP.replace("    if p == 1:\n        return torch.zeros_like(X)\n", ""),
         "dropout_layer(X, 1) returns zeros", "nan"),
    ],
)  # fmt: skip
def test_dropout_layer_plausible_mistakes(pool, code, failing, en):
    failed = _failed(_grade(pool, "dropout-layer", code))
    assert failing in failed, list(failed)
    assert en in failed[failing].messages["en"]


# --------------------------------------------------------------------------- dropout-mlp

MLP = SPECS["dropout-mlp"].solution


def test_dropout_mlp_custom_module_passes(pool):
    custom = MLP.replace(
        "net = nn.Sequential(nn.Flatten(),\n"
        "                    nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),\n"
        "                    nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.5),\n"
        "                    nn.Linear(256, 10))\n",
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lin1 = nn.Linear(64, 256)\n"
        "        self.relu1 = nn.ReLU()\n"
        "        self.drop1 = nn.Dropout(0.2)\n"
        "        self.lin2 = nn.Linear(256, 256)\n"
        "        self.relu2 = nn.ReLU()\n"
        "        self.drop2 = nn.Dropout(0.5)\n"
        "        self.lin3 = nn.Linear(256, 10)\n"
        "    def forward(self, X):\n"
        "        H = self.drop1(self.relu1(self.lin1(X.reshape(-1, 64))))\n"
        "        return self.lin3(self.drop2(self.relu2(self.lin2(H))))\n"
        "net = Net()\n",
    )
    assert custom != MLP
    _passes(_grade(pool, "dropout-mlp", custom))


@pytest.mark.parametrize(
    ("code", "variant", "en"),
    [
        # eval() forgotten: the loss is measured with dropout on, the model left training.
        (MLP.replace("    net.eval()\n", ""), "eval", "`net` is still in training mode: call "
         "`net.eval()` before evaluating"),
        # The model's flag alone: its Dropout layers keep dropping.
        (MLP.replace("    net.eval()\n", "") + "net.training = False\n", "eval-layer",
         "its layer `3` (Dropout) is still in training mode"),
        # train() after the last evaluation.
        (MLP + "net.train()\n", "eval", "still in training mode"),
    ],
)  # fmt: skip
def test_dropout_mlp_left_in_training_mode_is_caught(pool, code, variant, en):
    failed = _failed(_grade(pool, "dropout-mlp", code))
    mode = failed["net ends in evaluation mode"]
    assert mode.diagnostic == "model-mode"
    assert en in mode.messages["en"]
    assert "net.eval()" in mode.messages["zh-hans"]
    assert set(failed) <= {"net ends in evaluation mode", "losses go down and end below 0.3"}


def test_dropout_mlp_without_dropout_fails_the_structure(pool):
    code = MLP.replace(" nn.Dropout(0.2),", "").replace(" nn.Dropout(0.5),", "")
    failed = _failed(_grade(pool, "dropout-mlp", code))
    assert failed["layers of net"].diagnostic == "structure-mismatch"
