"""docs/contract.md is the fixed contract: its diagnostic table and outcomes match the code."""

from __future__ import annotations

import re
from pathlib import Path

from grading.diagnostics import CATALOGUE

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def _table_codes(section: str) -> list[str]:
    text = CONTRACT.read_text(encoding="utf-8").split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_-]+)` \|", text, flags=re.M)


def test_every_diagnostic_code_is_in_the_contract_and_back() -> None:
    assert sorted(_table_codes("Diagnostics")) == sorted(CATALOGUE)


def test_outcomes_are_the_fixed_nine() -> None:
    assert _table_codes("Outcomes") == [
        "passed", "failed", "error", "timeout", "memory_limit", "output_limit", "rejected",
        "queue_unavailable", "internal_error"]
