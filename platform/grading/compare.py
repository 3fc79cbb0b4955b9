"""Trusted comparators: decoded student data against decoded reference data.

Each comparator returns a ``Finding``: passed or not, at most one diagnostic code from the
catalogue (docs/grading.md) and the facts its message needs (already formatted as short
strings, so ``grading.messages`` only fills templates). Nothing here runs student code:
inputs come from ``grading.wire.decode``.

Why this file is long: one comparator per kind of value (tensor, array, frame, series,
module, scalar, sequence, mapping…), each short, all sharing the same ``Finding`` shape and
tolerance rules; they are read as a catalogue, side by side.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from grading.messages import shape_text
from grading.wire import (
    CallableValue,
    Column,
    FrameValue,
    MissingValue,
    ModuleSummary,
    OpaqueValue,
    ScalarValue,
    SeriesValue,
    meta_of,
)

PREVIEW = 8  # elements shown in "is [..] but should be [..]"

# torch.testing.assert_close defaults, per dtype: (rtol, atol).
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}
LENIENT = (1.3e-6, 1e-5)  # Python numbers compared with each other


@dataclass
class Finding:
    passed: bool
    diagnostic: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ok(cls) -> Finding:
        return cls(True)


@dataclass(frozen=True)
class Options:
    """Per-check comparison settings (from CheckSpec)."""

    rtol: float | None = None
    atol: float | None = None
    values: bool = True
    nonconstant: bool = False
    grad: bool = False  # the checked name is a gradient (enables grad-missing/-accumulated)
    before: Any = None  # the gradient held before the cell ran (for grad-accumulated)
    backward_calls: int | None = None  # backward passes the cell ran (None: unknown)


def fail(diagnostic: str | None, variant: str = "", **facts: Any) -> Finding:
    return Finding(False, diagnostic, {"variant": variant, **facts})


# --------------------------------------------------------------------------- formatting


def fmt_num(x: Any) -> str:
    if isinstance(x, bool | np.bool_):
        return str(bool(x))
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, complex | np.complexfloating):
        return f"{complex(x):.4g}"
    try:
        f = float(x)
    except (TypeError, ValueError):
        return short_repr(x)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    if f == int(f) and abs(f) < 1e15:
        return f"{f:.1f}" if abs(f) < 1e6 else f"{f:.6g}"
    return f"{f:.6g}"


def fmt_values(t: torch.Tensor | np.ndarray, limit: int = PREVIEW) -> str:
    """A short list-style preview of a tensor's values: [0.0, 4.0, 8.0, …]."""
    arr = t.detach().cpu() if isinstance(t, torch.Tensor) else np.asarray(t)
    if isinstance(arr, torch.Tensor) and arr.dtype == torch.bfloat16:
        arr = arr.float()
    a = np.asarray(arr)
    if a.ndim == 0:
        return fmt_num(a.item())

    def rec(x: np.ndarray, budget: list[int]) -> str:
        if x.ndim == 1:
            items = []
            for v in x:
                if budget[0] <= 0:
                    items.append("…")
                    break
                items.append(fmt_num(v))
                budget[0] -= 1
            return "[" + ", ".join(items) + "]"
        parts = []
        for row in x:
            if budget[0] <= 0:
                parts.append("…")
                break
            parts.append(rec(row, budget))
        return "[" + ", ".join(parts) + "]"

    return rec(a, [limit])


def short_repr(x: Any, limit: int = 80) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor {fmt_values(x)}"
    if isinstance(x, ScalarValue):
        return fmt_num(x.value)
    if isinstance(x, OpaqueValue):
        text = x.repr
    elif isinstance(x, CallableValue):
        text = f"<{x.kind} {x.name}>"
    else:
        text = repr(x)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def type_name(x: Any) -> str:
    if isinstance(x, MissingValue):
        return "undefined"
    if isinstance(x, torch.Tensor):
        return "tensor"
    if isinstance(x, np.ndarray):
        return "numpy.ndarray"
    if isinstance(x, ScalarValue):
        return f"numpy.{x.dtype}"
    if isinstance(x, FrameValue):
        return "DataFrame"
    if isinstance(x, SeriesValue):
        return "Series"
    if isinstance(x, ModuleSummary):
        return x.cls.rsplit(".", 1)[-1]
    if isinstance(x, CallableValue):
        return x.kind
    if isinstance(x, OpaqueValue):
        return x.cls.rsplit(".", 1)[-1] or "object"
    if x is None:
        return "None"
    return type(x).__name__


