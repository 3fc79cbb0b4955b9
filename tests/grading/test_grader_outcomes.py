"""Outcomes besides passed/failed: rejections, limits, early exits, Run; hidden checks;
forbidden calls found statically and at run time."""

from __future__ import annotations

from fakepool import make_spec

from grading import forbidden, grader
from grading.spec import CheckSpec

SETUP = "import torch\na = torch.arange(3).reshape((3, 1))\nb = torch.arange(2).reshape((1, 2))\n"
SPEC = make_spec(SETUP, "c = a + b\n", CheckSpec(name="c"), slug="outcomes")


# ---------------------------------------------------------------- rejections


def test_code_over_64_kb_is_rejected(pool):
    v = grader.grade(SPEC, "c = a + b\n" + "#" * 70_000, pool=pool)
    assert v.outcome == "rejected" and "65536" in v.message["en"]
    assert v.to_dict()["score"] == 0


def test_nul_and_invalid_utf8_are_rejected(pool):
    assert grader.grade(SPEC, "c = a + b\x00", pool=pool).outcome == "rejected"
    assert grader.grade(SPEC, b"c = a + b # \xff\xfe", pool=pool).outcome == "rejected"
    assert grader.grade(SPEC, "c = a + b # \udcff", pool=pool).outcome == "rejected"
    assert grader.grade(SPEC, "c = a + b # 中文".encode(), pool=pool).outcome == "passed"


def test_syntax_error_points_at_the_cell_line(pool):
    v = grader.grade(SPEC, "x = 1\nc = (a + b\n", pool=pool).to_dict()
    assert v["outcome"] == "error"
    assert v["error"]["diagnostic"] == "syntax-error" and v["error"]["line"] == 2
    assert (
        "Line 2" in v["error"]["messages"]["en"] and "第 2 行" in v["error"]["messages"]["zh-hans"]
    )
    v = grader.grade(SPEC, "if True:\nc = a + b\n", pool=pool).to_dict()
    assert v["error"]["diagnostic"] == "syntax-error" and v["error"]["type"] == "IndentationError"


# ---------------------------------------------------------------- limits and exits


def test_timeout(pool):
    spec = make_spec(SETUP, "c = a + b\n", CheckSpec(name="c"), limits={"wall_seconds": 1.0})
    v = grader.grade(spec, "while True:\n    pass\n", pool=pool)
    assert v.outcome == "timeout" and v.score == 0


def test_output_limit(pool):
    spec = make_spec(SETUP, "c = a + b\n", CheckSpec(name="c"), limits={"output_bytes": 1000})
    v = grader.grade(spec, "c = a + b\nprint('x' * 5000)\n", pool=pool)
    assert v.outcome == "output_limit" and v.output_truncated


def test_early_exit_is_an_error(pool):
    v = grader.grade(SPEC, "c = a + b\nimport os\nos._exit(3)\n", pool=pool)
    assert v.outcome == "error" and v.score == 0


def test_error_scores_zero_shows_what_was_right_and_trims_traceback(pool):
    spec = make_spec(SETUP, "c = a + b\nd = c * 2\n", CheckSpec(name="c"), CheckSpec(name="d"))
    code = "c = a + b\ndef f(t):\n    return t.item()\nd = f(c)\n"
    v = grader.grade(spec, code, pool=pool).to_dict()
    # The score rule (grading.scoring): a cell that raised scores 0, its checks still shown.
    assert v["outcome"] == "error" and v["score"] == 0 and v["passed"] is False
    c, d = v["checks"]
    assert c["passed"] and c["points"] == 0 and c["counted"] is False and not d["passed"]
    assert "1 of 2 checks" in v["message"]["en"] and "1 / 2" in v["message"]["zh-hans"]
    err = v["error"]
    assert err["diagnostic"] == "item-multi-element" and err["line"] == 3
    assert [f["line"] for f in err["frames"]] == [4, 3]
    assert "torch" not in err["traceback"].split("RuntimeError")[0]  # only the student's lines
    assert "6 elements" in err["messages"]["en"] and "6 个元素" in err["messages"]["zh-hans"]


# ---------------------------------------------------------------- hidden checks

