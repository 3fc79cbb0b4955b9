"""The shipped course is self-consistent: references define and pass, starters do not pass.

Runs every exercise once in a plain subprocess (no sandbox: that is another layer's job).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from courses.loader import load_course

ROOT = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("content_runner.py")
COURSE = load_course(ROOT / "lessons")
EXERCISES = [spec for doc in COURSE for spec in doc.exercises]


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    payload = json.dumps([dataclasses.asdict(spec) for spec in EXERCISES])
    proc = subprocess.run(
        [sys.executable, str(RUNNER)],
        input=payload,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("slug", [spec.slug for spec in EXERCISES])
def test_reference_defines_and_passes(report: dict[str, Any], slug: str) -> None:
    entry = report[slug]
    if "skipped" in entry:
        pytest.skip(f"{slug}: {entry['skipped']}")
    assert entry["solution_error"] is None
    missing = [name for name, ok in entry["defined"].items() if not ok]
    assert missing == []
    assert entry["solution_problems"] == []
    assert entry["nondeterministic"] == []


@pytest.mark.parametrize("slug", [spec.slug for spec in EXERCISES])
def test_starter_runs_and_does_not_pass(report: dict[str, Any], slug: str) -> None:
    entry = report[slug]
    if "skipped" in entry:
        pytest.skip(f"{slug}: {entry['skipped']}")
    assert entry["starter_error"] is None, "the starter should run without raising"
    assert entry["starter_failures"], "the starter must not pass"