# --------------------------------------------------------------------------- dispatcher


def _compare_equal(expected: Any, actual: Any, type_label: str, variant: str) -> Finding:
    """Values that compare by plain equality once the type matches (str, set)."""
    if not isinstance(actual, type(expected)):
        return fail("wrong-type", "", expected_type=type_label, actual_type=type_name(actual))
    if expected != actual:
        return fail(
            "wrong-value", variant, expected=short_repr(expected), actual=short_repr(actual)
        )
    return Finding.ok()


def compare(expected: Any, actual: Any, opts: Options | None = None) -> Finding:
    """Compare one exported value with the reference's; never runs student code."""
    opts = opts or Options()
    if isinstance(actual, MissingValue):
        # "parent-none": the detail is the dotted prefix that is None (X in X.device.type).
        return fail("missing-name", actual.reason, detail=actual.detail, parent=actual.detail)
    if isinstance(expected, MissingValue):
        return fail(None, "reference-missing")
    if isinstance(actual, CallableValue) and not isinstance(expected, CallableValue):
        call = f".{actual.name}()" if actual.kind == "bound method" else f"{actual.name}(...)"
        if actual.kind == "builtin" and not hasattr(builtins, actual.name):
            call = f".{actual.name}()"  # a builtin method (x.numel), not a builtin function
        return fail("method-not-called", actual.kind, callable_name=actual.name, call=call)
    if expected is None:
        if actual is None:
            return Finding.ok()
        return fail("wrong-value", "should-be-none", actual=short_repr(actual))
    if actual is None:
        if opts.grad:
            return fail("grad-missing")
        return fail("wrong-type", "none", expected_type=type_name(expected))
    if _is_number(expected) and not isinstance(expected, torch.Tensor):
        return compare_number(expected, actual, opts)
    if isinstance(expected, torch.Tensor):
        if expected.ndim == 0 and _is_number(actual) and not isinstance(actual, torch.Tensor):
            return compare_number(expected, actual, opts)
        return compare_tensor(expected, actual, opts)
    if isinstance(expected, np.ndarray):
        return compare_ndarray(expected, actual, opts)
    if isinstance(expected, FrameValue):
        return compare_frame(expected, actual, opts)
    if isinstance(expected, SeriesValue):
        return compare_series(expected, actual, opts)
    if isinstance(expected, ModuleSummary):
        return compare_module(expected, actual, opts)
    if isinstance(expected, CallableValue):
        if isinstance(actual, CallableValue):
            return Finding.ok()
        return fail("wrong-type", "", expected_type="function", actual_type=type_name(actual))
    if isinstance(expected, bool):
        value = _bool_value(actual)
        if value is None:
            return fail("wrong-type", "", expected_type="bool", actual_type=type_name(actual))
        if value != expected:
            return fail("wrong-value", "number", expected=str(expected), actual=str(value))
        return Finding.ok()
    if isinstance(expected, str):
        return _compare_equal(expected, actual, "str", "str")
    if isinstance(expected, list | tuple):
        return compare_sequence(expected, actual, opts)
    if isinstance(expected, dict):
        return compare_dict(expected, actual, opts)
    if isinstance(expected, set):
        return _compare_equal(expected, actual, "set", "repr")
    if isinstance(expected, torch.dtype | torch.device | OpaqueValue):
        if _is_device(expected) and _is_device(actual) and type(expected) is not type(actual):
            # e.g. torch.device("cuda:200"), whose index torch cannot hold, against cpu
            return fail(
                "wrong-value", "repr", expected=short_repr(expected), actual=short_repr(actual)
            )
        if type(expected) is not type(actual):
            return fail(
                "wrong-type", "", expected_type=type_name(expected), actual_type=type_name(actual)
            )
        if _device_key(expected) != _device_key(actual):
            return fail(
                "wrong-value", "repr", expected=short_repr(expected), actual=short_repr(actual)
            )
        return Finding.ok()
    return fail("wrong-value", "repr", expected=short_repr(expected), actual=short_repr(actual))


