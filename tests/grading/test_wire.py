"""The export format: round trips, validation of forged bytes, property tests."""

from __future__ import annotations

import contextlib
import json
import math
import struct

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grading import compare as cmp
from grading import wire


def roundtrip(value):
    return wire.decode(wire.encode({"v": value})).values["v"]


def test_scalars_and_containers_round_trip():
    value = {
        "none": None,
        "t": True,
        "i": -3,
        "big": 2**80,
        "f": 1.5,
        "nan": float("nan"),
        "inf": float("-inf"),
        "c": 1 + 2j,
        "s": "héllo 中文",
        "tup": (1, [2, 3]),
        "set": {1, 2},
        5: "int key",
    }
    out = roundtrip(value)
    assert out["none"] is None and out["t"] is True and out["i"] == -3 and out["big"] == 2**80
    assert out["f"] == 1.5 and math.isnan(out["nan"]) and out["inf"] == float("-inf")
    assert out["c"] == 1 + 2j and out["s"] == "héllo 中文"
    assert out["tup"] == (1, [2, 3]) and isinstance(out["tup"], tuple)
    assert out["set"] == {1, 2} and out[5] == "int key"


def test_tensor_round_trip_with_facts():
    x = torch.arange(4.0, requires_grad=True)
    (2 * x * x).sum().backward()
    out = roundtrip(x)
    meta = wire.meta_of(out)
    assert torch.equal(out, torch.arange(4.0)) and out.dtype == torch.float32
    assert meta.requires_grad and meta.is_leaf and meta.has_grad
    assert torch.equal(meta.grad, torch.tensor([0.0, 4, 8, 12]))
    assert meta.device == "cpu" and meta.storage_ptr == x.untyped_storage().data_ptr()
    assert not out.requires_grad  # decoded tensors never build graphs in the grader


def test_views_keep_storage_facts():
    a = torch.arange(10)
    out = wire.decode(wire.encode({"a": a, "v": a[2:5]})).values
    ma, mv = wire.meta_of(out["a"]), wire.meta_of(out["v"])
    assert ma.storage_ptr == mv.storage_ptr and mv.data_ptr == ma.data_ptr + 2 * 8
    assert torch.equal(out["v"], torch.tensor([2, 3, 4]))


@pytest.mark.parametrize("dtype", list(wire.TORCH_DTYPES.values()))
def test_every_tensor_dtype(dtype):
    t = (torch.arange(6) % 2).to(dtype).reshape(2, 3)
    out = roundtrip(t)
    assert out.dtype == dtype and out.shape == (2, 3) and torch.equal(out, t)


def test_non_contiguous_and_empty_tensors():
    t = torch.arange(12.0).reshape(3, 4).T
    assert torch.equal(roundtrip(t), t)
    e = torch.empty(0, 3)
    assert roundtrip(e).shape == (0, 3)
    assert roundtrip(torch.tensor(5)).shape == ()


def test_numpy_values():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = roundtrip(a)
    assert isinstance(out, np.ndarray) and out.dtype == np.int32 and (out == a).all()
    obj = np.array([True, 1.5, "x"], dtype=object)
    out = roundtrip(obj)
    assert out.dtype == object and list(out) == [True, 1.5, "x"]
    s = roundtrip(np.float32(2.5))
    assert isinstance(s, wire.ScalarValue) and s.dtype == "float32" and s.value == 2.5


def test_frames_and_series():
    df = pd.DataFrame({"NumRooms": [np.nan, 2.0], "Alley": ["Pave", np.nan], "ok": [True, False]})
    out = roundtrip(df)
    assert isinstance(out, wire.FrameValue)
    assert out.columns == ["NumRooms", "Alley", "ok"] and out.shape == (2, 3)
    assert out.data[0].na == [0] and out.data[1].na == [1]
    assert out.data[2].numeric and out.data[2].dtype == "bool"
    assert out.data[1].values[0] == "Pave"
    s = roundtrip(df["NumRooms"])
    assert isinstance(s, wire.SeriesValue) and s.name == "NumRooms" and s.values.na == [0]


