"""Comparators, one by one: a right answer, a near miss, the typical mistake."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from grading import compare as cmp
from grading import wire
from grading.messages import render


def rt(value):
    """What the grader sees: the value after export."""
    return wire.decode(wire.encode({"v": value})).values["v"]


def check(expected, actual, **opts):
    return cmp.compare(rt(expected), rt(actual), cmp.Options(**opts))


# ---------------------------------------------------------------- tensors


def test_tensor_right_and_near_miss_within_tolerance():
    e = torch.tensor([1.0, 2.0, 3.0])
    assert check(e, e.clone()).passed
    assert check(e, e + 1e-6).passed  # inside float32 assert_close tolerances
    f = check(e, e + torch.tensor([0, 0, 1e-3]))
    assert not f.passed and f.diagnostic == "wrong-value"
    assert f.facts["index"] == "[2]" and f.facts["max_abs_err"] == "0.001"


def test_tolerance_override_per_check():
    e = torch.tensor([1.0, 2.0])
    assert check(e, e + 0.01, atol=0.1, rtol=0.0).passed
    assert not check(e, e + 0.01).passed


def test_integers_compare_exactly():
    e = torch.tensor([[0, 1], [1, 2], [2, 3]])
    assert check(e, e.clone()).passed
    f = check(e, e * 2)
    assert f.diagnostic == "wrong-value" and f.facts["index"] == "[0, 1]"
    assert f.facts["expected_at"] == "1" and f.facts["actual_at"] == "2"


def test_nan_equals_nan_in_the_same_place():
    e = torch.tensor([1.0, float("nan")])
    assert check(e, e.clone()).passed
    assert not check(e, torch.tensor([float("nan"), 1.0])).passed
    assert not check(e, torch.tensor([1.0, 0.0])).passed
    assert check(torch.tensor([float("inf")]), torch.tensor([float("inf")])).passed
    assert not check(torch.tensor([float("inf")]), torch.tensor([float("-inf")])).passed


def test_shape_mismatch_names_both_shapes():
    f = check(torch.zeros(6, 4), torch.zeros(3, 8))
    assert f.diagnostic == "shape-mismatch"
    msg = render(f.diagnostic, {**f.facts, "name": "rows"})
    assert "(3, 8)" in msg["en"] and "(6, 4)" in msg["en"] and "(3, 8)" in msg["zh-hans"]


def test_dtype_mismatch():
    f = check(torch.tensor([1, 2]), torch.tensor([1.0, 2.0]))
    assert f.diagnostic == "dtype-mismatch"
    assert f.facts["expected_dtype"] == "torch.int64" and f.facts["actual_dtype"] == "torch.float32"


def test_device_mismatch():
    e, a = rt(torch.ones(2, 3)), rt(torch.ones(2, 3))
    a._grading_meta = dataclasses.replace(wire.meta_of(a), device="cuda:0")
    f = cmp.compare(e, a)
    assert f.diagnostic == "device-mismatch" and f.facts["actual_device"] == "cuda:0"
    b = rt(torch.ones(2, 3))
    b._grading_meta = dataclasses.replace(wire.meta_of(b), device="cuda:0")
    e._grading_meta = dataclasses.replace(wire.meta_of(e), device="cuda")
    assert cmp.compare(e, b).passed  # "cuda" and "cuda:0" are the same card


def test_wrong_type_list_or_ndarray_where_tensor_expected():
    assert check(torch.tensor([1, 2]), [1, 2]).diagnostic == "wrong-type"
    f = check(torch.tensor([1, 2]), np.array([1, 2]))
    assert f.diagnostic == "wrong-type" and f.facts["variant"] == "ndarray"
    f = check(np.array([1, 2]), torch.tensor([1, 2]))
    assert f.diagnostic == "wrong-type" and f.facts["variant"] == "tensor"


def test_method_not_called():
    x = torch.arange(12)
    f = check(12, x.numel)
    assert f.diagnostic == "method-not-called" and f.facts["callable_name"] == "numel"
    # The message names the callable itself, not a fixed example.
    assert "`.numel()`" in render(f.diagnostic, {**f.facts, "name": "n"})["en"]
    g = check(12, len)
    assert "`len(...)`" in render(g.diagnostic, {**g.facts, "name": "n"})["en"]


def test_missing_name():
    f = cmp.compare(rt(1), wire.MissingValue("name", "n"))
    assert f.diagnostic == "missing-name"


def test_nonconstant_and_values_false():
    e = torch.randn(3, 4)
    assert check(e, torch.randn(3, 4), values=False, nonconstant=True).passed
    f = check(e, torch.zeros(3, 4), values=False, nonconstant=True)
    assert f.diagnostic == "wrong-value" and f.facts["variant"] == "constant"
    assert check(e, torch.randn(4, 3), values=False).diagnostic == "shape-mismatch"


def test_requires_grad_where_a_detached_tensor_was_expected():
    x = torch.arange(4.0, requires_grad=True)
    y = x * x
    assert check(y.detach(), y.detach()).passed
    f = check(y.detach(), y)
    assert f.diagnostic == "wrong-value" and f.facts["variant"] == "requires-grad"
    assert "detach" in render("wrong-value", {**f.facts, "name": "u"})["en"]
    assert check(y, y.detach()).passed  # the other way round is not a mistake


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("actual", [66.0, 66, torch.tensor(66.0), np.float32(66.0), 66.00001])
def test_number_like_values_compare_by_value(actual):
    assert check(torch.tensor(66.0), actual).passed
    assert check(66.0, actual).passed


def test_number_mistakes():
    assert check(12, 13).diagnostic == "wrong-value"
    assert check(3.5, 3.6).facts["actual"] == "3.6"
    f = check(3.5, torch.tensor([3.5]))
    assert f.diagnostic == "wrong-type" and f.facts["variant"] == "one-element-tensor"
    assert check(66.0, torch.tensor([12.0, 15, 18, 21])).diagnostic == "shape-mismatch"
    assert check(3, "3").diagnostic == "wrong-type"
    assert check(1, True).diagnostic == "wrong-type"


def test_bools_none_strings():
    assert check(False, False).passed
    assert check(False, True).diagnostic == "wrong-value"
    assert check(False, torch.tensor(False)).passed
    assert check(None, None).passed
    f = check(None, torch.zeros(1, 8))
    assert f.diagnostic == "wrong-value" and f.facts["variant"] == "should-be-none"
    assert check("cpu", "cpu").passed and check("cpu", "cuda").diagnostic == "wrong-value"


# ---------------------------------------------------------------- containers


def test_sequences():
    assert check(["weight", "bias"], ["weight", "bias"]).passed
    assert check(["weight", "bias"], ("weight", "bias")).passed
    assert check(["weight", "bias"], {"weight": 1, "bias": 2}.keys()).passed
    assert check((1, 8), torch.Size([1, 8])).passed
    f = check(["weight", "bias"], ["bias", "weight"])
    assert f.diagnostic == "wrong-value" and f.facts["path"] == "[0]"
    assert check([1, 2], [1, 2, 3]).facts["variant"] == "length"
    assert check((1, 8), torch.zeros(1, 8)).diagnostic == "wrong-type"


def test_dicts():
    assert check({"a": torch.ones(2)}, {"a": torch.ones(2)}).passed
    assert check({"a": 1}, {"b": 1}).facts["variant"] == "keys"
    f = check({"a": torch.ones(2)}, {"a": torch.ones(3)})
    assert f.diagnostic == "shape-mismatch" and f.facts["path"] == "['a']"


# ---------------------------------------------------------------- numpy


def test_ndarrays():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert check(a, a.copy()).passed
    assert check(a, a.astype(np.float64)).diagnostic == "dtype-mismatch"
    assert check(a, a.T).diagnostic == "shape-mismatch"
    assert check(a, a + 1).diagnostic == "wrong-value"


# ---------------------------------------------------------------- pandas

CSV = pd.DataFrame(
    {
        "NumRooms": [np.nan, 2.0, 4.0, np.nan],
        "Alley": ["Pave", np.nan, np.nan, np.nan],
        "Price": [127500, 106000, 178100, 140000],
    }
)


def test_frames_right_and_column_order_free():
    assert check(CSV, CSV.copy()).passed
    assert check(CSV, CSV[["Price", "NumRooms", "Alley"]]).passed


def test_frame_nan_rows_and_values():
    filled = CSV.copy()
    filled["NumRooms"] = filled["NumRooms"].fillna(3.0)
    f = check(filled, CSV)
    assert f.diagnostic == "wrong-value" and f.facts["variant"] == "nan-left"
    assert f.facts["actual_rows"] == "0, 3" and f.facts["expected_rows"] == "none"
    other = filled.copy()
    other.loc[2, "Price"] = 1
    f = check(filled, other)
    assert f.facts["column"] == "Price" and f.facts["row"] == 2


def test_frame_missing_and_unexpected_columns():
    dummies = pd.get_dummies(CSV[["NumRooms", "Alley"]], dummy_na=True)
    f = check(dummies, pd.get_dummies(CSV[["NumRooms", "Alley"]]))
    assert f.diagnostic == "missing-column" and f.facts["missing"] == "Alley_nan"
    assert "Alley_nan" in render(f.diagnostic, {**f.facts, "name": "inputs"})["zh-hans"]
    f = check(CSV[["NumRooms"]], CSV[["NumRooms", "Price"]])
    assert f.diagnostic == "missing-column" and f.facts["unexpected"] == "Price"


def test_dummy_columns_compare_as_numbers():
    ref = pd.get_dummies(CSV[["Alley"]], dummy_na=True)
    assert check(ref, pd.get_dummies(CSV[["Alley"]], dummy_na=True, dtype=int)).passed
    assert check(ref, pd.get_dummies(CSV[["Alley"]], dummy_na=True, dtype=float)).passed
    wrong = pd.get_dummies(CSV[["Alley"]], dummy_na=True, dtype=int)
    wrong.iloc[0, 0] = 0
    assert check(ref, wrong).diagnostic == "wrong-value"


def test_frame_dtype_and_shape():
    f = check(CSV, CSV.astype({"Price": "float64"}))
    assert f.diagnostic == "dtype-mismatch" and f.facts["column"] == "Price"
    assert check(CSV, CSV.iloc[:2]).diagnostic == "shape-mismatch"
    assert check(CSV, CSV["Price"]).diagnostic == "wrong-type"


def test_series():
    s = CSV["Price"]
    assert check(s, CSV.iloc[:, 2]).passed
    assert check(s, s + 1).diagnostic == "wrong-value"
    assert check(s, s.iloc[:2]).diagnostic == "shape-mismatch"
    assert check(s, CSV[["Price"]]).diagnostic == "wrong-type"
    f = check(s, s.reset_index(drop=True).set_axis([9, 8, 7, 6]))
    assert f.diagnostic == "wrong-value" and f.facts["variant"] == "index"


# ---------------------------------------------------------------- modules


def _net(last_in=8, seed=0):
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(last_in, 1))


def test_module_structure_and_parameters():
    assert check(_net(), _net()).passed
    f = check(_net(), _net(last_in=4))
    assert f.diagnostic == "shape-mismatch" and f.facts["path"] == ".2.weight"
    f = check(_net(), _net(seed=1))
    assert f.diagnostic == "wrong-value" and f.facts["path"] == ".0.weight"
    nn = torch.nn
    torch.manual_seed(0)
    other = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 1))
    f = check(_net(), other)
    assert f.diagnostic == "wrong-type" and "Sigmoid" in f.facts["actual_layers"]
    assert check(_net(), torch.zeros(2)).diagnostic == "wrong-type"


# ---------------------------------------------------------------- autograd


def test_grad_missing():
    f = cmp.compare(rt(torch.tensor([0.0, 4, 8, 12])), None, cmp.Options(grad=True))
    assert f.diagnostic == "grad-missing"


def test_grad_accumulated_k_times():
    e = torch.tensor([0.0, 4, 8, 12])
    f = check(e, 2 * e, grad=True, backward_calls=2)
    assert f.diagnostic == "grad-accumulated" and f.facts["times"] == "2"
    # one backward with a formula three times too large is a wrong value, not accumulation
    assert check(e, 3 * e, grad=True, backward_calls=1).diagnostic == "wrong-value"
    assert check(e, e + 1, grad=True, backward_calls=2).diagnostic == "wrong-value"


def test_grad_accumulated_plus_earlier():
    before = torch.tensor([0.0, 4, 8, 12])
    e = torch.ones(4)
    f = check(e, e + before, grad=True, before=before, backward_calls=1)
    assert f.diagnostic == "grad-accumulated" and f.facts["variant"] == "plus-earlier"
    msg = render(f.diagnostic, {**f.facts, "name": "x.grad", "base": "x"})
    assert "[1.0, 5.0, 9.0, 13.0]" in msg["en"] and "x.grad.zero_()" in msg["en"]
    assert "x.grad.zero_()" in msg["zh-hans"]
    assert check(e, e + 2 * before, grad=True, before=before).diagnostic == "grad-accumulated"
    assert check(e, e, grad=True, before=before).passed


# ---------------------------------------------------------------- storage


def test_storage_unchanged_and_separate():
    z = torch.zeros(3, 4)
    snap = {"data_ptr": z.data_ptr()}
    z[:] = 1
    assert cmp.storage_unchanged(rt(z), snap).passed
    new = z + 1
    assert cmp.storage_unchanged(rt(new), snap).diagnostic == "not-in-place"
    a = torch.arange(20.0)
    out = wire.decode(wire.encode({"A": a, "B": a, "C": a.clone(), "V": a[5:]})).values
    assert cmp.separate_storage(out["B"], out["A"], "A").diagnostic == "shares-memory"
    assert cmp.separate_storage(out["V"], out["A"], "A").diagnostic == "shares-memory"
    assert cmp.separate_storage(out["C"], out["A"], "A").passed


# ---------------------------------------------------------------- messages


def test_every_message_template_renders_in_both_languages():
    from grading.messages import TEMPLATES

    for (code, variant), langs in TEMPLATES.items():
        assert set(langs) == {"en", "zh-hans"}, code
        out = render(code, {"variant": variant, "name": "x"})
        assert out["en"] and out["zh-hans"] and out["en"] != out["zh-hans"], (code, variant)


def test_exactly_equal_tensors_give_the_elementwise_answer():
    """close_mask's shortcut (torch.equal) must agree with the element-wise rule: -0.0 equals
    0.0, infinities of one sign match, NaN positions (never torch.equal) still match."""
    inf = float("inf")
    t = torch.tensor([[1.5, -0.0, inf], [-inf, 3.0, 2.0]])
    assert cmp.close_mask(t, t.clone(), 0.0, 0.0).tolist() == [[True] * 3] * 2
    zero = t.clone()
    zero[0, 1] = 0.0
    assert torch.equal(t, zero) and cmp.close_mask(t, zero, 0.0, 0.0).all()  # -0.0 == 0.0
    nan = torch.tensor([float("nan"), 1.0])
    assert cmp.close_mask(nan, nan.clone(), 0.0, 0.0).tolist() == [True, True]
    assert cmp.close_mask(t, t.double(), 0.0, 0.0).all()  # dtypes differ: the long way
    off = t.clone()
    off[1, 2] = 2.5
    assert cmp.close_mask(t, off, 0.0, 0.0).tolist() == [[True] * 3, [True, True, False]]