def _bool_value(x: Any) -> bool | None:
    if isinstance(x, bool):
        return x
    if isinstance(x, ScalarValue) and x.dtype == "bool":
        return bool(x.value)
    if isinstance(x, torch.Tensor) and x.ndim == 0 and x.dtype == torch.bool:
        return bool(x)
    return None


def _is_device(x: Any) -> bool:
    return isinstance(x, torch.device) or (isinstance(x, OpaqueValue) and x.cls == "torch.device")


def _device_key(x: Any) -> Any:
    if isinstance(x, torch.device):
        return (x.type, x.index or 0)
    return x


def _is_number(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, int | float | complex):
        return True
    if isinstance(x, ScalarValue):
        return x.dtype != "bool"
    return isinstance(x, torch.Tensor) and x.ndim == 0 and x.dtype != torch.bool


def _number_value(x: Any) -> Any:
    if isinstance(x, ScalarValue):
        return x.value
    if isinstance(x, torch.Tensor):
        return x.item()
    return x


# --------------------------------------------------------------------------- numbers


def compare_number(expected: Any, actual: Any, opts: Options) -> Finding:
    """Python/NumPy numbers and 0-d tensors compare by value, whatever their type."""
    if isinstance(actual, torch.Tensor) and actual.ndim > 0:
        if actual.numel() == 1:
            return fail("wrong-type", "one-element-tensor", actual_shape=shape_text(actual.shape))
        return fail(
            "shape-mismatch",
            "number",
            expected_shape="()",
            actual_shape=shape_text(actual.shape),
        )
    if not _is_number(actual):
        if isinstance(actual, bool):
            return fail("wrong-type", "", expected_type="number", actual_type="bool")
        return fail(
            "wrong-type", "", expected_type=type_name(expected), actual_type=type_name(actual)
        )
    e, a = _number_value(expected), _number_value(actual)
    if isinstance(e, int) and isinstance(a, int):
        same = e == a
    else:
        rtol, atol = LENIENT
        rtol = opts.rtol if opts.rtol is not None else rtol
        atol = opts.atol if opts.atol is not None else atol
        try:
            ec, ac = complex(e), complex(a)
        except (TypeError, ValueError):
            same = False
        else:
            if any(math.isnan(v) for v in (ec.real, ec.imag, ac.real, ac.imag)):
                same = all(
                    math.isnan(x) == math.isnan(y) and (math.isnan(x) or x == y)
                    for x, y in ((ec.real, ac.real), (ec.imag, ac.imag))
                )
            else:
                same = ec == ac or abs(ac - ec) <= atol + rtol * abs(ec)
    if same:
        return Finding.ok()
    return fail("wrong-value", "number", expected=fmt_num(e), actual=fmt_num(a))


# --------------------------------------------------------------------------- tensors


def tolerances(dtype: str, opts: Options) -> tuple[float, float]:
    rtol, atol = DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))
    return (
        opts.rtol if opts.rtol is not None else rtol,
        opts.atol if opts.atol is not None else atol,
    )


def close_mask(
    expected: torch.Tensor, actual: torch.Tensor, rtol: float, atol: float
) -> torch.Tensor:
    """Elementwise closeness; NaN equals NaN, infinities must match exactly."""
    if not (expected.is_floating_point() or expected.is_complex()):
        return expected == actual
    if expected.dtype == actual.dtype and expected.shape == actual.shape and torch.equal(
        expected, actual
    ):
        # The common case (the same computation): one comparison instead of a dozen ops.
        # torch.equal is False wherever a NaN is, so NaN positions take the path below.
        return torch.ones(expected.shape, dtype=torch.bool)
    e, a = _as_wide(expected), _as_wide(actual)
    nan_e, nan_a = torch.isnan(e), torch.isnan(a)
    if e.is_complex():
        nan_e, nan_a = nan_e | torch.isnan(e.imag), nan_a | torch.isnan(a.imag)
    finite = torch.isfinite(e) & torch.isfinite(a)
    near = torch.zeros_like(nan_e)
    near[finite] = (a[finite] - e[finite]).abs() <= atol + rtol * e[finite].abs()
    exact = (e == a) & ~nan_e
    return near | exact | (nan_e & nan_a)


