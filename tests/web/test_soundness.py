"""courses.soundness on a fake executor (the real one is exercised by check_lessons in CI)."""

from __future__ import annotations

from courses.soundness import check_exercise
from grading.spec import CheckSpec, ExerciseSpec

SPEC = ExerciseSpec(
    slug="demo", lesson="l", setup="", solution="c = 1", starter="c = None",
    checks=(CheckSpec(name="c"),),
)


def verdict(outcome: str, score: float) -> dict:
    return {"outcome": outcome, "score": score, "checks": [{"name": "c", "passed": score > 0}],
            "duration_ms": 3}


def test_a_sound_exercise():
    def execute(spec, code):
        return verdict("passed", 1.0) if code == spec.solution else verdict("failed", 0.0)

    result = check_exercise(SPEC, execute, gpu_available=False)
    assert result.ok and result.line().startswith("ok    demo")


def test_a_passing_starter_and_a_failing_reference_are_reported():
    def execute(spec, code):
        return verdict("passed", 1.0 if code == "c = None" else 0)

    result = check_exercise(SPEC, execute, gpu_available=False)
    assert not result.ok
    assert any("reference solution got passed 0/1.0" in p for p in result.problems)
    assert any("starter code already passes" in p for p in result.problems)


def test_disagreeing_runs_are_reported():
    scores = iter([1.0, 0.0, 0.5])

    def execute(spec, code):
        return verdict("passed" if code == spec.solution else "failed", next(scores))

    result = check_exercise(SPEC, execute, gpu_available=False)
    assert any("disagree" in p for p in result.problems)


def test_gpu_exercises_are_skipped_with_a_clear_line_without_a_gpu():
    spec = ExerciseSpec(**{**SPEC.__dict__, "queue": "gpu"})
    result = check_exercise(spec, lambda *a: 1 / 0, gpu_available=False)
    assert result.ok and result.skipped and result.line().startswith("SKIP  demo")
