"""Issue 13: "training really happened", gradients that autograd wrote, and the messages the
course review found too thin (hidden Chinese fallback, articles, NaN rows, broadcast tip).

Harness-level tests run ``harness.main`` in this process on trusted, simple code; the rules
against real lessons (copied weights, least squares, ``x.grad = ...``) are in
test_curriculum_mistakes.py."""

from __future__ import annotations

import json

import numpy as np
import torch

from grading import bounds, harness, wire
from grading import compare as cmp
from grading.diagnostics import annotate, classify_error, setup_seed
from grading.messages import article, render
from grading.verdict import CheckResult

LINREG = (
    "import torch\n"
    "X = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))\n"
    "Y = X @ torch.tensor([[2.0], [-3.4]]) + 4.2\n"
)


def run(code: str, setup: str = LINREG, export=("w",), train=("w",)) -> wire.Decoded:
    payload = {"mode": "submit", "setup": setup, "code": code, "export": list(export),
               "train": list(train)}  # fmt: skip
    return wire.decode(harness.main(json.dumps(payload).encode()))


SGD = (
    "w = torch.zeros(2, 1, requires_grad=True)\n"
    "for _ in range(30):\n"
    "    ((X @ w - Y) ** 2).mean().backward()\n"
    "    with torch.no_grad():\n"
    "        w -= 0.1 * w.grad\n"
    "        w.grad.zero_()\n"
)


def test_harness_counts_steps_and_updates_of_a_trained_parameter():
    d = run(SGD)
    assert d.extra["training"]["w"] == {"steps": 30, "updates": 30}
    assert torch.equal(d.values["init:w"], torch.zeros(2, 1))


def test_backward_without_an_update_is_no_training():
    d = run("w = torch.tensor([[2.0], [-3.4]], requires_grad=True)\n"
            "for _ in range(30):\n    ((X @ w - Y) ** 2).mean().backward()\n")  # fmt: skip
    assert d.extra["training"]["w"] == {"steps": 30, "updates": 0}
    f = cmp.trained(d.values["w"], d.values["init:w"], d.extra["training"]["w"], 10)
    assert f.diagnostic == "not-trained" and f.facts["variant"] == "updates"


def test_trained_rule_passes_sgd_and_refuses_a_copy_and_a_small_nudge():
    d = run(SGD)
    assert cmp.trained(d.values["w"], d.values["init:w"], d.extra["training"]["w"], 10, 0.5).passed
    copied = run("w = torch.tensor([[2.0], [-3.4]], requires_grad=True)")
    f = cmp.trained(copied.values["w"], None, copied.extra["training"].get("w"), 10, 0.5)
    assert f.facts["variant"] == "no-backward"
    # Start at the answer and take real steps: it moved, but far too little.
    nudged = run(SGD.replace("torch.zeros(2, 1, requires_grad=True)",
                             "torch.tensor([[2.01], [-3.39]], requires_grad=True)"))  # fmt: skip
    rec = nudged.extra["training"]["w"]
    f = cmp.trained(nudged.values["w"], nudged.values["init:w"], rec, 10, 0.5)
    assert f.diagnostic == "not-trained" and f.facts["variant"] == "moved"
    assert "solved for" in render("not-trained", {**f.facts, "name": "w"})["en"]


def test_grad_origin_records_backward_replaced_and_none():
    setup = "import torch\nx = torch.arange(4.0, requires_grad=True)\n"
    cases = {
        "(x * x).sum().backward()": "backward",
        "(x * x).sum().backward()\nx.grad = 2 * x.detach()": "replaced",
        "(x * x).sum().backward()\nx.grad.mul_(1.0)": "replaced",
        "x.grad = 2 * x.detach()": "none",
        "pass": "missing",
    }
    for code, origin in cases.items():
        d = run(code, setup, export=("x.grad",), train=())
        assert d.extra["grad_origin"] == {"x.grad": origin}, code
    assert cmp.grad_origin(torch.ones(2), "backward").passed
    assert cmp.grad_origin(torch.ones(2), None).facts["variant"] == "no-backward"  # fail closed
    assert cmp.grad_origin(None, None).passed  # None is grad-missing, compare's business


def test_bounds_keep_only_known_origins_and_whole_counts():
    extra = {
        "grad_origin": {"x.grad": "backward", "y.grad": "forged", "z": "backward"},
        "training": {"w": {"steps": 3, "updates": "many"}, "b": {"steps": 2, "updates": 2},
                     "q": {"steps": 9, "updates": 9}},
    }  # fmt: skip
    out = bounds.clean_extra(extra, calls=0, exports=["x.grad", "y.grad", "z"], train=["w", "b"])
    assert out["grad_origin"] == {"x.grad": "backward"}
    assert out["training"] == {"b": {"steps": 2, "updates": 2}}


