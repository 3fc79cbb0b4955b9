"""The export format between the sandbox and the trusted grader.

Layout: ``b"GRW1"`` + 4-byte big-endian JSON length + UTF-8 JSON document + raw blob area.
The document is ``{"v": 1, "values": {key: node}, "extra": {...plain JSON...}}``; a node is a
small type-tagged JSON object, and tensors/arrays point into the blob area by offset and
length. Nothing is ever pickled or ``torch.load``-ed: ``decode`` rebuilds plain tensors,
arrays and summary objects from bytes it has validated (sizes, dtypes, shapes, depth).

``encode`` runs inside the sandbox (stdlib + torch/numpy/pandas only); ``decode`` runs in
the trusted process. The format is documented in docs/grading.md.

Why this file is long: the encoder and the decoder of one format live together so that a
change to a node type changes both sides in one place; the decoder's caps (bytes, nodes,
depth) sit beside the nodes they bound.
"""

from __future__ import annotations

import json
import math
import struct
import types
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np
import torch

MAGIC = b"GRW1"
VERSION = 1

# Caps applied on both sides: encode stays inside them, decode refuses anything beyond.
MAX_TOTAL_BYTES = 64 * 2**20
MAX_JSON_BYTES = 16 * 2**20
MAX_DEPTH = 24
MAX_ITEMS = 10_000  # elements of a list/tuple/dict/object column
MAX_STR = 64 * 2**10
MAX_REPR = 2_000
MAX_DIMS = 16
MAX_TENSOR_BYTES = 16 * 2**20
MAX_NODES = 100_000  # all nodes of one export: a huge nested list cannot stall the encoder

# Decode-side caps (trusted side). The export is hostile data: a forged one must not make
# the grader build more than a bounded amount of memory (see docs/grading.md, "Decode").
# - Blob ranges are taken in order and never overlap, so each blob byte is decoded at most
#   once; the total decoded (tensor/array) bytes stay under MAX_DECODED_BYTES.
# - The JSON document is measured before ``json.loads``: a 16 MiB document of ``{}`` would
#   otherwise build ~400 MiB of dicts; under these caps parsing stays below ~100 MiB.
#   The encoder keeps within the same caps (an export beyond them becomes "oversized" in
#   the sandbox, never a surprise refusal here).
MAX_DECODED_BYTES = 64 * 2**20
MAX_DECODE_NODES = 250_000  # nodes, tensors and columns built by one decode
MAX_JSON_CONTAINERS = 200_000  # JSON objects + arrays in the document
MAX_JSON_COMMAS = 600_000  # JSON members + elements (roughly) in the document
MAX_DIM = 2**48  # one dimension of a shape (more only fits a zero-element tensor anyway)

TORCH_DTYPES: dict[str, torch.dtype] = {
    "bool": torch.bool,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}
TORCH_DTYPE_NAMES = {v: k for k, v in TORCH_DTYPES.items()}
NUMPY_DTYPES = {
    "bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", "complex64", "complex128",
}  # fmt: skip


class WireError(ValueError):
    """The bytes are not a valid export (corrupt, oversized or forged)."""


# --------------------------------------------------------------------------- decoded types


@dataclass
class TensorMeta:
    """Facts about an exported tensor besides its values (attached to the decoded tensor)."""

    dtype: str
    shape: tuple[int, ...]
    device: str
    requires_grad: bool
    is_leaf: bool
    has_grad: bool
    grad: torch.Tensor | None
    cls: str
    storage_ptr: int | None = None
    storage_nbytes: int | None = None
    data_ptr: int | None = None
    truncated: bool = False


def meta_of(t: torch.Tensor) -> TensorMeta:
    """Return the export facts of a decoded tensor (a default for tensors built locally)."""
    meta = getattr(t, "_grading_meta", None)
    if isinstance(meta, TensorMeta):
        return meta
    return TensorMeta(
        dtype=TORCH_DTYPE_NAMES.get(t.dtype, str(t.dtype)),
        shape=tuple(t.shape),
        device=str(t.device),
        requires_grad=t.requires_grad,
        is_leaf=t.is_leaf,
        has_grad=t.grad is not None,
        grad=t.grad,
        cls=type(t).__name__,
    )