SOFTMAX = make_spec(
    "import torch\n",
    "def softmax(X):\n    e = torch.exp(X - X.max(1, keepdim=True).values)\n"
    "    return e / e.sum(1, keepdim=True)\n",
    CheckSpec(
        call="softmax",
        args=("torch.tensor([[123.25, 124.0]])",),
        hidden=True,
        label="softmax on a hidden input",
    ),
    CheckSpec(call="softmax", args=("torch.tensor([[1.0, 2.0]])",), label="softmax([[1, 2]])"),
    forbidden=("torch.softmax",),
    slug="hidden-softmax",
)


def test_hidden_check_shows_neither_inputs_nor_expected(pool):
    code = "def softmax(X):\n    print('input', X.tolist())\n    return torch.exp(X)\n"
    v = grader.grade(SOFTMAX, code, pool=pool).to_dict()
    hidden, shown = v["checks"]
    assert not hidden["passed"] and hidden["diagnostic"] == "wrong-value"
    text = hidden["message"] + hidden["messages"]["zh-hans"] + v["stdout"]
    # neither the input nor the expected softmax [0.3208, 0.6792] (nor the student's values)
    for secret in ("123.25", "124", "0.32", "0.679", "inf"):
        assert secret not in text, secret
    assert "hidden" in hidden["message"] and "隐藏" in hidden["messages"]["zh-hans"]
    # the visible check names values and the student's own prints of it remain
    assert "should be" in shown["message"] and "[[1.0, 2.0]]" in v["stdout"]


def test_hidden_check_error_shows_type_and_line_only(pool):
    code = (
        "def softmax(X):\n    if X[0, 0] > 100:\n        raise ValueError(f'got {X}')\n"
        "    e = torch.exp(X)\n    return e / e.sum(1, keepdim=True)\n"
    )
    v = grader.grade(SOFTMAX, code, pool=pool).to_dict()
    hidden = v["checks"][0]
    assert not hidden["passed"] and "ValueError" in hidden["message"]
    assert "123" not in str(hidden) and "line 3" in hidden["message"]


def test_function_check_missing_or_not_callable(pool):
    v = grader.grade(SOFTMAX, "x = 1\n", pool=pool)
    assert [c.diagnostic for c in v.checks] == ["missing-name", "missing-name"]
    v = grader.grade(SOFTMAX, "softmax = 3\n", pool=pool)
    assert [c.diagnostic for c in v.checks] == ["wrong-type", "wrong-type"]


def test_function_check_inputs_cannot_be_altered_by_the_cell(pool):
    code = SOFTMAX.solution + "torch.tensor = lambda *a, **k: torch.zeros(1, 2)\n"
    assert grader.grade(SOFTMAX, code, pool=pool).outcome == "passed"


# ---------------------------------------------------------------- forbidden calls


def test_forbidden_static_rejects_before_running(pool):
    before = pool.runs
    v = grader.grade(SOFTMAX, "def softmax(X):\n    return torch.softmax(X, 1)\n", pool=pool)
    d = v.to_dict()
    assert d["outcome"] == "rejected" and pool.runs == before
    assert all(c["diagnostic"] == "forbidden-call" for c in d["checks"])
    assert d["error"]["diagnostic"] == "forbidden-call" and d["error"]["line"] == 2


def test_forbidden_at_run_time(pool):
    code = "def softmax(X):\n    f = getattr(torch, 'soft' + 'max')\n    return f(X, 1)\n"
    assert forbidden.find(code, ("torch.softmax",)) == []  # static analysis cannot see it
    v = grader.grade(SOFTMAX, code, pool=pool).to_dict()
    assert v["outcome"] == "failed" and v["score"] == 0
    assert {c["diagnostic"] for c in v["checks"]} == {"forbidden-call"}
    assert "torch.softmax" in v["error"]["messages"]["en"]


