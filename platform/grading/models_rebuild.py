"""Grading training on the trusted side: rebuild a student's model, measure it on held-out
data, compare its structure with the reference's, and judge a recorded loss curve.

The run exports a model as a ``wire.ModuleSummary`` (layer classes, their ``extra_repr`` and
the parameter tensors: no pickle). Here the model is rebuilt from a CLOSED list of standard
layers with hyperparameters parsed as plain literals, the student's tensors are loaded into
it, and it is evaluated on a held-out set that never entered the sandbox. Nothing the run
defined executes here: a custom ``forward`` is not run, so a custom ``nn.Module`` is rebuilt
as its layers applied in the order they were defined (the convention of ``nn.Sequential``);
a ``forward`` that calls ``F.relu`` instead of an ``nn.ReLU`` layer is not visible and the
structure check says the ReLU is missing (docs/grading.md, "Training checks").
"""

from __future__ import annotations

import ast
import base64
import io
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from grading import compare as cmp
from grading import safe_expr, wire

_NN = "torch.nn.modules."
# Class (as the wire names it) -> (short name, constructor, allowed hyperparameters).
LAYERS: dict[str, tuple[str, Callable[..., nn.Module], tuple[str, ...]]] = {
    _NN + "linear.Linear": ("Linear", nn.Linear, ("in_features", "out_features", "bias")),
    _NN + "activation.ReLU": ("ReLU", nn.ReLU, ("inplace",)),
    _NN + "activation.Sigmoid": ("Sigmoid", nn.Sigmoid, ()),
    _NN + "activation.Tanh": ("Tanh", nn.Tanh, ()),
    _NN + "activation.Softmax": ("Softmax", nn.Softmax, ("dim",)),
    _NN + "activation.LogSoftmax": ("LogSoftmax", nn.LogSoftmax, ("dim",)),
    _NN + "flatten.Flatten": ("Flatten", nn.Flatten, ("start_dim", "end_dim")),
    _NN + "dropout.Dropout": ("Dropout", nn.Dropout, ("p", "inplace")),
    _NN + "linear.Identity": ("Identity", nn.Identity, ()),
}
SHAPE_ONLY = frozenset({"Flatten", "Identity"})
_IGNORED = ("inplace",)  # hyperparameters that do not change what a layer computes
MAX_LAYERS = 64
MAX_FEATURES = 1 << 16


class ModelError(ValueError):
    """The exported model cannot be rebuilt from the closed list of layers."""

    def __init__(self, variant: str, **facts: Any) -> None:
        super().__init__(variant)
        self.facts = {"variant": variant, **facts}


class Layer:
    """One rebuilt leaf layer: its qualified name in the student's model, kind and kwargs."""

    def __init__(self, path: str, kind: str, kwargs: dict[str, Any]) -> None:
        self.path, self.kind, self.kwargs = path, kind, kwargs

    def text(self) -> str:
        kw = {k: v for k, v in self.kwargs.items() if k not in _IGNORED}
        if self.kind == "Linear":
            bias = "" if kw.get("bias", True) else ", bias=False"
            return f"Linear({kw.get('in_features')}, {kw.get('out_features')}{bias})"
        defaults = {"Flatten": {"start_dim": 1, "end_dim": -1}}.get(self.kind, {})
        shown = [f"{k}={v}" for k, v in kw.items() if defaults.get(k, object()) != v]
        return f"{self.kind}({', '.join(shown)})"

    def key(self) -> tuple[str, tuple[tuple[str, Any], ...]]:
        return self.kind, tuple(sorted((k, v) for k, v in self.kwargs.items() if k not in _IGNORED))