def _as_wide(t: torch.Tensor) -> torch.Tensor:
    if t.is_complex():
        return t.to(torch.complex128)
    return t.to(torch.float64)


def first_mismatch(mask: torch.Tensor) -> tuple[int, ...] | None:
    if mask.ndim == 0:
        return None if bool(mask) else ()
    bad = (~mask).nonzero()
    if bad.numel() == 0:
        return None
    return tuple(int(i) for i in bad[0])


def value_facts(expected: torch.Tensor, actual: torch.Tensor, mask: torch.Tensor) -> dict[str, Any]:
    idx = first_mismatch(mask) or ()
    e, a = expected[idx] if idx else expected, actual[idx] if idx else actual
    facts: dict[str, Any] = {
        "index": "[" + ", ".join(map(str, idx)) + "]" if idx else "[]",
        "expected_at": fmt_num(e.item()),
        "actual_at": fmt_num(a.item()),
        "mismatched": int((~mask).sum()),
        "total": int(mask.numel()),
        "expected": fmt_values(expected),
        "actual": fmt_values(actual),
    }
    if expected.is_floating_point() or expected.is_complex():
        diff = (_as_wide(actual) - _as_wide(expected)).abs()
        diff = diff[torch.isfinite(diff)]
        facts["max_abs_err"] = f"{float(diff.max()):.3g}" if diff.numel() else "nan"
    else:
        diff = (_as_wide(actual) - _as_wide(expected)).abs()
        facts["max_abs_err"] = str(int(diff.max())) if diff.numel() else "0"
    return facts


def square_facts(expected: Sequence[int], actual: Sequence[int]) -> dict[str, Any]:
    """``{"square": N}`` when the result is (N, N) where (N,) or (N, 1) was expected (N > 1):
    the shape a silent broadcast of (N, 1) against (N,) leaves. Only the shapes are known
    here; ``diagnostics.annotate`` looks in the code for the operation that did it."""
    exp, act = tuple(int(d) for d in expected), tuple(int(d) for d in actual)
    n = exp[0] if exp else 0
    if n > 1 and exp in ((n,), (n, 1)) and act == (n, n):
        return {"square": n}
    return {}


def compare_tensor(expected: torch.Tensor, actual: Any, opts: Options) -> Finding:
    if not isinstance(actual, torch.Tensor):
        variant = "ndarray" if isinstance(actual, np.ndarray) else ""
        if isinstance(actual, list | tuple):
            variant = "list"
        return fail("wrong-type", variant, expected_type="tensor", actual_type=type_name(actual))
    em, am = meta_of(expected), meta_of(actual)
    if tuple(em.shape) != tuple(am.shape):  # meta: a truncated export keeps its true shape
        return fail(
            "shape-mismatch",
            "",
            expected_shape=shape_text(em.shape),
            actual_shape=shape_text(am.shape),
            **square_facts(em.shape, am.shape),
        )
    if expected.dtype != actual.dtype:
        return fail(
            "dtype-mismatch",
            "",
            expected_dtype=f"torch.{em.dtype}",
            actual_dtype=f"torch.{am.dtype}",
        )
    if _device_key(_parse_device(em.device)) != _device_key(_parse_device(am.device)):
        return fail("device-mismatch", "", expected_device=em.device, actual_device=am.device)
    if am.truncated or em.truncated:
        return fail("wrong-value", "too-large")
    if opts.nonconstant and actual.numel() > 1:
        flat = actual.reshape(-1)
        if bool((flat == flat[0]).all()):
            return fail("wrong-value", "constant", value=fmt_num(flat[0].item()))
    if opts.values:
        rtol, atol = tolerances(em.dtype, opts)
        mask = close_mask(expected, actual, rtol, atol)
        if not bool(mask.all()):
            facts = value_facts(expected, actual, mask)
            if opts.grad:
                acc = grad_accumulation(
                    expected, actual, opts.before, rtol, atol, opts.backward_calls
                )
                if acc is not None:
                    return fail("grad-accumulated", acc[0], times=acc[1], earlier=acc[2], **facts)
            if em.requires_grad != am.requires_grad and not opts.grad:
                facts["requires_grad"] = am.requires_grad
            if em.cls.endswith(".Parameter") and am.cls.endswith(".Parameter") and not opts.grad:
                # A fresh layer's parameters: they differ because of the random draws.
                return fail("wrong-value", "parameter", **facts)
            return fail("wrong-value", "scalar" if expected.ndim == 0 else "", **facts)
    if not opts.grad and not em.requires_grad and am.requires_grad:
        return fail("wrong-value", "requires-grad")
    return Finding.ok()