@dataclass
class Column:
    """One column (or an index) of a frame: numeric values with NaN mask, or plain objects."""

    dtype: str
    values: np.ndarray | list[Any]  # ndarray for numeric/bool dtypes, list otherwise
    na: list[int]  # row positions holding NaN/None/NA
    name: Any = None

    @property
    def numeric(self) -> bool:
        return isinstance(self.values, np.ndarray)

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class FrameValue:
    columns: list[Any]
    data: list[Column]
    index: Column

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index), len(self.columns))

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            {c: list(col.values) for c, col in zip(self.columns, self.data, strict=False)},
            index=list(self.index.values),
        )


@dataclass
class SeriesValue:
    name: Any
    values: Column
    index: Column

    @property
    def shape(self) -> tuple[int]:
        return (len(self.values),)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.Series(list(self.values.values), index=list(self.index.values), name=self.name)


@dataclass
class ModuleSummary:
    cls: str
    layers: list[tuple[str, str, str]]  # (qualified name, class name, extra_repr)
    params: dict[str, torch.Tensor]
    buffers: dict[str, torch.Tensor]
    training: bool = True
    # training flag of each entry of ``layers`` (the root first); None in an export from
    # before the ``modes`` field, where only the root's ``training`` is known.
    modes: list[bool] | None = None


@dataclass(frozen=True)
class CallableValue:
    kind: str  # "function" | "bound method" | "builtin" | "class" | "callable"
    name: str


@dataclass(frozen=True)
class OpaqueValue:
    cls: str
    repr: str


@dataclass(frozen=True)
class MissingValue:
    reason: str  # "name" | "attribute" | "error"
    detail: str = ""


@dataclass(frozen=True)
class ScalarValue:
    """A NumPy scalar (np.float32(1.5)...): value plus its dtype."""

    dtype: str
    value: Any


@dataclass
class Decoded:
    values: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    # What the grader derives from a cached reference and reuses for every submission
    # (the expected side's display strings): computed once, never from student data.
    derived: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)


# --------------------------------------------------------------------------- encode (sandbox)

# Captured at import (the warm parent imports this before any student code runs), so a
# student who reassigns torch/numpy attributes cannot change how values are exported.
_Tensor = torch.Tensor
_TensorBase = torch._C.TensorBase
_ndarray = np.ndarray
_no_tf = torch._C.DisableTorchFunctionSubclass
_detach = _TensorBase.detach
_cpu = _TensorBase.cpu
_contiguous = _TensorBase.contiguous
_numpy = _TensorBase.numpy
_data_ptr = _TensorBase.data_ptr
_untyped_storage = _TensorBase.untyped_storage
_as_subclass = _TensorBase.as_subclass
_type = type
_isinstance = isinstance
_repr = repr
_dumps = json.dumps
_pack = struct.pack
_EMPTY_DICTS: tuple[dict[Any, Any], ...] = ({}, __import__("collections").OrderedDict())
_DICT_VIEWS = tuple(
    type(view)
    for d in _EMPTY_DICTS
    for view in (d.keys(), d.values(), d.items())
)


def _capped_repr(obj: Any) -> str:
    try:
        text = _repr(obj)
    except BaseException as exc:  # student __repr__ may raise anything
        text = f"<repr failed: {_type(exc).__name__}>"
    if not _isinstance(text, str):
        text = "<repr returned a non-string>"
    return text if len(text) <= MAX_REPR else text[:MAX_REPR] + "…"


def _qualname(cls: type) -> str:
    mod = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return f"{mod}.{name}" if mod and mod != "builtins" else name


