"""The loader's mode checks (``mode: net`` with ``expect: eval`` or ``train``): valid ones
load and dump back; mistakes are refused with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_loader import edit, problems_of, write_lesson

from courses.loader import dump_lesson, load_lesson


def _lesson(tmp_path: Path, check: str) -> Path:
    path = write_lesson(tmp_path)
    exercise = path / "exercises" / "demo-ex" / "exercise.yaml"
    solution = path / "exercises" / "demo-ex" / "solution.py"
    solution.write_text(solution.read_text() + "\nnet = torch.nn.Linear(2, 1).eval()\n")
    edit(exercise, "  - name: x\n", "  - name: x\n" + check)
    return path


def test_loader_reads_mode_checks_and_dumps_them_back(tmp_path: Path):
    path = _lesson(tmp_path, "  - mode: net\n  - mode: net\n    expect: train\n")
    spec = load_lesson(path).exercises[0]
    eval_check, train_check = [c for c in spec.checks if c.mode]
    assert (eval_check.mode, eval_check.expect) == ("net", "eval")
    assert train_check.expect == "train"
    out = dump_lesson(load_lesson(path), tmp_path / "out")
    assert load_lesson(out).exercises[0].checks == spec.checks


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("  - mode: net\n    expect: evaluation\n", "expect must be eval or train"),
        ("  - mode: model\n", "the reference solution (with setup) does not define it"),
        ("  - mode: net\n    below: 1\n", "unknown check option 'below' (not valid for a mode"),
        ("  - name: x\n    expect: eval\n", "unknown check option 'expect'"),
    ],
)
def test_loader_refuses_bad_mode_checks(tmp_path: Path, check: str, message: str):
    problems = problems_of(_lesson(tmp_path, check))
    assert any(message in p.message for p in problems), [str(p) for p in problems]