def _parse_device(name: str) -> torch.device | str:
    try:
        return torch.device(name)
    except (RuntimeError, ValueError):
        return name


def grad_accumulation(
    expected: torch.Tensor,
    actual: torch.Tensor,
    before: Any,
    rtol: float,
    atol: float,
    backward_calls: int | None = None,
) -> tuple[str, str, str] | None:
    """Recognise ``actual == k·expected + j·before`` (k ≥ 1, j ≥ 0, not k=1,j=0).

    k ≥ 2 only counts when the cell really ran backward at least k times: a gradient that
    is 3× too large after one backward is a wrong formula, not an accumulated gradient."""
    if not (expected.is_floating_point() and actual.is_floating_point()):
        return None
    e, a = expected.double(), actual.double()
    b = before.double() if isinstance(before, torch.Tensor) and before.shape == e.shape else None
    nonzero_e = bool((e != 0).any())
    for k in range(1, 9):
        for j in range(0, 9 if b is not None else 1):
            if (k == 1 and j == 0) or (not nonzero_e and j == 0):
                continue
            if k > 1 and backward_calls is not None and backward_calls < k:
                continue
            guess = k * e + (j * b if b is not None and j else 0)
            if bool(close_mask(guess, a, rtol, atol).all()):
                if j == 0:
                    return ("times", str(k), "")
                earlier = fmt_values(b) if b is not None else ""
                return ("plus-earlier" if k == 1 else "times-plus-earlier", str(k), earlier)
    return None


# --------------------------------------------------------------------------- numpy arrays


def compare_ndarray(expected: np.ndarray, actual: Any, opts: Options) -> Finding:
    if not isinstance(actual, np.ndarray):
        variant = "tensor" if isinstance(actual, torch.Tensor) else ""
        return fail(
            "wrong-type", variant, expected_type="numpy.ndarray", actual_type=type_name(actual)
        )
    if expected.shape != actual.shape:
        return fail(
            "shape-mismatch",
            "",
            expected_shape=shape_text(expected.shape),
            actual_shape=shape_text(actual.shape),
            **square_facts(expected.shape, actual.shape),
        )
    if expected.dtype != actual.dtype:
        return fail(
            "dtype-mismatch", "", expected_dtype=str(expected.dtype), actual_dtype=str(actual.dtype)
        )
    if not opts.values:
        return Finding.ok()
    if expected.dtype == object:
        for i, (e, a) in enumerate(zip(expected.reshape(-1), actual.reshape(-1), strict=True)):
            if not compare(e, a, opts).passed:
                idx = np.unravel_index(i, expected.shape)
                return fail(
                    "wrong-value",
                    "element",
                    index="[" + ", ".join(map(str, idx)) + "]",
                    expected_at=short_repr(e),
                    actual_at=short_repr(a),
                )
        return Finding.ok()
    return compare_tensor(_np_tensor(expected), _np_tensor(actual), opts)