def _parse_kwargs(extra: str, allowed: tuple[str, ...], path: str, kind: str) -> dict[str, Any]:
    """``"in_features=64, out_features=10, bias=True"`` -> a dict of plain literals only."""
    out: dict[str, Any] = {}
    for part in [p.strip() for p in extra.split(",") if p.strip()]:
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep or key not in allowed:
            raise ModelError("hyperparameter", layer=path or kind, cls=kind, detail=part[:80])
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            raise ModelError("hyperparameter", layer=path or kind, cls=kind,
                             detail=part[:80]) from None  # fmt: skip
        if not isinstance(value, bool | int | float) and value is not None:
            raise ModelError("hyperparameter", layer=path or kind, cls=kind, detail=part[:80])
        out[key] = value
    if kind == "Linear":
        sizes = (out.get("in_features"), out.get("out_features"))
        if not all(isinstance(s, int) and 0 < s <= MAX_FEATURES for s in sizes):
            raise ModelError("hyperparameter", layer=path, cls=kind, detail=extra[:80])
    return out


def layers_of(model: Any) -> list[Layer]:
    """The leaf layers of an exported model, in the order they were defined."""
    if not isinstance(model, wire.ModuleSummary):
        raise ModelError("not-module", actual_type=cmp.type_name(model))
    names = [name for name, _, _ in model.layers]
    leaves: list[Layer] = []
    for name, cls, extra in model.layers:
        prefix = f"{name}." if name else ""
        has_children = any(n != name and n.startswith(prefix) for n in names)
        if has_children:
            # A container (nn.Sequential or the student's own nn.Module subclass) may hold
            # layers but no parameters of its own: those would be used by code we cannot see.
            own = [p for p in model.params if p.startswith(prefix) and
                   p[len(prefix):].count(".") == 0]  # fmt: skip
            if own:
                raise ModelError("own-parameters", layer=name or cls.rsplit(".", 1)[-1],
                                 cls=cls.rsplit(".", 1)[-1], detail=", ".join(own[:3]))  # fmt: skip
            continue
        if cls not in LAYERS:
            short = cls.rsplit(".", 1)[-1]
            raise ModelError("layer", layer=name or short, cls=short)
        kind, _, allowed = LAYERS[cls]
        leaves.append(Layer(name, kind, _parse_kwargs(extra, allowed, name, kind)))
        if len(leaves) > MAX_LAYERS:
            raise ModelError("too-many", count=len(leaves))
    return leaves


def rebuild(model: Any) -> nn.Sequential:
    """A trusted ``nn.Sequential`` of the model's layers holding the student's tensors."""
    leaves = layers_of(model)
    built = []
    state: dict[str, torch.Tensor] = {}
    for i, layer in enumerate(leaves):
        _, ctor, _ = next(v for v in LAYERS.values() if v[0] == layer.kind)
        kwargs = {k: v for k, v in layer.kwargs.items() if k != "inplace"}
        built.append(ctor(**kwargs))
        prefix = f"{layer.path}." if layer.path else ""
        for pname in dict(built[-1].named_parameters()):
            tensor = model.params.get(prefix + pname)
            if not isinstance(tensor, torch.Tensor):
                raise ModelError("tensor", layer=layer.path, detail=pname)
            state[f"{i}.{pname}"] = tensor.detach().to("cpu", torch.float32)
    net = nn.Sequential(*built)
    expected = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise ModelError("tensor", layer=key, detail=f"shape {tuple(state[key].shape)}")
    net.load_state_dict(state)
    return net.eval()


def count_parameters(model: wire.ModuleSummary) -> int:
    return sum(int(t.numel()) for t in model.params.values())


# --------------------------------------------------------------------------- held-out data


def load_heldout(data: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out set (X, y) from the check's base64 .npz (trusted, from the lesson)."""
    with np.load(io.BytesIO(base64.b64decode(data)), allow_pickle=False) as npz:
        X, y = npz["X"], npz["y"]
    return torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.int64))


def _accuracy(scores: Any, y: torch.Tensor) -> float | None:
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or scores.shape[0] != len(y):
        return None
    if scores.shape[1] <= int(y.max()):  # fewer scores per row than there are classes
        return None
    return float((scores.argmax(dim=1) == y).float().mean())