class Encoder:
    def __init__(self, budget: int = MAX_TOTAL_BYTES - MAX_JSON_BYTES) -> None:
        self.blobs = bytearray()
        self.budget = budget
        self.nodes = 0

    def _blob(self, data: bytes) -> dict[str, int]:
        off = len(self.blobs)
        self.blobs += data
        return {"off": off, "len": len(data)}

    def _room(self, n: int) -> bool:
        return len(self.blobs) + n <= self.budget and n <= MAX_TENSOR_BYTES

    # Tensors ----------------------------------------------------------------
    def tensor(self, t: Any, depth: int, with_grad: bool = True) -> dict[str, Any]:
        cls = _type(t)
        with _no_tf():
            plain = _as_subclass(t, _Tensor) if cls is not _Tensor else t
            node: dict[str, Any] = {
                "t": "tensor",
                "cls": _qualname(cls),
                "shape": [int(s) for s in plain.shape],
                "device": str(plain.device),
                "requires_grad": bool(plain.requires_grad),
                "is_leaf": bool(plain.is_leaf),
            }
            dtype = TORCH_DTYPE_NAMES.get(plain.dtype)
            node["dtype"] = dtype or str(plain.dtype)
            if plain.layout != torch.strided or dtype is None:
                kind = str(plain.layout if dtype else plain.dtype).removeprefix("torch.")
                return {
                    "t": "opaque",
                    "cls": f"{kind} tensor",
                    "repr": f"tensor of dtype {plain.dtype}, layout {plain.layout}",
                }
            try:
                storage = _untyped_storage(plain)
                node["storage"] = {
                    "ptr": int(storage.data_ptr()),
                    "nbytes": int(storage.nbytes()),
                    "data_ptr": int(_data_ptr(plain)),
                }
            except Exception:  # meta tensors, wrapper subclasses without storage
                pass
            flat = _contiguous(_cpu(_detach(plain))).reshape(-1)
            nbytes = flat.numel() * flat.element_size()
            if not self._room(nbytes):
                node["truncated"] = True
                node["data"] = None
            else:
                if plain.dtype == torch.bfloat16:
                    raw = flat.view(torch.int16).numpy().tobytes()
                else:
                    raw = _numpy(flat).tobytes()
                node["data"] = self._blob(raw)
            if with_grad:
                grad = plain.grad if plain.is_leaf else None
                node["has_grad"] = grad is not None
                if grad is not None and _isinstance(grad, _Tensor):
                    node["grad"] = self.tensor(grad, depth + 1, with_grad=False)
            return node

    def ndarray(self, a: np.ndarray, depth: int) -> dict[str, Any]:
        a = np.asarray(a)  # strips ndarray subclasses' behaviour (values only)
        node: dict[str, Any] = {"t": "ndarray", "shape": list(a.shape), "dtype": a.dtype.name}
        if a.dtype.name in NUMPY_DTYPES:
            raw = np.ascontiguousarray(a).tobytes()
            if not self._room(len(raw)):
                node["truncated"] = True
                node["data"] = None
            else:
                node["data"] = self._blob(raw)
            return node
        # object / str / datetime arrays: element by element, capped
        flat = a.reshape(-1)
        node["items"] = [self.node(v, depth + 1) for v in flat[:MAX_ITEMS]]
        node["truncated"] = flat.size > MAX_ITEMS
        return node

    # pandas -----------------------------------------------------------------
    def column(self, values: Any, depth: int) -> dict[str, Any]:
        """A Series or Index: numeric NumPy dtypes as raw bytes, anything else item by item."""
        import pandas as pd

        dtype = str(values.dtype)
        try:
            na = [int(i) for i in np.flatnonzero(np.asarray(pd.isna(values), dtype=bool))]
        except Exception:
            na = []
        node: dict[str, Any] = {"dtype": dtype, "na": na[:MAX_ITEMS]}
        if _isinstance(values.dtype, np.dtype) and values.dtype.name in NUMPY_DTYPES:
            node["array"] = self.ndarray(values.to_numpy()[:MAX_ITEMS], depth + 1)
        else:
            items = list(values.to_numpy(dtype=object)[:MAX_ITEMS])
            node["items"] = [self.node(v, depth + 1) for v in items]
        node["truncated"] = len(values) > MAX_ITEMS
        return node

    def frame(self, df: Any, depth: int) -> dict[str, Any]:
        cols = list(df.columns)[:MAX_ITEMS]
        return {
            "t": "frame",
            "columns": [self.node(c, depth + 1) for c in cols],
            "data": [self.column(df.iloc[:, i], depth) for i in range(len(cols))],
            "index": self.column(df.index, depth),
        }

    def series(self, s: Any, depth: int) -> dict[str, Any]:
        return {
            "t": "series",
            "name": self.node(s.name, depth + 1),
            "values": self.column(s, depth),
            "index": self.column(s.index, depth),
        }

    # nn.Module --------------------------------------------------------------
    def module(self, m: Any, depth: int) -> dict[str, Any]:
        layers = []
        modes = []
        for name, sub in list(m.named_modules())[:MAX_ITEMS]:
            try:
                extra = str(sub.extra_repr())[:MAX_REPR]
            except Exception:
                extra = ""
            layers.append([name, _qualname(_type(sub)), extra])
            modes.append(getattr(sub, "training", True) is not False)
        params = [[n, self.tensor(p, depth + 1)] for n, p in list(m.named_parameters())[:MAX_ITEMS]]
        buffers = [[n, self.tensor(b, depth + 1)] for n, b in list(m.named_buffers())[:MAX_ITEMS]]
        return {
            "t": "module",
            "cls": _qualname(_type(m)),
            "layers": layers,
            "params": params,
            "buffers": buffers,
            "training": bool(getattr(m, "training", True)),
            "modes": modes,  # train() / eval() of each layer, in the order of ``layers``
        }

    # Everything -------------------------------------------------------------
    def node(self, obj: Any, depth: int = 0) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            return {"t": "opaque", "cls": "", "repr": "<nested too deeply>"}
        self.nodes += 1
        if self.nodes > MAX_NODES:
            return {"t": "opaque", "cls": "", "repr": "<too many items to export>"}
        cls = _type(obj)  # type(), not isinstance: a forged __class__ cannot fool it
        try:
            return self._node(obj, cls, depth)
        except Exception as exc:  # a student object that breaks export becomes opaque
            return {"t": "opaque", "cls": _qualname(cls), "repr": f"<export failed: {exc!s:.200}>"}

    def _node(self, obj: Any, cls: type, depth: int) -> dict[str, Any]:
        if obj is None:
            return {"t": "none"}
        if cls is bool:
            return {"t": "bool", "v": obj}
        if cls is int:
            return {"t": "int", "v": obj if abs(obj) < 2**53 else str(obj)}
        if cls is float:
            return {"t": "float", "v": _float_json(obj)}
        if cls is complex:
            return {"t": "complex", "re": _float_json(obj.real), "im": _float_json(obj.imag)}
        if cls is str:
            return {"t": "str", "v": obj[:MAX_STR], "truncated": len(obj) > MAX_STR}
        if issubclass(cls, _Tensor):
            return self.tensor(obj, depth)
        if issubclass(cls, _ndarray):
            return self.ndarray(obj, depth)
        if issubclass(cls, np.generic):
            return self.npscalar(obj)
        if cls is torch.Size:
            items = [{"t": "int", "v": int(s)} for s in obj]
            return {"t": "tuple", "cls": "torch.Size", "items": items}
        if cls is torch.dtype:
            return {"t": "dtype", "v": str(obj)}
        if cls is torch.device:
            return {"t": "device", "v": str(obj)}
        if cls in (list, tuple) or cls in _DICT_VIEWS:
            tag = "tuple" if cls is tuple else "list"
            items = list(obj)
            node: dict[str, Any] = {
                "t": tag, "items": [self.node(v, depth + 1) for v in items[:MAX_ITEMS]]}
            if cls in _DICT_VIEWS:
                node["cls"] = cls.__name__
            if len(items) > MAX_ITEMS:
                node["truncated"] = True
            return node
        if cls in (set, frozenset):
            items = sorted(obj, key=_capped_repr)[:MAX_ITEMS]
            return {"t": "set", "items": [self.node(v, depth + 1) for v in items]}
        if issubclass(cls, dict) and cls.__module__ in ("builtins", "collections"):
            pairs = list(dict.items(obj))[:MAX_ITEMS]
            return {
                "t": "dict",
                "items": [[self.node(k, depth + 1), self.node(v, depth + 1)] for k, v in pairs],
            }
        pd = _pandas()
        if pd is not None:
            if issubclass(cls, pd.DataFrame):
                return self.frame(obj, depth)
            if issubclass(cls, pd.Series):
                return self.series(obj, depth)
        nn_module = torch.nn.Module
        if issubclass(cls, nn_module):
            return self.module(obj, depth)
        if cls in (types.FunctionType, types.LambdaType):
            return {"t": "callable", "kind": "function", "name": getattr(obj, "__qualname__", "")}
        if cls is types.MethodType:
            return {"t": "callable", "kind": "bound method", "name": obj.__func__.__qualname__}
        if cls in (types.BuiltinFunctionType, types.BuiltinMethodType, types.MethodWrapperType):
            return {"t": "callable", "kind": "builtin", "name": getattr(obj, "__name__", "")}
        if issubclass(cls, type):
            return {"t": "callable", "kind": "class", "name": _qualname(obj)}
        if callable(obj) and not issubclass(cls, (int, float, str)):
            return {"t": "callable", "kind": "callable", "name": _qualname(cls)}
        return {"t": "opaque", "cls": _qualname(cls), "repr": _capped_repr(obj)}

    def npscalar(self, obj: Any) -> dict[str, Any]:
        dtype = np.dtype(_type(obj)).name
        if isinstance(obj, np.bool_):
            value: Any = bool(obj)
        elif isinstance(obj, np.integer):
            value = int(obj)
        elif isinstance(obj, np.floating):
            value = _float_json(float(obj))
        elif isinstance(obj, np.complexfloating):
            value = [_float_json(float(obj.real)), _float_json(float(obj.imag))]
        else:
            return {"t": "opaque", "cls": f"numpy.{dtype}", "repr": _capped_repr(obj)}
        return {"t": "npscalar", "dtype": dtype, "v": value}

    def finish(self, values: dict[str, dict[str, Any]], extra: dict[str, Any]) -> bytes:
        doc = {"v": VERSION, "values": values, "extra": extra}
        raw = _dumps(doc, ensure_ascii=False, allow_nan=False, default=str).encode("utf-8")
        if len(raw) > MAX_JSON_BYTES or json_too_complex(raw):
            # Keep the envelope valid: drop the values, keep a marker the grader reports.
            doc = {"v": VERSION, "values": {}, "extra": {**extra, "oversized": True}}
            raw = _dumps(doc, ensure_ascii=False, allow_nan=False, default=str).encode()
        return MAGIC + _pack(">I", len(raw)) + raw + bytes(self.blobs)