def _np_tensor(a: np.ndarray) -> torch.Tensor:
    if a.dtype.name in ("uint16", "uint32", "uint64"):
        a = a.astype(np.int64) if a.dtype.name != "uint64" else a.astype(np.float64)
    return torch.from_numpy(np.ascontiguousarray(a))


# --------------------------------------------------------------------------- containers


def compare_sequence(expected: Sequence[Any], actual: Any, opts: Options) -> Finding:
    """Lists, tuples, torch.Size and dict views compare element by element."""
    if not isinstance(actual, list | tuple):
        return fail(
            "wrong-type", "", expected_type=type_name(expected), actual_type=type_name(actual)
        )
    if len(expected) != len(actual):
        return fail(
            "wrong-value",
            "length",
            expected_len=len(expected),
            actual_len=len(actual),
            expected=short_repr(list(expected)),
            actual=short_repr(list(actual)),
        )
    for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
        sub = compare(e, a, Options(rtol=opts.rtol, atol=opts.atol, values=opts.values))
        if not sub.passed:
            sub.facts["path"] = f"[{i}]" + sub.facts.get("path", "")
            return sub
    return Finding.ok()


def compare_dict(expected: dict[Any, Any], actual: Any, opts: Options) -> Finding:
    if not isinstance(actual, dict):
        return fail("wrong-type", "", expected_type="dict", actual_type=type_name(actual))
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    if missing or extra:
        return fail(
            "wrong-value",
            "keys",
            missing=", ".join(map(short_repr, missing)) or "-",
            unexpected=", ".join(map(short_repr, extra)) or "-",
        )
    for k, e in expected.items():
        sub = compare(e, actual[k], Options(rtol=opts.rtol, atol=opts.atol, values=opts.values))
        if not sub.passed:
            sub.facts["path"] = f"[{short_repr(k)}]" + sub.facts.get("path", "")
            return sub
    return Finding.ok()


# --------------------------------------------------------------------------- pandas

_NUMERIC_KINDS = {"b", "i", "u", "f"}


def _kind(col: Column) -> str:
    if col.numeric:
        return np.asarray(col.values).dtype.kind
    return "O"


def compare_column(expected: Column, actual: Column, opts: Options, label: str) -> Finding:
    """One frame column / Series: dtype, NaN rows, values (dummy columns compare as numbers)."""
    ek, ak = _kind(expected), _kind(actual)
    dummy = "b" in (ek, ak) and {ek, ak} <= _NUMERIC_KINDS
    if expected.dtype != actual.dtype and not dummy:
        both_text = ek == "O" and ak == "O"
        if not both_text:
            return fail(
                "dtype-mismatch",
                "column",
                column=label,
                expected_dtype=expected.dtype,
                actual_dtype=actual.dtype,
            )
    if sorted(expected.na) != sorted(actual.na):
        variant = "nan-left" if not expected.na else "nan-rows" if actual.na else "nan-none"
        return fail(
            "wrong-value",
            variant,
            column=label,
            expected_rows=_rows(expected.na),
            actual_rows=_rows(actual.na),
        )
    if not opts.values:
        return Finding.ok()
    na = set(expected.na)
    if expected.numeric and actual.numeric:
        e = np.asarray(expected.values)
        a = np.asarray(actual.values)
        if e.dtype.kind == "b" or a.dtype.kind == "b" or e.dtype != a.dtype:
            e, a = e.astype(np.float64), a.astype(np.float64)
        et, at = _np_tensor(e), _np_tensor(a)
        rtol, atol = tolerances(str(et.dtype).removeprefix("torch."), opts)
        mask = close_mask(et, at, rtol, atol)
        for i in na:
            if 0 <= i < mask.numel():
                mask[i] = True
        bad = first_mismatch(mask)
        if bad is None:
            return Finding.ok()
        row = bad[0]
        diff = (at.double() - et.double()).abs()
        return fail(
            "wrong-value",
            "column",
            column=label,
            row=row,
            expected_at=fmt_num(e[row]),
            actual_at=fmt_num(a[row]),
            max_abs_err=f"{float(diff[~mask].max()):.3g}",
        )
    for row, (e, a) in enumerate(zip(expected.values, actual.values, strict=True)):
        if row in na:
            continue
        if not _same_item(e, a, opts):
            return fail(
                "wrong-value",
                "column",
                column=label,
                row=row,
                expected_at=short_repr(e),
                actual_at=short_repr(a),
                max_abs_err="-",
            )
    return Finding.ok()


