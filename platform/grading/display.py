"""Notebook-style display strings for decoded values (trusted side).

``preview(value)`` turns what ``grading.wire.decode`` produced into the short text a
notebook would print: torch's own repr for tensors (summarised, then capped), NumPy's for
arrays, ``DataFrame.to_string(max_rows=10, max_cols=8)`` for frames, ``repr`` for scalars,
the layer list for modules, each followed by its shape and dtype. The verdict's
``checks[].expected/actual`` and the Run view's ``values`` are made with it.

It never runs student code: it only formats the plain types ``decode`` builds (checked
with ``type() is``, never ``isinstance``), and anything else prints as ``<TypeName>``
without calling its ``__repr__``. Opaque objects show the repr text the sandbox already
captured, as text. Work is bounded: at most ``MAX_PRINTED`` tensor/array elements are ever
formatted, containers stop at their budget, and every string is capped at ``limit``
characters with a visible ``…``.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from grading.messages import shape_text
from grading.wire import (
    TORCH_DTYPE_NAMES,
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

LIMIT = 600  # characters of the value itself; the shape/dtype line comes on top
MARK = "…"
THRESHOLD = 64  # more elements than this: summarise with EDGE items at each end
EDGE = 3
LINEWIDTH = 80
MAX_PRINTED = 1_000  # elements the summarised repr may format (high-dim tensors are sliced)
FRAME_ROWS, FRAME_COLS = 10, 8
MAX_LAYERS = 40

# torch's print options are process-global: set and restore them under one lock so two
# threads formatting at once cannot leave each other's options behind.
_PRINT_LOCK = threading.Lock()


def cap(text: str, limit: int = LIMIT) -> str:
    """Cut ``text`` to ``limit`` characters, marking the cut with ``…``."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + MARK


def preview(value: Any, *, limit: int = LIMIT, values: bool = True) -> str:
    """A notebook-like display of one decoded value: the value, then its shape and dtype.

    ``values=False`` shows only the kind, shape and dtype (for checks that do not compare
    values, where the reference's numbers would mislead)."""
    try:
        return _preview(value, limit, values)
    except Exception as exc:  # a formatter bug must never break a verdict
        return f"<{_type_label(value)}: cannot display ({type(exc).__name__})>"


def _preview(value: Any, limit: int, values: bool) -> str:
    cls = type(value)
    if cls is torch.Tensor:
        return _tensor(value, limit, values)
    if cls is np.ndarray:
        return _ndarray(value, limit, values)
    if cls is FrameValue:
        return _frame(value, limit, values)
    if cls is SeriesValue:
        return _series(value, limit, values)
    if cls is ModuleSummary:
        return _module(value, limit)
    if not values and cls in (list, tuple, dict, set, torch.Size):
        return f"{cls.__name__} of length {len(value)}"
    return cap(_inline(value, [limit + 1]), limit)


def _type_label(value: Any) -> str:
    return type(value).__name__


# --------------------------------------------------------------------------- tensors


def _facts(shape: tuple[int, ...], dtype: str, extra: str = "") -> str:
    return f"shape {shape_text(shape)} {dtype}{extra}"


def _tensor(t: torch.Tensor, limit: int, values: bool = True) -> str:
    meta = meta_of(t)
    extra = ""
    if meta.device not in ("cpu", ""):
        extra += f" {meta.device}"
    if meta.requires_grad:
        extra += " requires_grad=True"
    facts = _facts(tuple(meta.shape), meta.dtype, extra)
    if not values:
        return f"tensor  {facts}"
    if meta.truncated or tuple(t.shape) != tuple(meta.shape):
        return f"tensor (too large to show)  {facts}"
    return f"{_torch_repr(t, limit)}  {facts}"


def _printed(shape: tuple[int, ...]) -> int:
    """How many elements a summarised repr formats for this shape."""
    numel = math.prod(shape)
    if numel <= THRESHOLD:
        return numel
    return math.prod(min(s, 2 * EDGE) for s in shape)


def _bounded(x: Any, shape: tuple[int, ...]) -> tuple[Any, bool]:
    """Slice leading dimensions to their first element until the repr's work is bounded
    (a (2,)*16 tensor would otherwise format 65 536 elements to show 300)."""
    cut = False
    dims = list(shape)
    for d in range(len(dims) - 1):
        if _printed(tuple(dims)) <= MAX_PRINTED:
            break
        if dims[d] > 1:
            x = x.narrow(d, 0, 1) if isinstance(x, torch.Tensor) else np.take(x, [0], axis=d)
            dims[d] = 1
            cut = True
    return x, cut


def _torch_repr(t: torch.Tensor, limit: int) -> str:
    t = t.detach()
    if t.dtype not in TORCH_DTYPE_NAMES:  # decode never builds one; do not guess
        return "tensor(…)"
    x, cut = _bounded(t, tuple(t.shape))
    with (
        _PRINT_LOCK,
        torch._tensor_str.printoptions(
            threshold=THRESHOLD, edgeitems=EDGE, linewidth=LINEWIDTH, precision=4, sci_mode=None
        ),
    ):
        text = repr(x)  # a plain torch.Tensor (decode builds no subclass): torch's own repr
    if cut:
        return cap(text, limit - 1) + ("" if len(text) > limit - 1 else MARK)
    return cap(text, limit)