def test_hidden_fallback_says_what_in_words_in_both_languages():
    msg = render("grad-missing", {"name": "f"}, hidden=True)
    assert "grad-missing" not in msg["zh-hans"] and "没有计算梯度" in msg["zh-hans"]
    assert "no gradient" in msg["en"]
    unknown = render("xor-operator", {"name": "f"}, hidden=True)
    assert "xor-operator" not in unknown["en"] + unknown["zh-hans"]


def test_english_articles():
    assert [article(w) for w in ("int", "ndarray", "tensor", "object", "None")] == [
        "an int", "an ndarray", "a tensor", "an object", "a None"]  # fmt: skip
    msg = render("wrong-type", {"name": "n", "actual_type": "int", "expected_type": "ndarray"})
    assert msg["en"] == "`n` is an int but should be an ndarray."


def test_nan_rows_when_the_student_has_none():
    e = wire.Column("float64", np.array([1.0, np.nan]), [1])
    a = wire.Column("float64", np.array([1.0, 2.0]), [])
    f = cmp.compare_column(e, a, cmp.Options(), "c")
    assert f.facts["variant"] == "nan-none"
    text = render(f.diagnostic, {**f.facts, "name": "df"})["en"]
    assert "holds no NaN" in text and "rows none" not in text


def _broadcast(left: str, right: str) -> dict:
    rec = {"type": "RuntimeError", "line": 1,
           "message": "The size of tensor a (5) must match the size of tensor b (4) at "
           "non-singleton dimension 1",
           "facts": {"operands": [{"op": "Div", "left": left, "right": right,
                                   "left_shape": [5, 4], "right_shape": [5]}]}}  # fmt: skip
    code, facts = classify_error(rec)
    assert code == "broadcast-shape"
    return render(code, facts)


def test_keepdim_tip_only_when_a_reduction_caused_the_mismatch():
    assert "keepdim" in _broadcast("A", "A.sum(axis=1)")["en"]
    assert "keepdim" in _broadcast("A", "A.sum(axis=1)")["zh-hans"]
    assert "keepdim" not in _broadcast("A", "b")["en"]
    assert "Tip" not in _broadcast("A", "A.sum(axis=1, keepdim=True)[:, 0]")["en"]


def test_xor_error_is_diagnosed():
    rec = {"type": "RuntimeError", "line": 2, "message": '"bitwise_xor_cpu" not implemented '
           "for 'Float'"}  # fmt: skip
    code, facts = classify_error(rec)
    assert code == "xor-operator" and "`**`" in render(code, facts)["en"]
    rec = {"type": "TypeError", "line": 2,
           "message": "unsupported operand type(s) for ^: 'float' and 'int'"}  # fmt: skip
    assert classify_error(rec)[0] == "xor-operator"


def _result(diagnostic: str, text: str) -> CheckResult:
    return CheckResult("c", False, 0.0, 1.0, diagnostic, {"en": text, "zh-hans": text}, False)


def test_annotate_adds_code_aware_notes():
    from grading.spec import CheckSpec

    checks = [CheckSpec(name="n"), CheckSpec(name="picked"), CheckSpec(name="power")]
    results = [
        _result("method-not-called", "call it with parentheses: `.numel()`."),
        _result("shape-mismatch", "`picked` has shape (2, 2)."),
        _result("wrong-value", "`power` is wrong."),
    ]
    annotate("n = x.numel\npicked = y_hat[:, y]\npower = x ^ y\n", checks, results)
    assert "`x.numel()`" in results[0].messages["en"]
    assert "y_hat[torch.arange(len(y_hat)), y]" in results[1].messages["en"]
    assert "XOR" in results[2].messages["en"] and "异或" in results[2].messages["zh-hans"]
    # Constant indices are plain indexing, not a pairing mistake.
    plain = [_result("shape-mismatch", "x")]
    annotate("picked = y_hat[:, 0]", [CheckSpec(name="picked")], plain)
    assert plain[0].messages["en"] == "x"


def test_setup_seed_is_the_last_manual_seed():
    setup = "X = torch.rand(2, generator=torch.Generator().manual_seed(1))\ntorch.manual_seed(0)"
    assert setup_seed(setup, 7) == 0
    assert setup_seed("import torch", 7) == 7
