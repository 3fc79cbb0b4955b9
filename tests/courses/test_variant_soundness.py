"""Issue 13: `variants: N` in exercise.yaml — the loader's rule, check_lessons proving every
variant sound, and the worker grading each student against their own variant."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from content_runner import content_pool, soundness
from test_loader import edit, find, line_of, load_lesson, problems_of, write_lesson

from courses.soundness import check_exercise
from grading.spec import CheckSpec, ExerciseSpec


def spec_with(setup: str, variants: int = 3) -> ExerciseSpec:
    return ExerciseSpec(slug="var-demo", lesson="demo", setup=setup, solution="s = x.sum()\n",
                        starter="s = None\n", checks=(CheckSpec(name="s"),), variants=variants)


# --------------------------------------------------------------------------- the loader


@pytest.mark.parametrize("value", ["2", "7", "50"])
def test_variants_from_2_to_50_load_and_round_trip(tmp_path: Path, value: str) -> None:
    path = write_lesson(tmp_path)
    edit(path / "exercises" / "demo-ex" / "exercise.yaml", "queue: cpu",
         f"queue: cpu\nvariants: {value}")
    (spec,) = load_lesson(path).exercises
    assert spec.variants == int(value) and spec.variant == 0
    from courses.loader import exercise_dict

    assert exercise_dict(spec)["variants"] == int(value)


def test_no_variants_key_means_none(tmp_path: Path) -> None:
    (spec,) = load_lesson(write_lesson(tmp_path)).exercises
    assert spec.variants == 0
    from courses.loader import exercise_dict

    assert "variants" not in exercise_dict(spec)


@pytest.mark.parametrize("value", ["1", "0", "51", "-3", "'4'", "true", "2.5"])
def test_variants_outside_2_to_50_are_refused_at_their_line(tmp_path: Path,
                                                            value: str) -> None:
    path = write_lesson(tmp_path)
    file = path / "exercises" / "demo-ex" / "exercise.yaml"
    edit(file, "queue: cpu", f"queue: cpu\nvariants: {value}")
    problem = find(problems_of(path), "variants must be an integer from 2 to 50")
    assert problem.line == line_of(file, "variants:")


# --------------------------------------------------------------------------- soundness


def _fake_execute(log: list[tuple[int, str]], broken: int | None = None):
    def execute(spec: ExerciseSpec, code: str) -> dict[str, Any]:
        log.append((spec.variant, code))
        ok = code == spec.solution and spec.variant != broken
        return {"outcome": "passed" if ok else "failed", "score": 1.0 if ok else 0.0,
                "max_score": 1.0, "checks": [{"name": "s", "passed": ok, "points": float(ok)}]}

    return execute


def test_every_variant_is_proven_sound() -> None:
    log: list[tuple[int, str]] = []
    spec = spec_with("x = 1", variants=3)
    result = check_exercise(spec, _fake_execute(log), gpu_available=False)
    assert result.ok, result.problems
    assert sorted({v for v, _ in log}) == [0, 1, 2]
    assert len(log) == 9  # reference twice and the starter, for each variant
    assert result.to_dict()["variants"]["count"] == 3
    assert result.to_dict()["reference"]["outcome"] == "passed"  # variant 0's, for Validate


def test_one_broken_variant_fails_the_exercise() -> None:
    result = check_exercise(spec_with("x = 1"), _fake_execute([], broken=2), gpu_available=False)
    assert not result.ok
    assert any(p.startswith("variant 2: the reference solution got failed") for p in
               result.problems)
    assert not any(p.startswith(("variant 0", "variant 1")) for p in result.problems)


def test_real_grader_variants_sound_and_variants_that_do_not_differ_are_refused() -> None:
    drawn = spec_with("import torch\nx = torch.randint(0, 100, (4,))\n")  # seeded per variant
    by_variant = spec_with("import torch\nx = torch.arange(4) * (VARIANT + 1)\n")
    fixed = spec_with("import torch\nx = torch.arange(4)\n")  # ignores VARIANT and the RNG
    broken = spec_with("import torch\nx = torch.arange(4)\nassert VARIANT != 1\n")
    with content_pool() as pool:
        results = {
            name: next(iter(soundness([s], pool).values()))
            for name, s in (("drawn", drawn), ("by_variant", by_variant), ("fixed", fixed),
                            ("broken", broken))
        }
    assert results["drawn"].ok and results["by_variant"].ok
    assert not results["fixed"].ok
    assert "variants give the reference the same values" in results["fixed"].problems[-1]
    assert not results["broken"].ok
    assert results["broken"].problems[0].startswith("variant 1:")


# --------------------------------------------------------------------------- the worker


def test_the_worker_grades_and_regrades_a_student_against_their_variant(course, alice, bob,
                                                                         teacher):
    import dashboard.tasks
    from courses.models import Exercise
    from dashboard import services as dashboard_services
    from dashboard.access import default_course
    from grading import runner
    from submissions import tasks
    from submissions.models import Submission

    exercise = Exercise.objects.get(slug="linreg-sgd")
    version = exercise.current_version
    assert version.spec.variants >= 2
    seen: list[ExerciseSpec] = []

    def fake(spec, code, *, kind="submit", author=False, usage=None):
        seen.append(spec)
        return {"outcome": "failed", "score": 0.0, "max_score": spec.max_score, "checks": []}

    for user in (alice, bob):
        sub = Submission.objects.create(user=user, exercise=exercise, version=version,
                                        code="w = None", max_score=5)
        with mock.patch.object(runner, "execute", fake):
            tasks.grade_submission.apply(args=(sub.pk,))
    assert [s.variant for s in seen] == [version.spec.variant_for(u.pk) for u in (alice, bob)]
    assert all(s.version == version.spec.version for s in seen)  # one exercise version
    # A regrade grades the attempt against its student's variant too.
    seen.clear()
    regrade = dashboard_services.regrade_start(course=default_course(), exercise=exercise,
                                               by=teacher, student=bob)
    with mock.patch.object(dashboard.tasks, "execute", fake):
        dashboard.tasks.regrade_submission.run(regrade.results.get().pk)
    assert [s.variant for s in seen] == [version.spec.variant_for(bob.pk)]