def _ndarray(a: np.ndarray, limit: int, values: bool = True) -> str:
    facts = _facts(tuple(a.shape), str(a.dtype))
    if not values:
        return f"array  {facts}"
    return f"{_ndarray_repr(a, limit)}  {facts}"


def _ndarray_repr(a: np.ndarray, limit: int) -> str:
    if a.dtype == object:  # items are decoded values: format them ourselves, bounded
        items = list(a.reshape(-1)[: THRESHOLD + 1])
        body = "array(" + _seq(items, "[", "]", [limit + 1]) + ", dtype=object)"
        return cap(body, limit)
    x, cut = _bounded(a, tuple(a.shape))
    with np.printoptions(threshold=THRESHOLD, edgeitems=EDGE, linewidth=LINEWIDTH, precision=4):
        text = np.array_repr(x)
    if cut:
        return cap(text, limit - 1) + ("" if len(text) > limit - 1 else MARK)
    return cap(text, limit)


# --------------------------------------------------------------------------- pandas


def _column_array(col: Column, rows: list[int] | None) -> Any:
    vals = col.values
    if isinstance(vals, np.ndarray):
        arr = vals if rows is None else vals[rows]
        if col.na and arr.dtype.kind not in "fc":
            # NaN rows of a nullable column: show them as pandas would (<NA>/NaN).
            na = set(col.na)
            picked = range(len(vals)) if rows is None else rows
            out = arr.astype(object)
            for i, r in enumerate(picked):
                if r in na:
                    out[i] = None
            return out
        return arr
    items = vals if rows is None else [vals[r] for r in rows]
    out = np.empty(len(items), dtype=object)
    for i, v in enumerate(items):
        out[i] = _cell(v)
    return out


def _cell(v: Any) -> Any:
    """A frame cell as a plain value pandas can print without calling student code."""
    if v is None or type(v) in (bool, int, float, complex, str):
        return v
    if type(v) is ScalarValue:
        return v.value
    return _Shown(_inline(v, [60]))