def heldout_finding(
    target: str, uses: tuple[str, ...], data: str, minimum: float, got: wire.Decoded
) -> cmp.Finding:
    """Accuracy of the student's model (a name) or formula (over ``uses`` and ``X``)."""
    X, y = load_heldout(data)
    facts: dict[str, Any] = {"count": len(y), "wanted": f"{minimum:.0%}"}
    try:
        with torch.no_grad():
            if target.isidentifier():
                if target not in got.values or isinstance(got.values[target], wire.MissingValue):
                    return cmp.fail("missing-name", "name", name=target)
                scores = rebuild(got.values[target])(X)
            else:
                env: dict[str, Any] = {"X": X}
                for name in uses:
                    value = got.values.get(name)
                    if value is None or isinstance(value, wire.MissingValue):
                        return cmp.fail("missing-name", "name", name=name)
                    env[name] = value.detach().float() if isinstance(value, torch.Tensor) else value
                scores = safe_expr.evaluate(target, (*uses, "X"), env)
    except ModelError as exc:
        return cmp.Finding(False, "model-unsupported", {**facts, **exc.facts})
    except safe_expr.UnsafeExpression:
        raise
    except Exception as exc:  # shapes that do not fit the data, a dtype the layer refuses
        detail = f"{type(exc).__name__}: {exc}"[:200]
        return cmp.fail("heldout-accuracy", "error", detail=detail, shape=list(X.shape))
    acc = _accuracy(scores, y)
    if acc is None:
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else cmp.type_name(scores)
        return cmp.fail("heldout-accuracy", "shape", actual=str(shape), rows=len(y))
    facts["accuracy"] = f"{acc:.1%}"
    if acc < minimum:
        return cmp.fail("heldout-accuracy", "low", **facts)
    return cmp.Finding(True, None, facts)


# --------------------------------------------------------------------------- structure


def structure_finding(expected: Any, actual: Any) -> cmp.Finding:
    """Name the first difference between the student's layers and the reference's."""
    # Flatten and Identity are left out of the comparison: on the course's batches of
    # vectors they change nothing, and a custom module may reshape in its own way.
    want = [x for x in layers_of(expected) if x.kind not in SHAPE_ONLY]  # broken if it raises
    try:
        have = [x for x in layers_of(actual) if x.kind not in SHAPE_ONLY]
    except ModelError as exc:
        if exc.facts["variant"] == "not-module" and isinstance(actual, wire.MissingValue):
            return cmp.fail("missing-name", "name")
        return cmp.Finding(False, "model-unsupported", exc.facts)
    a, b = [x.key() for x in have], [x.key() for x in want]
    if a != b:
        return _diff(have, want)
    n_have, n_want = count_parameters(actual), count_parameters(expected)
    if n_have != n_want:
        return cmp.fail("structure-mismatch", "params", count=n_have, wanted=n_want)
    return cmp.Finding.ok()


def _diff(have: list[Layer], want: list[Layer]) -> cmp.Finding:
    a, b = [x.key() for x in have], [x.key() for x in want]
    if len(a) == len(b):
        i = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
        if a[i + 1 :] == b[i + 1 :]:
            return cmp.fail("structure-mismatch", "changed", index=i + 1,
                            layer=have[i].text(), should=want[i].text())  # fmt: skip
    if len(a) + 1 == len(b):  # one layer missing: where?
        for i in range(len(b)):
            if a == b[:i] + b[i + 1 :]:
                missing = want[i].text().split("(")[0]
                if 0 < i < len(b) - 1:
                    before, after = want[i - 1].text(), want[i + 1].text()
                    return cmp.fail("structure-mismatch", "missing", layer=missing,
                                    before=before, after=after)  # fmt: skip
                return cmp.fail("structure-mismatch", "missing-end", layer=want[i].text(),
                                index=i + 1)  # fmt: skip
    if len(a) == len(b) + 1:
        for i in range(len(a)):
            if a[:i] + a[i + 1 :] == b:
                return cmp.fail("structure-mismatch", "extra", layer=have[i].text(), index=i + 1)
    # Several differences: name the first one, then show both lists of layers.
    k = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    first = have[k].text() if k < len(have) else "(none)"
    should = want[k].text() if k < len(want) else "(none)"
    return cmp.fail("structure-mismatch", "layers", index=k + 1, layer=first, should=should,
                    layers=" → ".join(x.text() for x in have),
                    wanted=" → ".join(x.text() for x in want))  # fmt: skip


