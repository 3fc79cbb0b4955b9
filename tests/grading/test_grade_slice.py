"""The first vertical slice: tensor-broadcast through the fake pool, end to end."""

from __future__ import annotations

from fakepool import make_spec

from grading import grader
from grading.spec import CheckSpec

SETUP = "import torch\na = torch.arange(3).reshape((3, 1))\nb = torch.arange(2).reshape((1, 2))\n"
SPEC = make_spec(SETUP, "c = a + b\n", CheckSpec(name="c"), slug="tensor-broadcast")


def test_right_answer_passes(pool):
    v = grader.grade(SPEC, "c = a + b", pool=pool).to_dict()
    assert v["outcome"] == "passed"
    assert v["passed"] is True
    assert v["score"] == v["max_score"] == 1.0
    assert v["checks"][0]["name"] == "c"


def test_other_styles_pass(pool):
    for code in ("c = torch.add(a, b)", "c = b + a", "c = a.expand(3, 2) + b.expand(3, 2)"):
        assert grader.grade(SPEC, code, pool=pool).outcome == "passed", code


def test_wrong_value_names_index_and_values(pool):
    v = grader.grade(SPEC, "c = a * b", pool=pool).to_dict()
    assert v["outcome"] == "failed"
    check = v["checks"][0]
    assert check["diagnostic"] == "wrong-value"
    assert "[0, 1]" in check["message"] and "should be [[0, 1], [1, 2], [2, 3]]" in check["message"]
    assert check["messages"]["zh-hans"].startswith("`c` 是")


def test_verdict_json_shape(pool):
    v = grader.grade(SPEC, "print('hello')\nc = a + b", pool=pool).to_dict()
    for key in (
        "exercise",
        "outcome",
        "passed",
        "score",
        "max_score",
        "checks",
        "stdout",
        "error",
        "queue",
        "duration_ms",
    ):
        assert key in v
    assert v["stdout"] == "hello\n"
    assert "id" not in v and "status" not in v


def test_reference_is_cached(pool):
    before = pool.runs
    grader.grade(SPEC, "c = a + b", pool=pool)
    grader.grade(SPEC, "c = a - b", pool=pool)
    assert pool.runs - before == 3  # one reference run, two student runs
