"""Issue 13, mode checks: a model must end the cell in eval() (or train()) mode, the model
and every layer in it. The run exports each layer's ``training`` flag (wire ``modes``);
older exports without it fall back to the model's own flag."""

from __future__ import annotations

import json

import pytest

from grading import grader, harness, wire
from grading import models_rebuild as mr
from grading.checks import run_check
from grading.messages import render
from grading.spec import CheckSpec, ExerciseSpec


def export(code: str, *names: str) -> wire.Decoded:
    payload = {"mode": "submit", "setup": "import torch\nfrom torch import nn\n", "code": code,
               "export": list(names)}  # fmt: skip
    return wire.decode(harness.main(json.dumps(payload).encode()))


def _raw(code: str) -> bytes:
    payload = {"mode": "submit", "setup": "import torch\nfrom torch import nn\n", "code": code,
               "export": ["net"]}  # fmt: skip
    return harness.main(json.dumps(payload).encode())


NET = "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))\n"


def _finding(code: str, expect: str = "eval"):
    return mr.mode_finding("net", export(code, "net").values["net"], expect)


def test_wire_exports_the_mode_of_every_layer():
    d = export(NET + "net.eval()\nnet[2].train()", "net")
    m = d.values["net"]
    assert m.training is False
    assert m.modes == [False, False, False, True, False]
    assert [name for name, _, _ in m.layers] == ["", "0", "1", "2", "3"]


def test_an_export_without_modes_still_decodes_and_uses_the_model_s_flag():
    # An export of an older worker has no "modes": decode it, judge the root's flag.
    raw = _raw(NET + "net.eval()")
    head = 8 + int.from_bytes(raw[4:8], "big")
    doc = json.loads(raw[8:head])
    del doc["values"]["net"]["modes"]
    body = json.dumps(doc).encode()
    old = wire.decode(raw[:4] + len(body).to_bytes(4, "big") + body + raw[head:])
    assert old.values["net"].modes is None
    assert mr.mode_finding("net", old.values["net"], "eval").passed
    assert not mr.mode_finding("net", old.values["net"], "train").passed


@pytest.mark.parametrize("modes", [[True], "yes", [1, 0, 0, 0, 0], [True] * 4 + ["no"]])
def test_forged_modes_are_refused(modes):
    raw = _raw(NET)
    head = 8 + int.from_bytes(raw[4:8], "big")
    doc = json.loads(raw[8:head])
    doc["values"]["net"]["modes"] = modes
    body = json.dumps(doc).encode()
    with pytest.raises(wire.WireError):
        wire.decode(raw[:4] + len(body).to_bytes(4, "big") + body + raw[head:])


@pytest.mark.parametrize(
    "code",
    [NET + "net.eval()", NET + "net.train(False)", NET + "net.train()\nnet.eval()",
     NET + "for m in net.modules():\n    m.eval()",
     "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.a = nn.Linear(4, 8)\n        self.drop = nn.Dropout(0.2)\n"
     "        self.b = nn.Linear(8, 2)\n"
     "    def forward(self, x):\n        return self.b(self.drop(self.a(x)))\n"
     "net = Net().eval()"],
)  # fmt: skip
def test_eval_mode_passes_in_any_style(code):
    assert _finding(code).passed


@pytest.mark.parametrize(
    ("code", "variant", "en", "zh"),
    [
        (NET, "eval", "`net` is still in training mode: call `net.eval()` before evaluating; "
         "dropout stays active", "`net` 仍处于训练模式：评估之前请调用 `net.eval()`"),
        (NET + "net.eval()\nnet.train()", "eval", "still in training mode", "训练模式"),
        # The flag of the model alone: its dropout layer still drops.
        (NET + "net.training = False", "eval-layer", "its layer `2` (Dropout) is still in "
         "training mode", "它的层 `2`（Dropout）仍处于训练模式"),
        # A layer whose mode changes nothing is named only when no dropout is left.
        (NET + "net.eval()\nnet[0].train()", "eval-layer", "its layer `0` (Linear)", "`0`"),
        (NET + "net.eval()\nnet[2].train()", "eval-layer", "its layer `2` (Dropout)",
         "`2`（Dropout）"),
        # eval() on the dropout layer only: the model itself is still in training mode.
        (NET + "net[2].eval()", "eval", "still in training mode", "仍处于训练模式"),
        ("net = [1, 2]", "not-module", "`net` is a list but should be a model", "list"),
    ],
)  # fmt: skip
def test_a_model_left_in_training_mode_is_caught(code, variant, en, zh):
    f = _finding(code)
    assert f.diagnostic == "model-mode" and f.facts["variant"] == variant
    messages = render("model-mode", {**f.facts, "name": "net"})
    assert en in messages["en"]
    assert zh in messages["zh-hans"]


def test_train_mode_expected():
    assert _finding(NET, "train").passed
    assert _finding(NET + "net.eval()\nnet.train()", "train").passed
    f = _finding(NET + "net.eval()", "train")
    assert (f.diagnostic, f.facts["variant"]) == ("model-mode", "train")
    assert "call `net.train()`" in render("model-mode", {**f.facts, "name": "net"})["en"]
    f = _finding(NET + "net[2].eval()", "train")
    assert f.facts["variant"] == "train-layer" and f.facts["layer"] == "2"
    assert "`2`（Dropout）" in render("model-mode", {**f.facts, "name": "net"})["zh-hans"]


def test_a_missing_model_is_a_missing_name():
    f = mr.mode_finding("net", wire.MissingValue("name", "net"), "eval")
    assert f.diagnostic == "missing-name"


def _spec(*checks: CheckSpec) -> ExerciseSpec:
    return ExerciseSpec(slug="demo-mode", lesson="demo", setup="import torch\nfrom torch "
                        "import nn\n", solution=NET + "net.eval()", starter=NET,
                        checks=checks)  # fmt: skip


def test_the_grader_exports_the_model_and_judges_it(pool):
    spec = _spec(CheckSpec(mode="net", label="net is in eval mode"))
    assert grader.export_names(spec)[0] == ["net"]
    ok = grader.grade(spec, NET + "net.eval()", pool=pool)
    assert ok.outcome == "passed", [c.messages for c in ok.checks]
    bad = grader.grade(spec, NET, pool=pool)
    (check,) = bad.checks
    assert bad.outcome == "failed" and check.diagnostic == "model-mode"
    assert "call `net.eval()` before evaluating" in check.messages["en"]
    assert "net.eval()" in check.messages["zh-hans"]
    assert check.expected is None and check.actual is None
    hidden = grader.grade(_spec(CheckSpec(mode="net", hidden=True)), NET, pool=pool)
    assert "net.eval()" not in hidden.checks[0].messages["en"]


def test_run_check_names_the_model_not_the_label():
    spec = _spec(CheckSpec(mode="net", label="the mode"))
    ref = export(NET + "net.eval()", "net")
    result = run_check(spec, spec.checks[0], 0, ref, export(NET, "net"))
    assert not result.passed and "`net` is still in training mode" in result.messages["en"]


def test_fingerprint_of_checks_without_mode_is_unchanged():
    # A check that is not a mode check hashes as it did before the kind existed.
    spec = _spec(CheckSpec(name="x"))
    data = spec.to_dict()
    assert data["checks"][0]["mode"] is None
    with_mode = _spec(CheckSpec(name="x"), CheckSpec(mode="net"))
    assert spec.grading_fingerprint() != with_mode.grading_fingerprint()
    train = _spec(CheckSpec(name="x"), CheckSpec(mode="net", expect="train"))
    assert train.grading_fingerprint() != with_mode.grading_fingerprint()
