"""The shipped course is sound: references pass with full marks, starters run and do not
pass, two reference runs agree.

Graded by the real grader (courses.soundness, the rules of check_lessons and Validate) on
the grading tests' stand-in sandbox; see content_runner.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from content_runner import content_pool, soundness

from courses.loader import load_course
from courses.soundness import Soundness

ROOT = Path(__file__).resolve().parents[2]
COURSE = load_course(ROOT / "lessons")
EXERCISES = [spec for doc in COURSE for spec in doc.exercises]


@pytest.fixture(scope="module")
def report() -> Iterator[dict[str, Soundness]]:
    with content_pool() as pool:
        yield soundness(EXERCISES, pool)


def _checked(report: dict[str, Soundness], slug: str) -> Soundness:
    result = report[slug]
    if result.skipped:
        pytest.skip(f"{slug}: {result.skipped}")
    return result


@pytest.mark.parametrize("slug", [spec.slug for spec in EXERCISES])
def test_the_exercise_is_sound(report: dict[str, Soundness], slug: str) -> None:
    result = _checked(report, slug)
    assert result.ok, result.problems


@pytest.mark.parametrize("slug", [spec.slug for spec in EXERCISES])
def test_the_starter_runs_to_the_end(report: dict[str, Soundness], slug: str) -> None:
    """A starter that raises greets the student with an error before they wrote a line."""
    starter = _checked(report, slug).runs["starter"]
    assert starter["outcome"] == "failed", starter


def test_the_rules_are_the_grader_s_not_a_stand_in() -> None:
    """A starter changed to the reference is caught by the grader's own verdict."""
    spec = next(s for s in EXERCISES if s.queue != "gpu")
    from dataclasses import replace

    with content_pool() as pool:
        broken = soundness([replace(spec, starter=spec.solution)], pool)[spec.slug]
    assert not broken.ok
    assert broken.problems == ["the starter code already passes: the checks test nothing it "
                               "lacks"]
    assert broken.runs["starter"]["score"] == spec.max_score
