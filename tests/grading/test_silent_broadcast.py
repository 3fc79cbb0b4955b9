"""Issue 13: the silent-broadcast diagnostic. A result of shape (N, N) where (N,) or (N, 1)
was expected, made by an element-wise operation of (N, 1) against (N,), is named with the
operation and its line, in English and Chinese; `A[:, idx]` keeps its index-pairing note;
right answers in several styles pass."""

from __future__ import annotations

import pytest
from fakepool import make_spec

from grading import compare as cmp
from grading import grader
from grading.spec import CheckSpec

SETUP = (
    "import torch\n"
    "y_hat = torch.tensor([[2.5], [0.0], [2.1], [7.8], [1.0], [0.5], [3.0], [2.0], [1.5], [4.0]])\n"
    "y = torch.tensor([3.0, -0.5, 2.0, 7.0, 1.0, 0.0, 3.5, 2.0, 1.0, 4.5])\n"
)
LOSS_REF = "def squared_loss(y_hat, y):\n    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2\n"
LOSS = make_spec(
    SETUP,
    LOSS_REF + "l = squared_loss(y_hat, y)\n",
    CheckSpec(name="l"),
    CheckSpec(call="squared_loss", args=("y_hat", "y")),
)


def _check(verdict, name):
    return next(c for c in verdict.checks if c.name == name)


def test_square_facts_only_for_n_by_n_where_a_vector_was_expected():
    assert cmp.square_facts((10,), (10, 10)) == {"square": 10}
    assert cmp.square_facts((10, 1), (10, 10)) == {"square": 10}
    assert cmp.square_facts((10,), (10, 3)) == {}
    assert cmp.square_facts((3, 4), (3, 3)) == {}
    assert cmp.square_facts((1,), (1, 1)) == {}  # N = 1 is no broadcast table


def test_squared_loss_without_reshape_names_the_subtraction_in_both_languages(pool):
    code = ("def squared_loss(y_hat, y):\n    return (y_hat - y) ** 2 / 2\n\n"
            "l = squared_loss(y_hat, y)\n")
    v = grader.grade(LOSS, code, pool=pool)
    assert v.outcome == "failed"
    for name in ("l", "squared_loss(...)"):
        c = _check(v, name)
        assert c.diagnostic == "silent-broadcast"
        en, zh = c.messages["en"], c.messages["zh-hans"]
        assert "(10, 10)" in en and "`y_hat - y` (line 2)" in en
        assert "(10, 1) tensor with a (10,) one" in en
        assert "`y_hat.reshape(-1, 1) - y.reshape(-1, 1)`" in en  # expected (10, 1)
        assert "第 2 行" in zh and "`y_hat - y`" in zh and "广播" in zh and "(10, 10)" in zh
    assert "silent-broadcast" in v.to_dict()["diagnostics"]


def test_a_vector_result_gets_a_flat_fix_and_the_line_of_the_assignment(pool):
    spec = make_spec(SETUP, "err = y_hat.reshape(-1) - y\n", CheckSpec(name="err"))
    v = grader.grade(spec, "print('start')\nerr = y_hat - y\n", pool=pool)
    c = _check(v, "err")
    assert c.diagnostic == "silent-broadcast"
    assert "`y_hat - y` (line 2)" in c.messages["en"]
    assert "`y_hat.reshape(-1) - y.reshape(-1)`" in c.messages["en"]
    # The fix it suggests passes.
    assert grader.grade(spec, "err = y_hat.reshape(-1) - y.reshape(-1)\n", pool=pool).passed


def test_compound_operands_are_parenthesised_in_the_fix(pool):
    setup = SETUP + "w = torch.ones(1, 1)\n"
    spec = make_spec(setup, "err = (y_hat @ w).reshape(-1) - y\n", CheckSpec(name="err"))
    c = _check(grader.grade(spec, "err = y_hat @ w - y\n", pool=pool), "err")
    assert c.diagnostic == "silent-broadcast"
    assert "`(y_hat @ w).reshape(-1) - y.reshape(-1)`" in c.messages["en"]


def test_index_pairing_is_not_called_a_broadcast(pool):
    setup = ("import torch\ny_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])\n"
             "y = torch.tensor([0, 2])\n")
    spec = make_spec(setup, "picked = y_hat[torch.arange(2), y] * 1.0\n", CheckSpec(name="picked"))
    c = _check(grader.grade(spec, "picked = y_hat[:, y] * 1.0\n", pool=pool), "picked")
    assert c.diagnostic == "shape-mismatch"
    assert "element by element" in c.messages["en"]


def test_a_square_result_without_an_elementwise_operation_keeps_the_shape_message(pool):
    spec = make_spec(SETUP, "err = y_hat.reshape(-1) - y\n", CheckSpec(name="err"))
    c = _check(grader.grade(spec, "err = torch.outer(y, y)\n", pool=pool), "err")
    assert c.diagnostic == "shape-mismatch"
    assert c.messages["en"] == "`err` has shape (10, 10) but should have shape (10,)."


def test_hidden_checks_say_nothing_about_the_code(pool):
    spec = make_spec(SETUP, LOSS_REF,
                     CheckSpec(call="squared_loss", args=("y_hat", "y"), hidden=True))
    v = grader.grade(spec, "def squared_loss(y_hat, y):\n    return (y_hat - y) ** 2\n", pool=pool)
    c = v.checks[0]
    assert c.diagnostic == "shape-mismatch" and "y_hat - y" not in c.messages["en"]


@pytest.mark.parametrize("code", [
    LOSS_REF + "l = squared_loss(y_hat, y)\n",
    "def squared_loss(y_hat, y):\n    return (y_hat - y.view(-1, 1)) ** 2 / 2\n"
    "l = squared_loss(y_hat, y)\n",
    "def squared_loss(y_hat, y):\n    d = y_hat - y.unsqueeze(1)\n    return d * d / 2\n"
    "l = squared_loss(y_hat, y)\n",
    "def squared_loss(y_hat, y):\n    return 0.5 * (y_hat.squeeze(1) - y).pow(2).unsqueeze(1)\n"
    "l = squared_loss(y_hat, y)\n",
])
def test_right_squared_losses_pass_in_several_styles(pool, code):
    assert grader.grade(LOSS, code, pool=pool).outcome == "passed"


def test_an_instructors_own_message_stays(pool):
    spec = make_spec(SETUP, "err = y_hat.reshape(-1) - y\n",
                     CheckSpec(name="err",
                               message={"en": "Mind the shapes.", "zh-hans": "注意形状。"}))
    c = _check(grader.grade(spec, "err = y_hat - y\n", pool=pool), "err")
    assert c.diagnostic == "silent-broadcast" and c.messages["en"] == "Mind the shapes."