def json_too_complex(raw: bytes, start: int = 0, end: int | None = None) -> bool:
    """Whether ``raw[start:end]`` (a JSON document) has more ``{``/``[`` (containers) or
    ``,`` (members) than the decoder accepts.

    Counted as bytes, inside strings too: an upper bound that costs no memory and no
    parsing. The encoder applies the same test, so an honest export over it arrives as
    "oversized" (a clear limit message), never as a refused one."""
    end = len(raw) if end is None else end
    containers = raw.count(b"{", start, end) + raw.count(b"[", start, end)
    return containers > MAX_JSON_CONTAINERS or raw.count(b",", start, end) > MAX_JSON_COMMAS


def _pandas() -> Any:
    import sys

    return sys.modules.get("pandas")


def _float_json(x: float) -> float | str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def encode(values: dict[str, Any], extra: dict[str, Any] | None = None) -> bytes:
    """Encode named Python values (+ plain JSON facts) into export bytes. Sandbox side."""
    enc = Encoder()
    nodes = {str(k): enc.node(v) for k, v in values.items()}
    return enc.finish(nodes, extra or {})


# --------------------------------------------------------------------------- decode (trusted)


def decode(
    data: bytes,
    *,
    max_bytes: int = MAX_TOTAL_BYTES,
    max_decoded: int = MAX_DECODED_BYTES,
    max_nodes: int = MAX_DECODE_NODES,
) -> Decoded:
    """Validate and decode export bytes into plain tensors/arrays/summaries. Trusted side.

    Raises ``WireError`` for anything malformed, forged or beyond the caps; memory use is
    bounded by the caps, whatever the bytes (see the decode-side caps above)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("export is not bytes")
    if len(data) > max_bytes:
        raise WireError(f"export of {len(data)} bytes exceeds the limit of {max_bytes}")
    data = bytes(data)
    if len(data) < 8 or data[:4] != MAGIC:
        raise WireError("not an export (bad magic)")
    (jlen,) = struct.unpack(">I", data[4:8])
    if jlen > MAX_JSON_BYTES or 8 + jlen > len(data):
        raise WireError("bad JSON length")
    if json_too_complex(data, 8, 8 + jlen):
        raise WireError("export document has too many items")
    try:
        doc = json.loads(data[8 : 8 + jlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WireError(f"bad JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("v") != VERSION:
        raise WireError("bad document version")
    values, extra = doc.get("values"), doc.get("extra", {})
    if not isinstance(values, dict) or not isinstance(extra, dict):
        raise WireError("bad document shape")
    dec = _Decoder(memoryview(data)[8 + jlen :], max_decoded=max_decoded, max_nodes=max_nodes)
    try:
        out = {str(k): dec.node(v, 0) for k, v in values.items()}
    except WireError:
        raise
    except (
        ValueError, TypeError, RuntimeError, OverflowError, RecursionError, AttributeError,
        KeyError, IndexError,
    ) as exc:  # fmt: skip
        # torch/numpy refusing a forged shape or dtype: still a malformed export, not a crash.
        raise WireError(f"bad value: {type(exc).__name__}: {str(exc)[:200]}") from None
    return Decoded(values=out, extra=extra)


class _Decoder:
    def __init__(
        self,
        blobs: memoryview,
        *,
        max_decoded: int = MAX_DECODED_BYTES,
        max_nodes: int = MAX_DECODE_NODES,
    ) -> None:
        self.blobs = blobs
        self.cursor = 0  # end of the last blob range taken: ranges go forward, never back
        self.decoded = 0
        self.max_decoded = max_decoded
        self.nodes = 0
        self.max_nodes = max_nodes

    def _count(self, depth: int) -> None:
        if depth > MAX_DEPTH + 4:
            raise WireError("nested too deeply")
        self.nodes += 1
        if self.nodes > self.max_nodes:
            raise WireError(f"export has more than {self.max_nodes} values")

    def _blob(self, ref: Any, expect: int) -> bytearray:
        """A private, writable copy of one blob range; each blob byte is copied at most once."""
        if not isinstance(ref, dict):
            raise WireError("bad blob reference")
        off, n = ref.get("off"), ref.get("len")
        if not (_is_int(off) and _is_int(n)) or off < 0 or n < 0:
            raise WireError("bad blob reference")
        if n != expect:
            raise WireError(f"blob size {n} does not match {expect} bytes of data")
        if n > MAX_TENSOR_BYTES:
            raise WireError(f"blob of {n} bytes exceeds the limit of {MAX_TENSOR_BYTES}")
        if off < self.cursor:
            # Two values pointing at the same bytes would each get their own copy: many of
            # them would multiply a small export into gigabytes (the "decode bomb").
            raise WireError("blob ranges overlap or are out of order")
        if off + n > len(self.blobs):
            raise WireError("blob range beyond the end of the export")
        self.decoded += n
        if self.decoded > self.max_decoded:
            raise WireError(f"export decodes to more than {self.max_decoded} bytes")
        self.cursor = off + n
        return bytearray(self.blobs[off : off + n])

    @staticmethod
    def _shape(raw: Any) -> tuple[int, ...]:
        if not isinstance(raw, list) or len(raw) > MAX_DIMS:
            raise WireError("bad shape")
        if not all(_is_int(s) and 0 <= s <= MAX_DIM for s in raw):
            raise WireError("bad shape")
        return tuple(raw)

    def node(self, n: Any, depth: int) -> Any:
        self._count(depth)
        if not isinstance(n, dict) or not isinstance(n.get("t"), str):
            raise WireError("bad node")
        tag = n["t"]
        handler = getattr(self, "_" + tag, None)
        if handler is None:
            raise WireError(f"unknown tag {tag!r}")
        return handler(n, depth)

    def _none(self, n: dict, depth: int) -> None:
        return None

    def _bool(self, n: dict, depth: int) -> bool:
        return _typed(n.get("v"), bool)

    def _int(self, n: dict, depth: int) -> int:
        v = n.get("v")
        if isinstance(v, str) and len(v) < 5000:
            try:
                return int(v)
            except ValueError:
                raise WireError("bad int") from None
        if isinstance(v, bool) or not isinstance(v, int):
            raise WireError("bad int")
        return v

    def _float(self, n: dict, depth: int) -> float:
        return _json_float(n.get("v"))

    def _complex(self, n: dict, depth: int) -> complex:
        return complex(_json_float(n.get("re")), _json_float(n.get("im")))

    def _str(self, n: dict, depth: int) -> str:
        v = _typed(n.get("v"), str)
        if len(v) > MAX_STR:
            raise WireError("string too long")
        return v

    def _dtype(self, n: dict, depth: int) -> torch.dtype | OpaqueValue:
        name = _typed(n.get("v"), str).removeprefix("torch.")
        return TORCH_DTYPES.get(name) or OpaqueValue("torch.dtype", f"torch.{name}"[:MAX_REPR])

    def _device(self, n: dict, depth: int) -> torch.device | OpaqueValue:
        v = _typed(n.get("v"), str)
        try:
            return torch.device(v)
        except (RuntimeError, ValueError):
            return OpaqueValue("torch.device", v[:MAX_REPR])

    def _items(self, n: dict, depth: int) -> list[Any]:
        items = n.get("items")
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise WireError("bad items")
        return [self.node(v, depth + 1) for v in items]

    def _list(self, n: dict, depth: int) -> list[Any]:
        return self._items(n, depth)

    def _tuple(self, n: dict, depth: int) -> tuple[Any, ...]:
        items = self._items(n, depth)
        if n.get("cls") == "torch.Size":
            if not all(isinstance(i, int) for i in items):
                raise WireError("bad torch.Size")
            return torch.Size(items)
        return tuple(items)

    def _set(self, n: dict, depth: int) -> set[Any] | list[Any]:
        items = self._items(n, depth)
        try:
            return set(items)
        except TypeError:
            return items

    def _dict(self, n: dict, depth: int) -> dict[Any, Any]:
        items = n.get("items")
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise WireError("bad dict")
        out: dict[Any, Any] = {}
        for pair in items:
            if not isinstance(pair, list) or len(pair) != 2:
                raise WireError("bad dict item")
            key = self.node(pair[0], depth + 1)
            try:
                hash(key)
            except TypeError:
                key = OpaqueValue("key", repr(key)[:MAX_REPR])
            out[key] = self.node(pair[1], depth + 1)
        return out

    def _npscalar(self, n: dict, depth: int) -> ScalarValue:
        dtype = _typed(n.get("dtype"), str)
        if dtype not in NUMPY_DTYPES:
            raise WireError("bad numpy scalar dtype")
        v = n.get("v")
        if dtype.startswith("complex"):
            if not isinstance(v, list) or len(v) != 2:
                raise WireError("bad complex scalar")
            value: Any = complex(_json_float(v[0]), _json_float(v[1]))
        elif dtype == "bool":
            value = _typed(v, bool)
        elif dtype.startswith(("int", "uint")):
            value = self._int({"v": v}, depth)
        else:
            value = _json_float(v)
        return ScalarValue(dtype, value)

    def _callable(self, n: dict, depth: int) -> CallableValue:
        return CallableValue(
            _typed(n.get("kind"), str)[:40], _typed(n.get("name", ""), str)[:MAX_REPR]
        )

    def _opaque(self, n: dict, depth: int) -> OpaqueValue:
        return OpaqueValue(
            str(n.get("cls", ""))[:MAX_REPR], _typed(n.get("repr", ""), str)[: MAX_REPR + 1]
        )

    def _missing(self, n: dict, depth: int) -> MissingValue:
        return MissingValue(str(n.get("reason", "name"))[:40], str(n.get("detail", ""))[:MAX_REPR])

    def _tensor(self, n: Any, depth: int) -> torch.Tensor:
        self._count(depth)  # also reached directly (module parameters, gradients)
        if not isinstance(n, dict):
            raise WireError("bad tensor")
        dtype_name = n.get("dtype")
        if dtype_name not in TORCH_DTYPES:
            raise WireError(f"unsupported tensor dtype {dtype_name!r}")
        dtype = TORCH_DTYPES[dtype_name]
        shape = self._shape(n.get("shape"))
        numel = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        truncated = bool(n.get("truncated", False))
        if n.get("data") is None:
            if not truncated:
                raise WireError("tensor without data")
            t = torch.zeros(0, dtype=dtype)
        else:
            raw = self._blob(n.get("data"), numel * itemsize)
            if numel == 0:
                t = torch.empty(0, dtype=dtype)
            elif dtype == torch.bfloat16:
                t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16)
            else:
                t = torch.frombuffer(raw, dtype=dtype)  # shares the private copy, no second one
            t = t.reshape(shape)
        grad = None
        if n.get("grad") is not None:
            grad = self._tensor(n["grad"], depth + 1)
        storage = n.get("storage") or {}
        if not isinstance(storage, dict):
            raise WireError("bad storage facts")
        meta = TensorMeta(
            dtype=dtype_name,
            shape=shape,
            device=_typed(n.get("device", "cpu"), str)[:64],
            requires_grad=bool(n.get("requires_grad", False)),
            is_leaf=bool(n.get("is_leaf", True)),
            has_grad=bool(n.get("has_grad", grad is not None)),
            grad=grad,
            cls=str(n.get("cls", "torch.Tensor"))[:200],
            storage_ptr=_opt_int(storage.get("ptr")),
            storage_nbytes=_opt_int(storage.get("nbytes")),
            data_ptr=_opt_int(storage.get("data_ptr")),
            truncated=truncated,
        )
        t._grading_meta = meta  # type: ignore[attr-defined]
        return t

    def _ndarray(self, n: dict, depth: int) -> np.ndarray:
        shape = self._shape(n.get("shape"))
        dtype = _typed(n.get("dtype"), str)
        numel = math.prod(shape)
        if dtype in NUMPY_DTYPES:
            if n.get("data") is None:
                if not n.get("truncated"):
                    raise WireError("array without data")
                return np.zeros(0, dtype=dtype)
            nd = np.dtype(dtype)
            raw = self._blob(n.get("data"), numel * nd.itemsize)
            return np.frombuffer(raw, dtype=nd).reshape(shape)  # writable: raw is a bytearray
        items = self._items(n, depth)
        arr = np.empty(len(items), dtype=object)
        for i, v in enumerate(items):
            arr[i] = v
        if len(items) == numel:
            return arr.reshape(shape)
        return arr

    def _column(self, n: Any, depth: int, name: Any = None) -> Column:
        self._count(depth)
        if not isinstance(n, dict):
            raise WireError("bad column")
        dtype = _typed(n.get("dtype"), str)[:100]
        na = n.get("na", [])
        if not isinstance(na, list) or not all(isinstance(i, int) for i in na):
            raise WireError("bad NaN positions")
        if "array" in n:
            if not isinstance(n["array"], dict):
                raise WireError("bad column array")
            values: Any = self._ndarray(n["array"], depth + 1).reshape(-1)
        else:
            values = self._items(n, depth)
        return Column(dtype=dtype, values=values, na=na, name=name)

    def _frame(self, n: dict, depth: int) -> FrameValue:
        cols = n.get("columns")
        data = n.get("data")
        if not isinstance(cols, list) or not isinstance(data, list) or len(cols) != len(data):
            raise WireError("bad frame")
        if len(cols) > MAX_ITEMS:
            raise WireError("too many columns")
        columns = [self.node(c, depth + 1) for c in cols]
        return FrameValue(
            columns=columns,
            data=[self._column(d, depth, c) for d, c in zip(data, columns, strict=True)],
            index=self._column(n.get("index"), depth),
        )

    def _series(self, n: dict, depth: int) -> SeriesValue:
        name = self.node(n.get("name", {"t": "none"}), depth + 1)
        return SeriesValue(
            name=name,
            values=self._column(n.get("values"), depth, name),
            index=self._column(n.get("index"), depth),
        )

    def _module(self, n: dict, depth: int) -> ModuleSummary:
        layers = n.get("layers", [])
        if not isinstance(layers, list) or len(layers) > MAX_ITEMS:
            raise WireError("bad module")
        parsed = []
        for layer in layers:
            if not (isinstance(layer, list) and len(layer) == 3):
                raise WireError("bad module layer")
            parsed.append(tuple(_typed(x, str)[:MAX_REPR] for x in layer))
        modes = n.get("modes")
        if modes is not None and not (
            isinstance(modes, list)
            and len(modes) == len(parsed)
            and all(isinstance(x, bool) for x in modes)
        ):
            raise WireError("bad module modes")
        return ModuleSummary(
            cls=str(n.get("cls", ""))[:MAX_REPR],
            layers=parsed,
            params=self._named_tensors(n.get("params", []), depth),
            buffers=self._named_tensors(n.get("buffers", []), depth),
            training=bool(n.get("training", True)),
            modes=modes,
        )

    def _named_tensors(self, pairs: Any, depth: int) -> dict[str, torch.Tensor]:
        if not isinstance(pairs, list) or len(pairs) > MAX_ITEMS:
            raise WireError("bad named tensors")
        out = {}
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise WireError("bad named tensor")
            out[_typed(pair[0], str)[:MAX_REPR]] = self._tensor(pair[1], depth + 1)
        return out


def _typed(v: Any, kind: type) -> Any:
    if kind is not bool and isinstance(v, bool):
        raise WireError(f"expected {kind.__name__}")
    if not isinstance(v, kind):
        raise WireError(f"expected {kind.__name__}")
    return v


def _json_float(v: Any) -> float:
    if isinstance(v, str):
        if v in ("nan", "inf", "-inf"):
            return float(v)
        raise WireError("bad float")
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise WireError("bad float")
    return float(v)


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _opt_int(v: Any) -> int | None:
    return v if _is_int(v) else None