def _same_item(e: Any, a: Any, opts: Options) -> bool:
    if isinstance(e, bool) or isinstance(a, bool):
        return e == a and type(e) is type(a)
    if _is_number(e) and _is_number(a):
        return compare_number(e, a, opts).passed
    return type(e) is type(a) and e == a


def _rows(rows: list[int]) -> str:
    if not rows:
        return "none"
    shown = ", ".join(map(str, sorted(rows)[:10]))
    return shown + (", …" if len(rows) > 10 else "")


def compare_frame(expected: FrameValue, actual: Any, opts: Options) -> Finding:
    if not isinstance(actual, FrameValue):
        return fail("wrong-type", "", expected_type="DataFrame", actual_type=type_name(actual))
    missing = [c for c in expected.columns if c not in actual.columns]
    extra = [c for c in actual.columns if c not in expected.columns]
    if missing or extra:
        return fail(
            "missing-column",
            "missing" if missing else "unexpected",
            missing=", ".join(map(str, missing)) or "-",
            unexpected=", ".join(map(str, extra)) or "-",
            expected_columns=", ".join(map(str, expected.columns)),
            actual_columns=", ".join(map(str, actual.columns)),
        )
    problem = _shape_and_index(expected, actual)
    if problem is not None:
        return problem
    for name, col in zip(expected.columns, expected.data, strict=True):
        other = actual.data[actual.columns.index(name)]
        sub = compare_column(col, other, opts, str(name))
        if not sub.passed:
            return sub
    return Finding.ok()


def _shape_and_index(
    expected: FrameValue | SeriesValue, actual: FrameValue | SeriesValue
) -> Finding | None:
    """What frames and series share: the shape, then the index labels."""
    if expected.shape != actual.shape:
        return fail(
            "shape-mismatch",
            "",
            expected_shape=shape_text(expected.shape),
            actual_shape=shape_text(actual.shape),
        )
    index = compare_column(expected.index, actual.index, Options(), "index")
    if not index.passed and index.diagnostic == "wrong-value":
        index.facts["variant"] = "index"
        return index
    return None


def compare_series(expected: SeriesValue, actual: Any, opts: Options) -> Finding:
    if not isinstance(actual, SeriesValue):
        return fail("wrong-type", "", expected_type="Series", actual_type=type_name(actual))
    problem = _shape_and_index(expected, actual)
    if problem is not None:
        return problem
    return compare_column(expected.values, actual.values, opts, str(expected.name))


# --------------------------------------------------------------------------- nn.Module


def compare_module(expected: ModuleSummary, actual: Any, opts: Options) -> Finding:
    """Layer types, then parameter names and shapes, then parameter values."""
    if not isinstance(actual, ModuleSummary):
        return fail(
            "wrong-type", "", expected_type=type_name(expected), actual_type=type_name(actual)
        )
    e_types = [(n, c) for n, c, _ in expected.layers]
    a_types = [(n, c) for n, c, _ in actual.layers]
    if e_types != a_types:
        e_list = ", ".join(c.rsplit(".", 1)[-1] for _, c in e_types[1:]) or expected.cls
        a_list = ", ".join(c.rsplit(".", 1)[-1] for _, c in a_types[1:]) or actual.cls
        return fail("wrong-type", "layers", expected_layers=e_list, actual_layers=a_list)
    missing = [n for n in expected.params if n not in actual.params]
    extra = [n for n in actual.params if n not in expected.params]
    if missing or extra:
        return fail(
            "missing-name",
            "parameter",
            detail=", ".join(missing) or "-",
            unexpected=", ".join(extra) or "-",
        )
    for name, e in expected.params.items():
        sub = compare_tensor(
            e, actual.params[name], Options(rtol=opts.rtol, atol=opts.atol, values=False)
        )
        if not sub.passed:
            sub.facts["path"] = "." + name
            return sub
    if opts.values:
        for name, e in expected.params.items():
            sub = compare_tensor(e, actual.params[name], Options(rtol=opts.rtol, atol=opts.atol))
            if (
                not sub.passed
                and sub.diagnostic == "wrong-value"
                and sub.facts.get("variant") in ("", "parameter")
            ):
                sub.facts["path"] = "." + name
                return sub
    return Finding.ok()