# --------------------------------------------------------------------------- loss curve


def _losses(value: Any) -> list[float] | None:
    if isinstance(value, torch.Tensor):
        return [float(v) for v in value.detach().reshape(-1)] if value.dim() <= 1 else None
    if isinstance(value, list | tuple):
        out = []
        for v in value:
            scalar = isinstance(v, int | float) and not isinstance(v, bool)
            if scalar or (isinstance(v, torch.Tensor) and v.numel() == 1):
                out.append(float(v))
            elif isinstance(v, wire.ScalarValue) and isinstance(v.value, int | float):
                out.append(float(v.value))
            else:
                return None
        return out
    return None


def loss_finding(name: str, value: Any, below: float | None) -> cmp.Finding:
    """The loss recorded per epoch went down overall and ended under ``below``."""
    if isinstance(value, wire.MissingValue):
        return cmp.fail("missing-name", "name", name=name)
    losses = _losses(value)
    if losses is None:
        return cmp.fail("loss-curve", "type", actual_type=cmp.type_name(value))
    if len(losses) < 2:
        return cmp.fail("loss-curve", "short", count=len(losses))
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is not None:
        return cmp.fail("loss-curve", "nan", epoch=bad + 1, value=str(losses[bad]))
    first, last = losses[0], losses[-1]
    scale = max(abs(first), abs(last), 1e-12)
    if max(losses) - min(losses) <= 1e-6 * scale:
        return cmp.fail("loss-curve", "flat", first=f"{first:.4g}", count=len(losses))
    if last >= first:
        return cmp.fail("loss-curve", "up", first=f"{first:.4g}", last=f"{last:.4g}")
    if below is not None and last > below:
        return cmp.fail("loss-curve", "high", last=f"{last:.4g}", below=f"{below:g}")
    return cmp.Finding.ok()


# --------------------------------------------------------------------------- mode


def mode_finding(name: str, value: Any, expect: str) -> cmp.Finding:
    """The model is in ``expect`` mode ("eval" or "train") at the end of the cell: the
    model itself and every layer in it (``net.eval()`` sets them all; ``net.training =
    False`` or ``net[2].eval()`` alone do not)."""
    if isinstance(value, wire.MissingValue):
        return cmp.fail("missing-name", "name", name=name)
    if not isinstance(value, wire.ModuleSummary):
        return cmp.fail("model-mode", "not-module", actual_type=cmp.type_name(value))
    modes = value.modes if value.modes is not None else [value.training]
    want_training = expect == "train"
    wrong = [i for i, m in enumerate(modes) if m is not want_training]
    if not wrong:
        return cmp.Finding.ok()
    if wrong[0] == 0:  # the model itself
        return cmp.fail("model-mode", expect)
    # Name a layer whose mode matters (a dropout) before one whose mode changes nothing.
    first = next((i for i in wrong if "Dropout" in value.layers[i][1]
                  or "BatchNorm" in value.layers[i][1]), wrong[0])  # fmt: skip
    layer, cls, _ = value.layers[first]
    return cmp.fail("model-mode", f"{expect}-layer", layer=layer,
                    cls=cls.rsplit(".", 1)[-1], count=len(wrong))  # fmt: skip
