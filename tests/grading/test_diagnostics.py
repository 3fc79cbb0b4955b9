"""Error diagnostics: the harness's exception records mapped onto the catalogue.

The harness runs in this process here (benign code only), which keeps these tests fast;
the end-to-end path through a sandbox is covered by test_curriculum_mistakes.py.
"""

from __future__ import annotations

import json

import pytest

from grading import harness, wire
from grading.diagnostics import CATALOGUE, classify_error, error_view
from grading.messages import TEMPLATES

DESIGN_CODES = {
    "missing-name", "wrong-type", "method-not-called", "shape-mismatch", "dtype-mismatch",
    "device-mismatch", "wrong-value", "broadcast-shape", "not-in-place", "shares-memory",
    "grad-missing", "grad-accumulated", "nonscalar-backward", "item-multi-element",
    "pandas-nonnumeric-mean", "object-array-to-tensor", "missing-column", "name-error",
    "syntax-error", "forbidden-call",
}  # fmt: skip


def run(code: str, setup: str = "import torch\nimport numpy as np\nimport pandas as pd\n"):
    payload = {"v": 1, "mode": "submit", "seed": 0, "setup": setup, "code": code, "export": []}
    return wire.decode(harness.main(json.dumps(payload).encode())).extra


def error_of(code: str, **kw):
    extra = run(code, **kw)
    assert extra["error"], "the code was expected to raise"
    return error_view(extra["error"])


def test_catalogue_is_complete_with_messages_in_both_languages():
    assert set(CATALOGUE) >= DESIGN_CODES
    codes_with_templates = {code for code, _ in TEMPLATES}
    assert set(CATALOGUE) <= codes_with_templates


def test_correct_code_has_no_error():
    assert run("x = torch.arange(4)\ny = x.sum().item()")["error"] is None


def test_broadcast_shape_explains_alignment():
    err = error_of("A = torch.arange(20.0).reshape(5, 4)\nB = A / A.sum(axis=1)")
    assert err["diagnostic"] == "broadcast-shape" and err["line"] == 2
    en, zh = err["messages"]["en"], err["messages"]["zh-hans"]
    assert "`A` with shape (5, 4)" in en and "`A.sum(axis=1)` with shape (5,)" in en
    assert "5 × 4  vs  · × 5" in en and "keepdim=True" in en
    assert "(5, 4)" in zh and "keepdim=True" in zh
    # near miss: keepdim makes it broadcast
    assert (
        run("A = torch.arange(20.0).reshape(5, 4)\nB = A / A.sum(axis=1, keepdim=True)")["error"]
        is None
    )


def test_broadcast_never_reevaluates_calls_with_side_effects():
    code = (
        "calls = []\ndef f(t):\n    calls.append(1)\n    return t\n"
        "A = torch.ones(5, 4)\nB = f(A) + torch.ones(5)\n"
    )
    err = error_of(code)
    assert err["diagnostic"] == "broadcast-shape" and "`f(A)`" not in err["messages"]["en"]


def test_numpy_broadcast_error():
    err = error_of("a = np.ones((5, 4)) / np.ones(5)")
    assert err["diagnostic"] == "broadcast-shape" and "(5,4)" in err["messages"]["en"]


def test_name_error_suggests_close_name():
    err = error_of("T = troch.tensor([1, 2])")
    assert err["diagnostic"] == "name-error" and "`torch`" in err["messages"]["en"]
    assert "`torch`" in err["messages"]["zh-hans"]
    err = error_of("value = 3\nprint(valeu)")
    assert "`value`" in err["messages"]["en"] and err["line"] == 2
    err = error_of("print(qqqqqqqq)")
    assert err["diagnostic"] == "name-error" and "Did you mean" not in err["messages"]["en"]


def test_attribute_error_suggests_close_attribute():
    err = error_of("y = torch.sofmax(torch.ones(2), 0)")
    assert err["diagnostic"] == "attribute-error" and "`softmax`" in err["messages"]["en"]