def test_module_summary():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    out = roundtrip(net)
    assert isinstance(out, wire.ModuleSummary)
    assert [c.rsplit(".", 1)[-1] for _, c, _ in out.layers] == [
        "Sequential",
        "Linear",
        "ReLU",
        "Linear",
    ]
    assert out.params["2.weight"].shape == (1, 8)
    assert torch.equal(out.params["0.bias"], net[0].bias.detach())


def test_callables_and_opaque():
    x = torch.arange(3)

    def f():
        return 1

    class Thing:
        def __repr__(self):
            return "T" * 10_000

    out = wire.decode(
        wire.encode(
            {
                "m": x.numel,
                "f": f,
                "l": lambda: 0,
                "o": Thing(),
                "cls": Thing,
                "dev": torch.device("cpu"),
                "dt": torch.float16,
            }
        )
    ).values
    assert out["m"] == wire.CallableValue("builtin", "numel")
    assert out["f"].kind == "function" and out["l"].kind == "function"
    assert out["cls"].kind == "class"
    assert isinstance(out["o"], wire.OpaqueValue) and len(out["o"].repr) <= wire.MAX_REPR + 1
    assert out["dev"] == torch.device("cpu") and out["dt"] is torch.float16


def test_deep_nesting_is_capped():
    value: list = []
    for _ in range(100):
        value = [value]
    out = roundtrip(value)
    depth = 0
    while isinstance(out, list):
        assert len(out) == 1
        out, depth = out[0], depth + 1
    # The encoder stops at MAX_DEPTH and says so; the 100 levels never reach the grader.
    assert depth == wire.MAX_DEPTH + 1
    assert out == wire.OpaqueValue("", "<nested too deeply>")


def test_forged_deep_nesting_is_refused():
    node: dict = {"t": "none"}
    for _ in range(wire.MAX_DEPTH + 10):
        node = {"t": "list", "items": [node]}
    with pytest.raises(wire.WireError, match="nested too deeply"):
        wire.decode(_doc({"x": node}))


# ---------------------------------------------------------------- forged input is refused


def _doc(values, blobs=b""):
    raw = json.dumps({"v": 1, "values": values, "extra": {}}).encode()
    return wire.MAGIC + struct.pack(">I", len(raw)) + raw + blobs


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PK\x03\x04not an export",
        wire.MAGIC + struct.pack(">I", 10**9),
        _doc(
            {"x": {"t": "tensor", "dtype": "float32", "shape": [4], "data": {"off": 0, "len": 16}}},
            b"\0" * 8,
        ),  # blob shorter than shape × itemsize
        _doc(
            {"x": {"t": "tensor", "dtype": "float32", "shape": [2], "data": {"off": 0, "len": 4}}},
            b"\0" * 8,
        ),  # length does not match the shape
        _doc(
            {"x": {"t": "tensor", "dtype": "object", "shape": [1], "data": {"off": 0, "len": 8}}},
            b"\0" * 8,
        ),
        _doc(
            {"x": {"t": "tensor", "dtype": "float32", "shape": [-1], "data": {"off": 0, "len": 0}}}
        ),
        _doc(
            {
                "x": {
                    "t": "tensor",
                    "dtype": "float32",
                    "shape": [1] * 40,
                    "data": {"off": 0, "len": 4},
                }
            },
            b"\0" * 4,
        ),
        _doc({"x": {"t": "pickle", "v": "gASVAAAAAAAAAAB9lC4="}}),
        _doc(
            {
                "x": {
                    "t": "ndarray",
                    "dtype": "float64",
                    "shape": [3],
                    "data": {"off": 8, "len": 24},
                }
            },
            b"\0" * 24,
        ),
        _doc({"x": {"t": "int", "v": 1.5}}),
        _doc({"x": "raw string"}),
    ],
)
def test_forged_exports_are_refused(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_decode_never_unpickles_or_imports():
    # A node naming a class to instantiate is not a thing the format can express.
    with pytest.raises(wire.WireError):
        wire.decode(_doc({"x": {"t": "object", "cls": "os.system", "args": ["true"]}}))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=0, max_value=400))
def test_mutated_exports_decode_or_raise_wire_error(noise, pos):
    good = bytearray(wire.encode({"x": torch.arange(6.0).reshape(2, 3), "s": [1, "a", None]}))
    good[pos % len(good) : pos % len(good) + len(noise)] = noise
    with contextlib.suppress(wire.WireError):
        wire.decode(bytes(good))