def test_static_finder_variants():
    cases = {
        "torch.softmax(X, 1)": ["torch.softmax"],
        "import torch as t\nt.softmax(X, 1)": ["torch.softmax"],
        "import torch.nn.functional as F\nF.softmax(X, 1)": ["torch.nn.functional.softmax"],
        "from torch.nn import functional as F\nF.softmax(X, 1)": ["torch.nn.functional.softmax"],
        "from torch import softmax\nsoftmax(X, 1)": ["torch.softmax"],
        "from torch import softmax as s\ns(X, 1)": ["torch.softmax"],
        "from torch.nn.functional import *\nsoftmax(X, 1)": ["torch.nn.functional.softmax"],
        "X.softmax(1)": ["Tensor.softmax"],
        "X.exp().softmax(dim=1)": ["Tensor.softmax"],
        "s = torch.softmax\ns(X, 1)": ["torch.softmax"],
        "getattr(torch, 'softmax')(X, 1)": ["torch.softmax"],
        "getattr(X, 'softmax')(1)": ["Tensor.softmax"],
        "__import__('torch').softmax(X, 1)": ["torch.softmax"],
        "torch.nn.Softmax(dim=1)(X)": ["torch.nn.Softmax"],
        "from torch import nn\nnn.functional.softmax(X, 1)": ["torch.nn.functional.softmax"],
        "torch.special.softmax(X, 1)": ["torch.special.softmax"],
    }
    for code, names in cases.items():
        found = [v.name for v in forbidden.find(code, ("torch.softmax",), "import torch")]
        assert found[:1] == names, (code, found)
    for ok in (
        "def softmax(X):\n    e = X.exp()\n    return e / e.sum(1, keepdim=True)",
        "softmax = lambda X: X.exp() / X.exp().sum(1, keepdim=True)\nsoftmax(X)",
        "y = torch.log_softmax",
    ):
        assert forbidden.find(ok, ("torch.softmax",), "import torch") == [], ok


# ---------------------------------------------------------------- Run


def test_run_cell_reports_output_and_error_without_grading(pool):
    view = grader.run_cell(SPEC, "print('hi')\nc = a + b\n", pool=pool).to_dict()
    assert view["outcome"] == "ok" and view["stdout"] == "hi\n"
    assert view["names"]["c"].startswith("tensor int64 (3, 2)")
    view = grader.run_cell(SPEC, "c = a.T + b\n", pool=pool).to_dict()
    assert view["outcome"] == "error" and view["error"]["diagnostic"] == "broadcast-shape"
    assert "checks" not in view
    assert grader.run_cell(SPEC, "c = (", pool=pool).outcome == "error"
    assert grader.run_cell(SPEC, "\x00", pool=pool).outcome == "rejected"


# ---------------------------------------------------------------- platform faults


class _BrokenPool:
    device = "cpu"

    def run(self, job):
        from sandbox import SandboxError

        raise SandboxError("the warm parent vanished")


class _RefusingPool:
    device = "cpu"

    def run(self, job):
        from sandbox import RunReport

        return RunReport("refused", None, "", False, 0.0, None, None, "no seccomp here")


def test_sandbox_failure_propagates_for_a_retry():
    import pytest

    from sandbox import SandboxError

    with pytest.raises(SandboxError):
        grader.grade(SPEC, "c = a + b", pool=_BrokenPool())
    with pytest.raises(SandboxError):
        grader.run_cell(SPEC, "c = a + b", pool=_BrokenPool())


def test_refused_or_broken_reference_is_an_internal_error():
    v = grader.grade(SPEC, "c = a + b", pool=_RefusingPool())
    assert v.outcome == "internal_error" and "no seccomp here" in v.message["en"]


def test_broken_reference_solution_is_an_internal_error(pool):
    spec = make_spec(SETUP, "c = a + undefined_name\n", CheckSpec(name="c"), slug="broken-ref")
    v = grader.grade(spec, "c = a + b", pool=pool)
    assert v.outcome == "internal_error" and "NameError" in v.message["en"]


def test_forbidden_numpy_function_static_and_runtime(pool):
    spec = make_spec(
        "import torch\nimport numpy as np\nv = np.arange(4.0)\n",
        "total = float((v * 1).sum())\n",
        CheckSpec(name="total"),
        forbidden=("numpy.sum",),
    )
    assert grader.grade(spec, "total = float(sum(v))", pool=pool).outcome == "passed"
    assert grader.grade(spec, "total = float(np.sum(v))", pool=pool).outcome == "rejected"
    v = grader.grade(spec, "total = float(getattr(np, 'su' + 'm')(v))", pool=pool)
    assert v.outcome == "failed" and v.checks[0].diagnostic == "forbidden-call"