def test_item_multi_element_for_item_float_int():
    for code in (
        "torch.tensor([3, 2]).item()",
        "float(torch.tensor([3.0, 2.0]))",
        "int(torch.tensor([3, 2]))",
    ):
        assert error_of(code)["diagnostic"] == "item-multi-element", code
    assert run("torch.tensor([3]).item()")["error"] is None


def test_nonscalar_backward():
    err = error_of("x = torch.arange(4.0, requires_grad=True)\ny = x * x\ny.backward()")
    assert err["diagnostic"] == "nonscalar-backward" and err["line"] == 3
    assert "y.sum().backward()" in err["messages"]["en"]


def test_pandas_nonnumeric_mean():
    code = "df = pd.DataFrame({'n': [1.0, None], 'a': ['x', None]})\ndf = df.fillna(df.mean())"
    err = error_of(code)
    assert (
        err["diagnostic"] == "pandas-nonnumeric-mean"
        and "numeric_only=True" in err["messages"]["en"]
    )
    ok = (
        "df = pd.DataFrame({'n': [1.0, None], 'a': ['x', None]})\n"
        "df = df.fillna(df.mean(numeric_only=True))"
    )
    assert run(ok)["error"] is None


def test_object_array_to_tensor():
    code = (
        "df = pd.get_dummies(pd.DataFrame({'n': [1.0, 2.0], 'a': ['x', None]}), dummy_na=True)\n"
        "X = torch.tensor(df.values)"
    )
    err = error_of(code)
    assert err["diagnostic"] == "object-array-to-tensor"
    assert "to_numpy(dtype=float)" in err["messages"]["en"]


def test_dtype_and_shape_errors_in_operations():
    err = error_of("torch.ones(2, 3) @ torch.ones(3, dtype=torch.long)")
    assert err["diagnostic"] == "dtype-mismatch"
    err = error_of("A = torch.ones(5, 4)\nM = torch.ones(3, 4)\nAM = torch.mm(A, M)")
    assert err["diagnostic"] == "shape-mismatch" and err["line"] == 3
    assert "A (5, 4), M (3, 4)" in err["messages"]["en"]


def test_device_mismatch_error_record():
    rec = {
        "type": "RuntimeError",
        "line": 3,
        "facts": {},
        "message": "Expected all tensors to be on the same device, but found at least two devices, "
        "cuda:0 and cpu!",
    }
    code, _facts = classify_error(rec)
    assert code == "device-mismatch"
    assert "different devices" in error_view(rec)["messages"]["en"]


def test_syntax_error_from_the_harness():
    extra = run("x = 1\ny = (2 +\n")
    err = error_view(extra["error"])
    assert err["diagnostic"] == "syntax-error" and err["line"] == 2


def test_unmapped_errors_show_type_message_and_line():
    err = error_of("x = 1\nopen('nope.csv')")
    assert err["diagnostic"] is None and err["line"] == 2
    assert "FileNotFoundError" in err["messages"]["en"] and "nope.csv" in err["messages"]["en"]


@pytest.mark.parametrize("exc", ["SystemExit(0)", "KeyboardInterrupt()"])
def test_base_exceptions_are_recorded_not_fatal(exc):
    extra = run(f"raise {exc}")
    assert extra["error"]["type"] in ("SystemExit", "KeyboardInterrupt")


def test_backward_without_requires_grad_and_second_backward():
    err = error_of("x = torch.arange(4.0)\ny = (x * x).sum()\ny.backward()")
    assert err["diagnostic"] == "grad-missing" and "requires_grad=True" in err["messages"]["en"]
    err = error_of(
        "x = torch.arange(4.0, requires_grad=True)\ny = (x * x).sum()\ny.backward()\ny.backward()"
    )
    assert err["diagnostic"] == "grad-accumulated" and err["line"] == 4