# ---------------------------------------------------------------- property tests

DTYPES = [np.float16, np.float32, np.float64, np.int64, np.int32, np.int8, np.uint8, np.bool_]


@st.composite
def tensors(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    arr = draw(hnp.arrays(dtype, shape))
    t = torch.from_numpy(np.ascontiguousarray(arr))
    if draw(st.booleans()) and t.ndim >= 2:
        t = t.transpose(0, 1)  # non-contiguous
    return t


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tensors())
def test_tensor_equals_itself_after_export(t):
    out = roundtrip(t)
    assert out.dtype == t.dtype and out.shape == t.shape
    assert cmp.compare(t, out).passed
    assert cmp.compare(out, roundtrip(out)).passed


def _perturb(t: torch.Tensor, flat_index: int) -> torch.Tensor:
    p = t.clone().reshape(-1)
    i = flat_index % p.numel()
    if p.dtype == torch.bool:
        p[i] = not bool(p[i])
    elif p.is_floating_point():
        x = float(p[i])
        # halve large values: 1.5x could overflow the dtype (2.3e38 in float32)
        new = 0.0 if not math.isfinite(x) else (x + 1.0 if abs(x) < 1 else x * 0.5)
        p[i] = new
        if float(p[i]) == x:  # float16 rounding: move far away instead
            p[i] = -x if x != 0 else 1.0
    else:
        p[i] = p[i] + 1  # wraps at the top of the range, still different
    return p.reshape(t.shape)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tensors(), st.integers(min_value=0, max_value=10**6))
def test_tensor_never_equals_a_perturbed_copy(t, index):
    if t.numel() == 0:
        return
    perturbed = _perturb(t.contiguous(), index)
    finding = cmp.compare(t, roundtrip(perturbed))
    assert not finding.passed
    assert finding.diagnostic == "wrong-value"


def test_huge_nested_values_are_capped_quickly():
    import time

    value = [[0] * 10_000 for _ in range(1_000)]  # ten million items
    t0 = time.monotonic()
    data = wire.encode({"v": value})
    assert time.monotonic() - t0 < 5 and len(data) < wire.MAX_JSON_BYTES
    out = wire.decode(data).values["v"]
    assert isinstance(out, list) and len(out) == 1_000
    assert isinstance(out[-1], wire.OpaqueValue)  # beyond the node budget


def test_truncated_tensor_keeps_its_shape(monkeypatch):
    monkeypatch.setattr(wire, "MAX_TENSOR_BYTES", 64)
    big = wire.decode(wire.encode({"t": torch.zeros(10, 10)})).values["t"]
    meta = wire.meta_of(big)
    assert meta.truncated and meta.shape == (10, 10)
    assert cmp.compare(big, big).facts["variant"] == "too-large"
    assert cmp.compare(big, rt_small := roundtrip(torch.zeros(3))).diagnostic == "shape-mismatch"
    assert rt_small.shape == (3,)


# ---------------------------------------------------------------- decode bombs


def _tensor_node(off: int, n_floats: int) -> dict:
    return {
        "t": "tensor",
        "dtype": "float32",
        "shape": [n_floats],
        "data": {"off": off, "len": 4 * n_floats},
    }


def test_blob_references_must_go_forward_without_overlap():
    blob = b"\0" * 64
    ok = _doc({"a": _tensor_node(0, 4), "b": _tensor_node(16, 4), "c": _tensor_node(48, 4)}, blob)
    assert set(wire.decode(ok).values) == {"a", "b", "c"}  # gaps are fine
    for forged in (
        {"a": _tensor_node(0, 4), "b": _tensor_node(0, 4)},  # the same range twice
        {"a": _tensor_node(0, 8), "b": _tensor_node(16, 4)},  # overlapping
        {"a": _tensor_node(16, 4), "b": _tensor_node(0, 4)},  # out of order
        {"a": {**_tensor_node(0, 4), "grad": _tensor_node(8, 4)}},  # a grad inside its tensor
    ):
        with pytest.raises(wire.WireError, match="overlap or are out of order"):
            wire.decode(_doc(forged, blob))


