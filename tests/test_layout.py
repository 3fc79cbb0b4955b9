"""Keep the source legible: a file under platform/ over 600 lines says why in its docstring."""

from __future__ import annotations

import ast
from pathlib import Path

PLATFORM = Path(__file__).resolve().parents[1] / "platform"
MAX_LINES = 600


def test_long_files_say_why() -> None:
    unexplained = []
    for path in sorted(PLATFORM.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if text.count("\n") <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if "Why this file is long:" not in doc:
            unexplained.append(f"{path.relative_to(PLATFORM)} ({text.count(chr(10))} lines)")
    assert not unexplained, "split these or say why they are long: " + ", ".join(unexplained)