class _Shown:
    """Text that pandas prints as is (its repr is ours, not the student's)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def _label(x: Any) -> Any:
    if type(x) in (bool, int, float, str) or x is None:
        return x
    return _Shown(_inline(x, [40])).text


def _rows_to_show(n: int) -> list[int] | None:
    """Head and tail rows only: pandas shows no more of a long frame, and building the
    whole frame would cost time for nothing. Its "..." row still appears."""
    if n <= 2 * FRAME_ROWS:
        return None
    return list(range(FRAME_ROWS)) + list(range(n - FRAME_ROWS, n))


def _frame(f: FrameValue, limit: int, values: bool = True) -> str:
    import pandas as pd

    rows, ncols = f.shape
    dtypes = _dtype_list(f)
    facts = f"shape {shape_text((rows, ncols))}" + (f"  dtypes: {dtypes}" if dtypes else "")
    if not values:
        return f"DataFrame  {facts}"
    pick = _rows_to_show(rows)
    cols_idx = list(range(ncols))
    if ncols > 2 * FRAME_COLS:  # pandas shows the first and last few: keep only those
        cols_idx = cols_idx[:FRAME_COLS] + cols_idx[-FRAME_COLS:]
    data = {i: _column_array(f.data[c], pick) for i, c in enumerate(cols_idx)}
    index = _column_array(f.index, pick)
    df = pd.DataFrame(data, index=pd.Index(index, dtype=object) if index.dtype == object else index)
    df.columns = pd.Index([_label(f.columns[c]) for c in cols_idx], dtype=object)
    text = df.to_string(max_rows=FRAME_ROWS, max_cols=FRAME_COLS, show_dimensions=False)
    return f"{cap(text, limit)}\n{facts}"


def _dtype_list(f: FrameValue) -> str:
    parts = [f"{_label(c)} {col.dtype}" for c, col in zip(f.columns, f.data, strict=False)]
    if len(parts) > FRAME_COLS:
        parts = [*parts[:FRAME_COLS], MARK]
    return cap(", ".join(parts), 200)


def _series(s: SeriesValue, limit: int, values: bool = True) -> str:
    import pandas as pd

    n = len(s.values)
    facts = f"shape {shape_text((n,))} {s.values.dtype}"
    if not values:
        return f"Series  {facts}"
    pick = _rows_to_show(n)
    index = _column_array(s.index, pick)
    ser = pd.Series(
        _column_array(s.values, pick),
        index=pd.Index(index, dtype=object) if index.dtype == object else index,
        name=_label(s.name),
        dtype=None,
    )
    text = ser.to_string(max_rows=FRAME_ROWS, name=True, length=False, dtype=False)
    return f"{cap(text, limit)}\n{facts}"


# --------------------------------------------------------------------------- modules


def _module(m: ModuleSummary, limit: int) -> str:
    """The layer tree, shaped like ``print(net)``, plus the parameter count and shapes."""
    children: dict[str, list[tuple[str, str, str]]] = {}
    root_extra = ""
    for name, cls, extra in m.layers:
        if not name:
            root_extra = extra
            continue
        parent = name.rsplit(".", 1)[0] if "." in name else ""
        children.setdefault(parent, []).append((name, cls, extra))
    lines: list[str] = []

    def render(name: str, cls: str, extra: str, depth: int, label: str) -> None:
        pad = "  " * depth
        if len(lines) >= MAX_LAYERS or depth > 12:
            if not lines or lines[-1].strip() != MARK:
                lines.append(pad + MARK)
            return
        head = f"{pad}{label}{cls.rsplit('.', 1)[-1] or 'Module'}("
        kids = children.get(name, [])
        if not kids:
            lines.append(f"{head}{extra})")
            return
        lines.append(head)
        if extra:
            lines.append(f"{pad}  {extra}")
        for child, ccls, cextra in kids:
            render(child, ccls, cextra, depth + 1, f"({child.rsplit('.', 1)[-1]}): ")
        lines.append(pad + ")")

    render("", m.cls, root_extra, 0, "")
    n_params = sum(int(p.numel()) for p in m.params.values())
    shapes = ", ".join(f"{k} {shape_text(tuple(p.shape))}" for k, p in list(m.params.items())[:6])
    if len(m.params) > 6:
        shapes += ", " + MARK
    facts = f"{n_params} parameters" + (f": {shapes}" if shapes else "")
    if not m.training:
        facts += "  (eval mode)"
    return f"{cap(chr(10).join(lines), limit)}\n{cap(facts, 300)}"


# --------------------------------------------------------------------------- inline values


def _inline(x: Any, budget: list[int]) -> str:
    """A one-value repr that stops once ``budget[0]`` characters are used up."""
    if budget[0] <= 0:
        return MARK
    before = budget[0]
    text = _inline_inner(x, budget)
    # Containers already charged their items; charge only what is left (brackets, scalars).
    budget[0] -= max(len(text) - (before - budget[0]), 0)
    return text


def _inline_inner(x: Any, budget: list[int]) -> str:
    cls = type(x)
    if x is None or cls in (bool, float, complex):
        return repr(x)
    if cls is int:
        try:
            return repr(x)
        except ValueError:  # more digits than Python will print
            return f"<int with about {int(x.bit_length() * 0.30103)} digits>"
    if cls is str:
        # repr of a 64 KiB string is cheap, but only its start is shown
        return repr(x[: max(budget[0], 0) + 1])[: budget[0] + 2]
    if cls is torch.Size:
        return "torch.Size(" + _seq(list(x), "[", "]", budget) + ")"
    if cls is list:
        return _seq(x, "[", "]", budget)
    if cls is tuple:
        return _seq(x, "(", ",)" if len(x) == 1 else ")", budget)
    if cls is set:
        return _seq(list(x), "{", "}", budget) if x else "set()"
    if cls is dict:
        return _pairs(x, budget)
    if cls is torch.dtype or cls is torch.device:
        return repr(x)
    if cls is ScalarValue:
        return f"np.{x.dtype}({_inline_inner(x.value, budget)})"
    if cls is CallableValue:
        return f"<{x.kind} {x.name}>"
    if cls is OpaqueValue:
        return x.repr  # text the sandbox captured; never re-evaluated here
    if cls is MissingValue:
        if x.reason == "attribute":
            return f"<no such attribute: {x.detail}>"
        return "<not defined>"
    if cls is torch.Tensor:  # inside a container: the repr alone, as print() shows it
        if meta_of(x).truncated:
            return f"tensor(<too large>, shape={shape_text(meta_of(x).shape)})"
        return _torch_repr(x, max(min(budget[0], LIMIT), 8))
    if cls is np.ndarray:
        return _ndarray_repr(x, max(min(budget[0], LIMIT), 8))
    if cls is FrameValue:
        return f"<DataFrame {shape_text(x.shape)}>"
    if cls is SeriesValue:
        return f"<Series {shape_text(x.shape)}>"
    if cls is ModuleSummary:
        return f"<{x.cls.rsplit('.', 1)[-1]}>"
    return f"<{cls.__name__}>"  # not a decoded type: never call its __repr__


def _seq(items: list[Any], open_: str, close: str, budget: list[int]) -> str:
    makers = [functools.partial(_inline, v, budget) for v in items]
    return _join(makers, open_, close, budget)


def _pair(k: Any, v: Any, budget: list[int]) -> str:
    return f"{_inline(k, budget)}: {_inline(v, budget)}"


def _pairs(d: dict[Any, Any], budget: list[int]) -> str:
    makers = [functools.partial(_pair, k, v, budget) for k, v in d.items()]
    return _join(makers, "{", "}", budget)


def _join(makers: Sequence[Callable[[], str]], open_: str, close: str, budget: list[int]) -> str:
    parts: list[str] = []
    budget[0] -= len(open_)
    for make in makers:
        if budget[0] <= 0:
            parts.append(MARK)
            break
        parts.append(make())
        budget[0] -= 2
    return open_ + ", ".join(parts) + close