# --------------------------------------------------------------------------- storage


def storage_unchanged(actual: Any, snapshot: dict[str, Any] | None) -> Finding:
    """The tensor still lives in the memory it had before the cell (in-place update)."""
    if not isinstance(actual, torch.Tensor) or not snapshot:
        return Finding.ok()
    meta = meta_of(actual)
    if meta.data_ptr is None or meta.data_ptr != snapshot.get("data_ptr"):
        return fail("not-in-place")
    return Finding.ok()


def separate_storage(actual: Any, other: Any, other_label: str) -> Finding:
    """The tensor does not share memory with ``other`` (a real copy was made)."""
    if not isinstance(actual, torch.Tensor) or not isinstance(other, torch.Tensor):
        return Finding.ok()
    a, b = meta_of(actual), meta_of(other)
    if None in (a.storage_ptr, a.storage_nbytes, b.storage_ptr, b.storage_nbytes):
        return Finding.ok()
    assert a.storage_ptr is not None and a.storage_nbytes is not None
    assert b.storage_ptr is not None and b.storage_nbytes is not None
    overlap = a.storage_ptr < b.storage_ptr + b.storage_nbytes and (
        b.storage_ptr < a.storage_ptr + a.storage_nbytes
    )
    if overlap and a.storage_nbytes and b.storage_nbytes:
        return fail("shares-memory", "", other=other_label)
    return Finding.ok()


# --------------------------------------------------------------------------- provenance


def grad_origin(actual: Any, origin: Any) -> Finding:
    """A checked ``.grad`` was written by a backward pass of the cell, and left alone after.

    ``origin`` is the harness's record (``extra.grad_origin``); no record counts as not
    written by backward (fail closed). A ``None``/missing gradient is compare's business."""
    if not isinstance(actual, torch.Tensor) or origin == "backward":
        return Finding.ok()
    return fail("grad-not-from-backward", "replaced" if origin == "replaced" else "no-backward")


def trained(actual: Any, initial: Any, record: Any, steps: int, moved: float = 0.0) -> Finding:
    """A parameter was trained: at least ``steps`` backward passes wrote its gradient, its
    value changed after at least ``steps`` of them, and (``moved`` > 0) it ended at least
    that fraction of its final size away from its value at the first pass."""
    record = record if isinstance(record, dict) else {}
    done = record.get("steps", 0)
    if not isinstance(actual, torch.Tensor):
        return Finding.ok()  # the type is compare's business
    if done < steps:
        return fail("not-trained", "steps" if done else "no-backward", steps=done, required=steps)
    updates = record.get("updates", 0)
    if updates < steps:
        return fail("not-trained", "updates", steps=done, updates=updates, required=steps)
    if not isinstance(initial, torch.Tensor) or initial.shape != actual.shape:
        return fail("not-trained", "no-backward", steps=0, required=steps)
    final, start = _as_wide(actual.detach()), _as_wide(initial.detach())
    if not bool(torch.isfinite(final).all()):
        return Finding.ok()  # nan/inf: the value checks say what is wrong
    size = float(torch.linalg.vector_norm(final))
    distance = float(torch.linalg.vector_norm(final - start))
    if distance == 0.0 or (moved > 0 and distance < moved * size):
        share = f"{distance / size:.1%}" if size else "0%"
        return fail("not-trained", "moved", share=share, wanted=f"{moved:.0%}")
    return Finding.ok()
