"""Assert checks run with a small, safe evaluator: no eval, no builtins, no dunders."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from fakepool import make_spec

from courses.loader import load_course
from grading import grader, safe_expr
from grading.spec import CheckSpec

ROOT = Path(__file__).resolve().parents[2]

ATTACKS = [
    "__import__('os').system('touch /tmp/pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__.__mro__",
    "getattr(x, '__class__')",
    "eval('1')",
    "exec('import os')",
    "open('/etc/passwd').read()",
    "globals()",
    "torch.load('/tmp/evil.pt')",
    "torch.save(x, '/tmp/out.pt')",
    "np.save('/tmp/out', x)",
    "x.numpy().tofile('/tmp/out')",
    "torch.set_default_dtype(torch.float64)",
    "torch.manual_seed(0)",
    "torch.ops.aten.add(x, x)",
    "torch.hub.load('a', 'b')",
    "torch.utils.cpp_extension.load('a', [])",
    "[torch][0].load('/tmp/evil.pt')",
    "x.register_hook(abs)",
    "(lambda: 1)()",
    "[v for v in x]",
    "(y := 1)",
    "x.sum(*[0])",
    "torch.tensor(**{'data': 1})",
    "torch",
    "abs",
    "x(1)",
    "x._grading_meta",
    "f'{x}'",
    "b'bytes'",
    "z > 0",  # not in uses
]


@pytest.mark.parametrize("expression", ATTACKS)
def test_unsafe_expressions_are_refused(expression):
    with pytest.raises(safe_expr.UnsafeExpression):
        safe_expr.validate(expression, ["x"])
    with pytest.raises(safe_expr.UnsafeExpression):
        safe_expr.evaluate(expression, ["x"], {"x": torch.arange(3)})


def test_the_rce_says_what_is_refused():
    with pytest.raises(safe_expr.UnsafeExpression, match="'__import__' is not allowed"):
        safe_expr.validate("__import__('os').system('id')", [])
    with pytest.raises(safe_expr.UnsafeExpression, match="'__class__' is not allowed"):
        safe_expr.validate("().__class__.__bases__", [])


@pytest.mark.parametrize(
    ("expression", "uses", "expected"),
    [
        ("x.sum() == 6", ["x"], True),
        ("float(torch.norm(x.reshape(-1) - torch.tensor([0.0, 1, 2, 3]))) < 0.05", ["x"], True),
        ("abs(float(torch.as_tensor(x).reshape(-1)[1]) - 1) < 1e-6", ["x"], True),
        ("x.shape == (4,) and x.dtype == torch.float32", ["x"], True),
        ("isinstance(x, torch.Tensor) and len(x) == 4", ["x"], True),
        ("1 < x.max() <= 3", ["x"], True),
        ("3 < x.max() <= 4", ["x"], False),
        ("x[1:3].tolist() == [1.0, 2.0]", ["x"], True),
        ("x[..., 0] == 0", ["x"], True),
        ("math.isclose(float(x.mean()), 1.5) and math.pi > 3", ["x"], True),
        ("np.allclose(x.numpy(), np.arange(4))", ["x"], True),
        ("torch.allclose(x @ x, torch.tensor(14.0))", ["x"], True),
        ("(x ** 2).sum() == 14 if x.numel() else False", ["x"], True),
        ("not (x < 0).any() and d.get('k') == 'v'", ["x", "d"], True),
        ("x.grad.sum() == 2", ["x.grad"], True),  # a dotted use is one exported name
        ("torch.zeros(2, 3).shape == torch.Size([2, 3])", [], True),
        ("max([1, 2]) == 2 and round(2.6) == 3 and -x[1] == -1", ["x"], True),
    ],
)
def test_allowed_expressions_evaluate(expression, uses, expected):
    env = {"x": torch.arange(4.0), "d": {"k": "v"}, "x.grad": torch.ones(2)}
    safe_expr.validate(expression, uses)
    result = safe_expr.evaluate(expression, uses, {k: env[k] for k in uses})
    if isinstance(result, torch.Tensor):
        result = bool(result.all())
    assert bool(result) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "10 ** 10 ** 10",
        "'a' * 10 ** 6 * 10 ** 6",
        "[0] * 10 ** 9",
        "torch.zeros(10 ** 6, 10 ** 6)",
        "torch.ones([10 ** 5, 10 ** 5])",
        "torch.arange(10 ** 12)",
        "torch.linspace(0, 1, 10 ** 10)",
        "np.zeros(shape=(10 ** 5, 10 ** 5))",
        "torch.eye(10 ** 5)",
        "list(torch.zeros(2_000_000))",
    ],
)
def test_work_is_bounded(expression):
    with pytest.raises(ValueError, match=r"not allowed|would build"):
        safe_expr.evaluate(expression, [], {})


def test_evaluation_does_not_use_eval(monkeypatch):
    import ast
    import builtins

    real_compile = builtins.compile

    def no_eval(*args, **kwargs):
        raise AssertionError("eval/exec must not be used")

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):
        assert flags & ast.PyCF_ONLY_AST, "only ast.parse may compile"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", no_eval)
    monkeypatch.setattr(builtins, "exec", no_eval)
    monkeypatch.setattr(builtins, "compile", parse_only)
    assert safe_expr.evaluate("x + 1 == 2", ["x"], {"x": 1}) is True


def test_free_names_skip_modules_and_functions():
    assert safe_expr.free_names("abs(float(torch.norm(w - b))) < math.pi") == ["w", "b"]


# ---------------------------------------------------------------- in the grader


SETUP = "import torch\n"
SOLUTION = "x = torch.arange(4.0)\n"


def test_grade_refuses_an_unsafe_assert_before_running_anything(pool, tmp_path):
    marker = tmp_path / "pwned"
    spec = make_spec(
        SETUP,
        SOLUTION,
        CheckSpec(assert_=f"__import__('os').system('touch {marker}') == 0", uses=("x",)),
        slug="unsafe-assert",
    )
    runs = pool.runs
    verdict = grader.grade(spec, SOLUTION, pool=pool)
    assert verdict.outcome == "internal_error"
    assert "refused" in verdict.message["en"] and "__import__" in verdict.message["en"]
    assert not marker.exists()
    assert pool.runs == runs  # neither the reference nor the student ran


def test_grade_refuses_a_dunder_walk(pool):
    spec = make_spec(
        SETUP,
        SOLUTION,
        CheckSpec(assert_="x.__class__.__bases__[0] is not None", uses=("x",)),
        slug="dunder-assert",
    )
    verdict = grader.grade(spec, SOLUTION, pool=pool)
    assert verdict.outcome == "internal_error" and "__class__" in verdict.message["en"]


def test_a_safe_assert_still_grades(pool):
    spec = make_spec(
        SETUP,
        SOLUTION,
        CheckSpec(assert_="float(x.sum()) == 6 and math.isclose(float(x[1]), 1.0)", uses=("x",)),
        slug="safe-assert",
    )
    assert grader.grade(spec, SOLUTION, pool=pool).outcome == "passed"
    wrong = grader.grade(spec, "x = torch.zeros(4)\n", pool=pool)
    assert wrong.outcome == "failed" and wrong.checks[0].diagnostic == "wrong-value"


def test_an_assert_raising_on_student_data_fails_the_check(pool):
    spec = make_spec(
        SETUP, SOLUTION, CheckSpec(assert_="x.reshape(2, 2)[1, 1] == 3", uses=("x",)),
        slug="assert-raises",
    )  # fmt: skip
    verdict = grader.grade(spec, "x = torch.arange(3.0)\n", pool=pool)
    assert verdict.outcome == "failed" and "RuntimeError" in verdict.checks[0].messages["en"]


def test_every_shipped_assert_loads_and_passes_with_its_reference(pool):
    docs = load_course(ROOT / "lessons")
    specs = [spec for doc in docs for spec in doc.exercises if any(c.assert_ for c in spec.checks)]
    assert specs, "the shipped lessons have assert checks"
    for spec in specs:
        for check in spec.checks:
            if check.assert_:
                safe_expr.validate(check.assert_, check.uses)
        verdict = grader.grade(spec, spec.solution, pool=pool)
        assert verdict.outcome == "passed", (spec.slug, verdict.to_dict())
        asserts = [c for c, s in zip(verdict.checks, spec.checks, strict=True) if s.assert_]
        assert asserts and all(c.passed for c in asserts)
        # ... and they can fail: the starter does not pass them.
        starter = grader.grade(spec, spec.starter, pool=pool)
        assert starter.outcome != "passed"


def test_math_and_numpy_constants_are_the_real_ones():
    assert safe_expr.evaluate("math.pi", [], {}) == math.pi
    assert safe_expr.evaluate("np.float32", [], {}) is np.float32


def test_every_allowed_function_and_constant_exists():
    for dotted in sorted(safe_expr.FUNCTIONS | safe_expr.CONSTANTS):
        assert safe_expr._lookup(dotted) is not None, dotted
