"""Expected vs actual on failed visible checks, and the Run view's value previews.

The strings are made by ``grading.display`` in the trusted process from decoded plain
data; these tests pin the format, the caps, that hidden checks carry neither, and that a
student's ``__repr__`` never runs on the trusted side."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from fakepool import make_spec

from grading import display, grader, wire
from grading.spec import CheckSpec


def decoded(value):
    """``value`` as the grader sees it: encoded (sandbox side) and decoded (trusted side)."""
    return wire.decode(wire.encode({"v": value})).values["v"]


# ---------------------------------------------------------------- the formatter


def test_tensor_uses_torch_repr_then_shape_and_dtype():
    t = decoded(torch.arange(3).reshape(3, 1) + torch.arange(2))
    assert display.preview(t) == (
        "tensor([[0, 1],\n        [1, 2],\n        [2, 3]])  shape (3, 2) int64"
    )
    assert display.preview(decoded(torch.tensor(3.5))) == "tensor(3.5000)  shape () float32"
    x = decoded(torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True))
    shown = display.preview(x)
    assert shown.startswith("tensor([1., 2.], dtype=torch.float64)")
    assert shown.endswith("shape (2,) float64 requires_grad=True")


def test_large_tensor_is_summarised_and_capped_with_a_marker():
    t = decoded(torch.arange(1_000_000, dtype=torch.float32).reshape(1000, 1000))
    shown = display.preview(t)
    body, facts = shown.rsplit("  shape ", 1)
    assert facts == "(1000, 1000) float32"
    assert "..." in body and len(body) <= display.LIMIT
    # a (2,)*16 tensor would print 65 536 elements: bounded work, capped, marked
    hd = decoded(torch.zeros((2,) * 16, dtype=torch.bool))
    t0 = time.perf_counter()
    shown = display.preview(hd)
    assert time.perf_counter() - t0 < 1.0
    body, facts = shown.rsplit("  shape ", 1)
    assert body.endswith("…") and len(body) <= display.LIMIT
    assert facts == "(" + ", ".join(["2"] * 16) + ") bool"


def test_cap_marks_the_cut():
    assert display.cap("x" * 10, 5) == "xxxx…"
    assert display.cap("x" * 5, 5) == "xxxxx"
    shown = display.preview(decoded("y" * 100_000))
    assert len(shown) == display.LIMIT and shown.endswith("…")
    shown = display.preview(decoded(list(range(10_000))))
    assert len(shown) <= display.LIMIT and shown.startswith("[0, 1, 2") and "…" in shown


def test_tensor_too_large_to_export_says_so():
    node = {"t": "tensor", "dtype": "float32", "shape": [5000, 5000], "data": None,
            "truncated": True}  # fmt: skip
    raw = json.dumps({"v": 1, "values": {"t": node}, "extra": {}}).encode()
    t = wire.decode(wire.MAGIC + len(raw).to_bytes(4, "big") + raw).values["t"]
    assert display.preview(t) == "tensor (too large to show)  shape (5000, 5000) float32"


def test_frame_uses_to_string_with_bounded_rows_and_columns():
    df = pd.DataFrame(
        {"NumRooms": [3.0, None, 2.0], "Alley": ["Pave", None, None], "Price": [1, 2, 3]}
    )
    shown = display.preview(decoded(df))
    table, facts = shown.rsplit("\n", 1)
    assert table.splitlines()[0].split() == ["NumRooms", "Alley", "Price"]
    assert table.splitlines()[1].split() == ["0", "3.0", "Pave", "1"]
    assert "NaN" in table.splitlines()[2]
    assert facts.startswith("shape (3, 3)  dtypes: NumRooms float64")
    big = decoded(pd.DataFrame(np.arange(3000).reshape(100, 30)))
    shown = display.preview(big)
    lines = shown.splitlines()
    assert lines[-1].startswith("shape (100, 30)")
    assert "..." in lines[0] and any(line.startswith("..") for line in lines)
    assert len(lines) <= 13  # header, 10 rows, the "..." row, the facts


def test_series_scalars_and_containers():
    s = display.preview(decoded(pd.Series([1.0, 2.0], name="x")))
    assert s.splitlines() == ["0    1.0", "1    2.0", "Name: x", "shape (2,) float64"]
    assert display.preview(decoded(3)) == "3"
    assert display.preview(decoded(0.1)) == "0.1"
    assert display.preview(decoded(None)) == "None"
    assert display.preview(decoded("hi")) == "'hi'"
    assert display.preview(decoded(True)) == "True"
    assert display.preview(decoded(np.float32(1.5))) == "np.float32(1.5)"
    assert display.preview(decoded(torch.Size([3, 2]))) == "torch.Size([3, 2])"
    assert display.preview(decoded([1, (2, "a")])) == "[1, (2, 'a')]"
    assert display.preview(decoded({"a": torch.tensor([1, 2])})) == "{'a': tensor([1, 2])}"
    assert display.preview(decoded(torch.float32)) == "torch.float32"
    arr = display.preview(decoded(np.arange(6).reshape(2, 3)))
    assert arr == "array([[0, 1, 2],\n       [3, 4, 5]])  shape (2, 3) int64"


def test_module_shows_its_layers():
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU())
    shown = display.preview(decoded(net))
    assert shown.splitlines() == [
        "Sequential(",
        "  (0): Linear(in_features=4, out_features=8, bias=True)",
        "  (1): ReLU()",
        ")",
        "40 parameters: 0.weight (8, 4), 0.bias (8,)",
    ]


def test_values_false_hides_the_numbers():
    t = decoded(torch.tensor([[0.125, 0.875]]))
    assert display.preview(t, values=False) == "tensor  shape (1, 2) float32"


def test_formatter_never_calls_an_objects_own_repr():
    # decode never builds such an object; if one got here, its __repr__ must not run
    calls = []

    class Evil:
        def __repr__(self) -> str:
            calls.append(1)  # student code would have run in the trusted process
            return "lies"

        __str__ = __repr__

    assert display.preview(Evil()) == "<Evil>"
    assert display.preview([Evil(), {"k": Evil()}]) == "[<Evil>, {'k': <Evil>}]"

    class FakeTensor(torch.Tensor):  # a subclass is not the plain tensor decode builds
        def __repr__(self) -> str:
            calls.append(1)
            return "lies"

    assert display.preview(torch.zeros(2).as_subclass(FakeTensor)) == "<FakeTensor>"
    assert calls == []


# ---------------------------------------------------------------- in verdicts

SETUP = "import torch\na = torch.arange(3).reshape((3, 1))\nb = torch.arange(2).reshape((1, 2))\n"
BROADCAST = make_spec(SETUP, "c = a + b\n", CheckSpec(name="c"), slug="display-broadcast")


def test_failed_visible_check_has_expected_and_actual(pool):
    check = grader.grade(BROADCAST, "c = a * b\n", pool=pool).to_dict()["checks"][0]
    assert check["expected"] == (
        "tensor([[0, 1],\n        [1, 2],\n        [2, 3]])  shape (3, 2) int64"
    )
    assert check["actual"] == (
        "tensor([[0, 0],\n        [0, 1],\n        [0, 2]])  shape (3, 2) int64"
    )
    wrong = grader.grade(BROADCAST, "c = (a + b).float()\n", pool=pool).to_dict()["checks"][0]
    assert wrong["diagnostic"] == "dtype-mismatch"
    assert wrong["actual"].endswith("shape (3, 2) float32")
    missing = grader.grade(BROADCAST, "x = 1\n", pool=pool).to_dict()["checks"][0]
    assert missing["actual"] == "<not defined>" and missing["expected"].startswith("tensor(")


def test_passed_check_has_neither(pool):
    check = grader.grade(BROADCAST, "c = a + b\n", pool=pool).to_dict()["checks"][0]
    assert check["passed"] and "expected" not in check and "actual" not in check


def test_large_tensor_in_a_verdict_is_capped(pool):
    spec = make_spec(
        "import torch\n", "c = torch.arange(250_000).reshape(500, 500)\n", CheckSpec(name="c")
    )
    check = grader.grade(spec, "c = torch.zeros(500, 500)\n", pool=pool).to_dict()["checks"][0]
    for key, dtype in (("expected", "int64"), ("actual", "float32")):
        body, facts = check[key].rsplit("  shape ", 1)
        assert facts == f"(500, 500) {dtype}" and "..." in body and len(body) <= display.LIMIT


HIDDEN = make_spec(
    "import torch\n",
    "def scale(X):\n    return X * 7\n",
    CheckSpec(call="scale", args=("torch.tensor([4321.5])",), hidden=True),
    CheckSpec(call="scale", args=("torch.tensor([1.0, 2.0])",), label="scale([1, 2])"),
    slug="display-hidden",
)


def test_hidden_check_has_neither_field(pool):
    v = grader.grade(HIDDEN, "def scale(X):\n    return X * 8\n", pool=pool).to_dict()
    hidden, shown = v["checks"]
    assert not hidden["passed"] and hidden["hidden"]
    assert "expected" not in hidden and "actual" not in hidden
    for secret in ("4321", "30250", "34572"):  # input, expected 7x, actual 8x
        assert secret not in json.dumps(hidden), secret
    # the visible call check shows both results
    assert shown["expected"] == "tensor([ 7., 14.])  shape (2,) float32"
    assert shown["actual"] == "tensor([ 8., 16.])  shape (2,) float32"


def test_hidden_name_check_has_neither_field(pool):
    spec = make_spec(SETUP, "c = a + b\n", CheckSpec(name="c", hidden=True))
    check = grader.grade(spec, "c = a * b\n", pool=pool).to_dict()["checks"][0]
    assert not check["passed"] and "expected" not in check and "actual" not in check
    # even if a caller filled them in, a hidden check's JSON leaves them out
    result = grader.CheckResult("c", False, 0.0, 1.0, hidden=True, expected="x", actual="y")
    assert "expected" not in result.to_dict() and "actual" not in result.to_dict()


def test_assert_check_shows_actual_only(pool):
    spec = make_spec(
        SETUP,
        "c = a + b\n",
        CheckSpec(assert_="c.shape == (3, 2) and int(c.sum()) == 9", uses=("c",)),
    )
    check = grader.grade(spec, "c = a * b\n", pool=pool).to_dict()["checks"][0]
    assert not check["passed"] and "expected" not in check
    assert check["actual"].startswith("tensor([[0, 0],") and "int64" in check["actual"]


def test_frame_and_scalar_checks(pool):
    setup = (
        "import pandas as pd\ndf = pd.DataFrame({'a': [1.0, None, 3.0], 'b': ['x', 'y', 'z']})\n"
    )
    spec = make_spec(
        setup,
        "out = df.fillna(0.0)\nn = len(df)\n",
        CheckSpec(name="out"),
        CheckSpec(name="n"),
    )
    v = grader.grade(spec, "out = df.fillna(9.0)\nn = 2\n", pool=pool).to_dict()
    frame, number = v["checks"]
    assert frame["expected"].splitlines()[2].split() == ["1", "0.0", "y"]
    assert frame["actual"].splitlines()[2].split() == ["1", "9.0", "y"]
    assert frame["actual"].endswith("shape (3, 2)  dtypes: a float64, b str")
    assert (number["expected"], number["actual"]) == ("3", "2")


def test_in_place_failure_shows_no_values(pool):
    spec = make_spec(
        "import torch\nZ = torch.zeros(3)\n",
        "Z[:] = Z + 1\n",
        CheckSpec(name="Z", storage="unchanged"),
    )
    check = grader.grade(spec, "Z = Z + 1\n", pool=pool).to_dict()["checks"][0]
    assert check["diagnostic"] == "not-in-place" and "actual" not in check


EVIL = (
    "import os\n"
    "class Evil:\n"
    "    def __repr__(self):\n"
    "        with open({path!r}, 'a') as f:\n"
    "            f.write(str(os.getpid()) + '\\n')\n"
    "        return 'EVIL-REPR'\n"
    "    __str__ = __repr__\n"
    "c = Evil()\n"
)


def test_student_repr_runs_only_in_the_sandbox(pool, tmp_path: Path):
    log = tmp_path / "repr-calls.txt"
    code = EVIL.format(path=str(log))
    check = grader.grade(BROADCAST, code, pool=pool).to_dict()["checks"][0]
    assert check["diagnostic"] == "wrong-type"
    # the text the sandbox captured is shown as text
    assert check["actual"] == "EVIL-REPR"
    view = grader.run_cell(BROADCAST, code, pool=pool).to_dict()
    assert view["values"]["c"] == "EVIL-REPR"
    pids = {int(line) for line in log.read_text().split()}
    assert pids and os.getpid() not in pids  # never called in this (trusted) process


# ---------------------------------------------------------------- the Run view


def test_run_view_values_preview_each_checked_name(pool):
    setup = SETUP + "import pandas as pd\n"
    spec = make_spec(
        setup,
        "c = a + b\nt = pd.DataFrame({'x': [1, 2]})\nn = 3\n",
        CheckSpec(name="c"),
        CheckSpec(name="t"),
        CheckSpec(name="n"),
        CheckSpec(name="missing"),
    )
    code = "c = a * b\nt = pd.DataFrame({'x': [1, 2]})\nn = 3.5\n"
    view = grader.run_cell(spec, code, pool=pool).to_dict()
    assert view["outcome"] == "ok"
    assert view["names"]["c"] == "tensor int64 (3, 2) cpu"  # the one-line summary stays
    values = view["values"]
    assert list(values) == ["c", "t", "n", "missing"]
    assert values["c"] == "tensor([[0, 0],\n        [0, 1],\n        [0, 2]])  shape (3, 2) int64"
    assert values["t"].splitlines() == ["   x", "0  1", "1  2", "shape (2, 1)  dtypes: x int64"]
    assert values["n"] == "3.5"
    assert values["missing"] == "<not defined>"


def test_run_view_keeps_values_defined_before_an_error(pool):
    view = grader.run_cell(BROADCAST, "c = a * b\nraise ValueError('x')\n", pool=pool).to_dict()
    assert view["outcome"] == "error" and view["values"]["c"].startswith("tensor([[0, 0],")


def test_run_view_of_a_large_tensor_stays_small(pool):
    spec = make_spec("import torch\n", "c = torch.zeros(3000, 1000)\n", CheckSpec(name="c"))
    view = grader.run_cell(spec, "c = torch.ones(3000, 1000)\n", pool=pool).to_dict()
    # 12 MB of float32 exceed the Run export budget: shape kept, values not shipped
    assert view["outcome"] == "ok"
    assert view["values"]["c"] == "tensor (too large to show)  shape (3000, 1000) float32"
    small = grader.run_cell(spec, "c = torch.ones(1000, 1000)\n", pool=pool).to_dict()
    assert small["values"]["c"].startswith("tensor([[1., 1., 1.,  ..., 1., 1., 1.],")


class _OversizedPool:
    """A sandbox whose export lost its values (oversized JSON): only the summary is left."""

    device = "cpu"

    def run(self, job):
        from sandbox import RunReport

        extra = {"error": None, "summary": {"c": "list"}, "oversized": True}
        return RunReport("ok", wire.encode({}, extra), "", False, 1.0, 0, None, "")


def test_run_view_falls_back_to_the_summary_without_values():
    view = grader.run_cell(BROADCAST, "c = [0] * 10**6\n", pool=_OversizedPool()).to_dict()
    assert view["names"] == {"c": "list"} and view["values"] == {"c": "list"}


def test_device_and_grad_facts_follow_the_export():
    # a cuda tensor decodes to the CPU; its device comes from the export's facts
    t = torch.arange(4.0).reshape(2, 2)
    t._grading_meta = wire.TensorMeta(  # as decode attaches it for a cuda:0 export
        "float32", (2, 2), "cuda:0", True, True, False, None, "torch.Tensor"
    )
    shown = display.preview(t)
    assert (
        shown
        == "tensor([[0., 1.],\n        [2., 3.]])  shape (2, 2) float32 cuda:0 requires_grad=True"
    )


def test_the_expected_side_is_formatted_once_per_cached_reference(pool, monkeypatch):
    """The reference's display string is the same for every submission: it is kept with the
    cached reference (`wire.Decoded.derived`); the student's side is formatted each time."""
    shown: list[str] = []
    real = display.preview

    def counting(value, **kw):
        text = real(value, **kw)
        shown.append(text)
        return text

    monkeypatch.setattr(display, "preview", counting)
    first = grader.grade(HIDDEN, "def scale(X):\n    return X * 8\n", pool=pool).to_dict()
    second = grader.grade(HIDDEN, "def scale(X):\n    return X * 9\n", pool=pool).to_dict()
    assert first["checks"][1]["expected"] == second["checks"][1]["expected"] == (
        "tensor([ 7., 14.])  shape (2,) float32")
    assert second["checks"][1]["actual"] == "tensor([ 9., 18.])  shape (2,) float32"
    assert shown.count("tensor([ 7., 14.])  shape (2,) float32") == 1
