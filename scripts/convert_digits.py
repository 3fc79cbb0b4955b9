"""Convert scikit-learn's bundled 8x8 handwritten digits ONCE into the digits lessons.

Run (scikit-learn is needed only here, not by the platform):

    .venv/bin/pip install scikit-learn && .venv/bin/python scripts/convert_digits.py

Source: scikit-learn's ``load_digits`` (a copy of the test set of the UCI "Optical
Recognition of Handwritten Digits" data set), shipped with scikit-learn under the BSD
3-clause licence; see lessons/training/DATA.md for the credit.

Writes into lessons/training/ and lessons/builders/:
- ``digits_train.npz`` (training only): X (1437, 64) uint8 in 0..16, y (1437,) int64 - sent
  into runs;
- ``digits_heldout.npz``: X (360, 64) float32 in [0, 1] (pixels / 16), y (360,): the
  held-out set, read by the grader on
  the trusted side only and never sent into the sandbox;
and refreshes the ``digits_train.b64:`` line of every exercise.yaml of those lessons (the
sandbox's files are text, so the training set travels base64-encoded).
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

LESSONS_DIR = Path(__file__).resolve().parents[1] / "lessons"
LESSONS = (LESSONS_DIR / "training", LESSONS_DIR / "builders")
SEED = 13
N_HELDOUT = 360


def npz_bytes(X: np.ndarray, y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, X=X, y=y)
    return buf.getvalue()


def main() -> None:
    digits = load_digits()
    X = digits.data.astype(np.uint8)  # values are whole numbers 0..16
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(SEED).permutation(len(y))  # a fixed, stratum-free split
    held, train = order[:N_HELDOUT], order[N_HELDOUT:]
    train_raw = npz_bytes(X[train], y[train])
    # The grader feeds the held-out X straight to the model: scaled to [0, 1] as the
    # exercises' setup scales the training images (X / 16).
    scaled = (X[held] / 16).astype(np.float32)
    line = "  digits_train.b64: " + base64.b64encode(train_raw).decode()
    for lesson in LESSONS:
        if lesson.name == "training":  # the builders lesson embeds only the .b64 text
            (lesson / "digits_train.npz").write_bytes(train_raw)
        (lesson / "digits_heldout.npz").write_bytes(npz_bytes(scaled, y[held]))
        for yaml_file in sorted(lesson.glob("exercises/*/exercise.yaml")):
            text = yaml_file.read_text(encoding="utf-8")
            new = re.sub(r"^  digits_train\.b64: .*$", lambda _: line, text, flags=re.M)
            if new != text:
                yaml_file.write_text(new, encoding="utf-8")
                print("updated", yaml_file.relative_to(LESSONS_DIR.parent))
    print(f"train {len(train)}, held out {len(held)}, train npz {len(train_raw)} bytes")


if __name__ == "__main__":
    main()