def test_total_decoded_bytes_and_node_count_are_capped():
    blob = b"\0" * 64
    two = _doc({"a": _tensor_node(0, 4), "b": _tensor_node(16, 4)}, blob)
    assert len(wire.decode(two, max_decoded=32).values) == 2
    with pytest.raises(wire.WireError, match="decodes to more than 16 bytes"):
        wire.decode(two, max_decoded=16)
    many = _doc({"x": {"t": "list", "items": [{"t": "none"}] * 100}})
    assert len(wire.decode(many, max_nodes=101).values["x"]) == 100
    with pytest.raises(wire.WireError, match="more than 100 values"):
        wire.decode(many, max_nodes=100)


def test_forged_shapes_that_torch_refuses_are_wire_errors():
    for shape in ([0, 2**47, 2**47], [2**60]):
        node = {"t": "tensor", "dtype": "float32", "shape": shape, "data": {"off": 0, "len": 0}}
        with contextlib.suppress(wire.WireError):
            wire.decode(_doc({"x": node}))
    column = {"t": "series", "name": {"t": "none"}, "values": {"dtype": "x", "array": 5},
              "index": {"dtype": "x", "items": []}}  # fmt: skip
    with pytest.raises(wire.WireError):
        wire.decode(_doc({"x": column}))


def _rss_growth(snippet: str) -> tuple[float, str]:
    """Peak-RSS growth (MiB) of a fresh process while it runs ``snippet`` (after setup)."""
    import subprocess
    import sys
    from pathlib import Path

    platform = Path(__file__).resolve().parents[2] / "platform"
    script = (
        "import json, resource, struct, sys\n"
        f"sys.path.insert(0, {str(platform)!r})\n"
        "import torch\n"
        "from grading import wire\n"
        "def doc(values, blobs=b''):\n"
        "    raw = json.dumps({'v': 1, 'values': values, 'extra': {}}).encode()\n"
        "    return wire.MAGIC + struct.pack('>I', len(raw)) + raw + blobs\n"
        + snippet
        + "\nbefore = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    wire.decode(data)\n"
        "    print('decoded')\n"
        "except wire.WireError as exc:\n"
        "    print('refused:', exc)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((after - before) / 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split("\n")
    return float(out[-2]), out[-3]


def test_decode_bomb_of_aliased_blobs_is_refused_in_bounded_memory():
    # The attack: a 4 MiB blob and 200 tensor nodes pointing at it. Decoded one
    # copy per node, that was 800 MiB from a 4 MiB export.
    growth, said = _rss_growth(
        "n = 2**20\n"
        "node = {'t': 'tensor', 'dtype': 'float32', 'shape': [n],\n"
        "        'data': {'off': 0, 'len': 4 * n}}\n"
        "data = doc({f'x{i}': node for i in range(200)}, b'\\0' * (4 * n))\n"
    )
    assert said.startswith("refused:") and "overlap" in said
    assert growth < 50, f"decoding grew the process by {growth:.0f} MiB"


def test_json_bomb_is_refused_before_parsing():
    # 1.2 million tiny containers in a 16 MiB document: ~500 MiB once parsed.
    growth, said = _rss_growth(
        "items = ','.join(['{\"t\":\"none\"}'] * 1_200_000)\n"
        'raw = (\'{"v":1,"values":{"x":{"t":"list","items":[\'\n'
        "       + items + ']}},\"extra\":{}}').encode()\n"
        "data = wire.MAGIC + struct.pack('>I', len(raw)) + raw\n"
        "del items\n"
    )
    assert said.startswith("refused:") and "too many items" in said
    assert growth < 50, f"decoding grew the process by {growth:.0f} MiB"


@pytest.mark.parametrize(
    "value",
    [
        [[torch.tensor(float(i)) for i in range(10_000)] for _ in range(5)],  # 250k containers
        ["{[,{[," * 10_000] * 40,  # braces in strings count too: the same test on both sides
    ],
)
def test_encoder_marks_too_complex_exports_oversized(value):
    data = wire.encode({"v": value}, {"error": None})
    assert wire.json_too_complex(data, 8, 8 + struct.unpack(">I", data[4:8])[0]) is False
    out = wire.decode(data)
    assert out.values == {} and out.extra == {"error": None, "oversized": True}
