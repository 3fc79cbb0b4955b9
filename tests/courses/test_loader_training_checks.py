"""The loader's training checks (heldout, structure, losses): valid ones load, with the
held-out data read from the lesson folder; mistakes are refused with file:line."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from test_loader import edit, find, line_of, problems_of, write_lesson

from courses.loader import dump_lesson, load_lesson

CHECK = "  - name: x\n"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    path = write_lesson(tmp_path)
    buf = io.BytesIO()
    np.savez(buf, X=np.zeros((4, 3), np.float32), y=np.array([0, 1, 0, 1]))
    (path / "held.npz").write_bytes(buf.getvalue())
    return path


def _exercise(demo: Path) -> Path:
    return demo / "exercises" / "demo-ex" / "exercise.yaml"


def test_training_checks_load_and_the_heldout_data_comes_from_the_lesson(demo: Path) -> None:
    edit(_exercise(demo), CHECK, CHECK + "  - heldout: x\n    data: held.npz\n    accuracy: 0.9\n"
         "  - structure: x\n  - losses: x\n    below: 0.5\n"
         "  - heldout: 'x * X'\n    uses: [x]\n    data: held.npz\n    accuracy: 1\n")  # fmt: skip
    spec = load_lesson(demo).exercises[0]
    held, structure, losses, formula = [c for c in spec.checks if c.heldout or c.structure
                                        or c.losses]  # fmt: skip
    assert held.heldout == "x" and held.accuracy == 0.9 and held.data == "held.npz"
    with np.load(io.BytesIO(base64.b64decode(held.heldout_data))) as npz:
        assert npz["X"].shape == (4, 3)
    assert "held.npz" not in spec.files
    assert structure.structure == "x" and losses.losses == "x" and losses.below == 0.5
    assert formula.uses == ("x",)
    # Authoring dumps the data inline and loads it back without the lesson's file.
    doc = load_lesson(demo)
    out = dump_lesson(doc, demo.parent / "out")
    assert load_lesson(out).exercises[0].checks == spec.checks


@pytest.mark.parametrize(
    ("check", "message", "line_needle"),
    [
        ("  - heldout: x\n    accuracy: 0.9\n", "needs data", "- heldout: x"),
        ("  - heldout: x\n    data: ../held.npz\n    accuracy: 0.9\n", "inside the lesson",
         "data: ../held.npz"),
        ("  - heldout: x\n    data: nope.npz\n    accuracy: 0.9\n", "not found", "data: nope"),
        ("  - heldout: x\n    data: held.npz\n", "needs accuracy", "- heldout: x"),
        ("  - heldout: x\n    data: held.npz\n    accuracy: 2\n", "needs accuracy", "accuracy: 2"),
        ("  - heldout: 'W @ X'\n    data: held.npz\n    accuracy: 0.5\n", "does not list",
         "heldout: 'W"),
        ("  - heldout: net\n    data: held.npz\n    accuracy: 0.5\n",
         "names 'net', but the reference",
         "heldout: net"),
        ("  - structure: x\n    below: 1\n", "not valid for a structure check", "below: 1"),
        ("  - losses: x\n    below: high\n", "below must be a number", "below: high"),
        ("  - heldout: x\n    heldout_data: '%%%'\n    accuracy: 0.5\n", "base64",
         "heldout_data"),
    ],
)  # fmt: skip
def test_training_check_mistakes_name_file_and_line(
    demo: Path, check: str, message: str, line_needle: str
) -> None:
    file = _exercise(demo)
    edit(file, CHECK, CHECK + check)
    p = find(problems_of(demo), message)
    assert p.file == file and p.line == line_of(file, line_needle)


def test_heldout_data_that_is_not_an_x_y_npz_is_refused(demo: Path) -> None:
    (demo / "bad.npz").write_bytes(b"not a zip")
    file = _exercise(demo)
    edit(file, CHECK, CHECK + "  - heldout: x\n    data: bad.npz\n    accuracy: 0.5\n")
    p = find(problems_of(demo), "held-out data unusable")
    assert p.line == line_of(file, "data: bad.npz")
