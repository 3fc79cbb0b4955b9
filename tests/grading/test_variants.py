"""Issue 13: per-student variants. `variants: N` gives each student one of N setups, chosen
by a stable hash of (student, exercise); each variant is deterministic; the reference runs
once per variant and is cached per variant; a neighbour's numbers do not pass."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from fakepool import make_spec

from courses.loader import load_lesson
from grading import grader
from grading.spec import CheckSpec, ExerciseSpec

ROOT = Path(__file__).resolve().parents[2]
# x is drawn from the generator the harness seeds (per variant); k reads VARIANT.
SETUP = "import torch\nx = torch.randint(0, 1000, (5,))\nk = VARIANT * 10\n"
SPEC = make_spec(SETUP, "s = x.sum() + k\n", CheckSpec(name="s"), variants=6, slug="var-sum")


def students_in_two_variants(spec: ExerciseSpec) -> tuple[int, int]:
    by_variant: dict[int, int] = {}
    for student in range(1, 200):
        by_variant.setdefault(spec.variant_for(student), student)
        if len(by_variant) == 2:
            break
    a, b = by_variant.values()
    return a, b


class Counting:
    """The fake pool, counting which setups the reference (solution) ran with."""

    def __init__(self, pool, solution: str) -> None:
        self.pool, self.solution, self.device = pool, solution, pool.device
        self.reference_setups: list[str] = []

    def run(self, job):
        doc = json.loads(job.payload)
        if doc["code"] == self.solution:
            self.reference_setups.append(doc["setup"].splitlines()[0])
        return self.pool.run(job)


def test_the_variant_is_a_stable_hash_of_student_and_exercise():
    variants = [SPEC.variant_for(s) for s in range(300)]
    assert set(variants) == set(range(6))  # every variant is used
    assert variants == [SPEC.variant_for(s) for s in range(300)]  # same every time
    again = ExerciseSpec.from_dict(json.loads(json.dumps(SPEC.to_dict())))
    assert variants == [again.variant_for(s) for s in range(300)]  # stored and reloaded
    other = replace(SPEC, slug="another-exercise")
    assert variants != [other.variant_for(s) for s in range(300)]  # per exercise
    assert replace(SPEC, variants=0).variant_for(7) == 0


def test_for_variant_sets_variant_and_seed_and_nothing_without_variants():
    spec = SPEC.for_variant(4)
    doc = json.loads(grader.build_payload(spec, "s = 1"))
    assert doc["setup"].startswith("VARIANT = 4\n") and doc["seed"] == SPEC.seed + 4
    assert spec.for_variant(4) == spec  # idempotent
    assert spec.grading_fingerprint() == SPEC.grading_fingerprint()  # one exercise version
    with pytest.raises(ValueError):
        SPEC.for_variant(6)
    plain = replace(SPEC, variants=0)
    assert plain.for_student(3) is plain
    assert json.loads(grader.build_payload(plain, "s = 1"))["setup"] == SETUP
    # An exercise without variants hashes as it did before variants existed.
    assert "variants" not in json.dumps(plain.grading_fingerprint())
    assert plain.grading_fingerprint() != SPEC.grading_fingerprint()


def test_two_students_get_different_setups_and_each_always_the_same(pool):
    a, b = students_in_two_variants(SPEC)
    seen = {}
    for student in (a, b, a):
        view = grader.run_cell(SPEC.for_student(student), "s = x.sum() + k\nprint(x, k)",
                               pool=pool)
        assert view.outcome == "ok"
        seen.setdefault(student, view.stdout)
        assert seen[student] == view.stdout  # the same student: the same numbers
    assert seen[a] != seen[b]


def test_the_reference_runs_once_per_variant_and_is_cached_per_variant(pool):
    counting = Counting(pool, SPEC.solution)
    for index in (0, 1, 0, 1, 2):
        v = grader.grade(SPEC.for_variant(index), "s = k + x.sum()\n", pool=counting)
        assert v.outcome == "passed"
    assert counting.reference_setups == ["VARIANT = 0", "VARIANT = 1", "VARIANT = 2"]
    keys = {grader.reference_key(SPEC.for_variant(i), pool) for i in range(3)}
    assert len(keys) == 3


def test_a_neighbours_numbers_do_not_pass(pool):
    a, b = students_in_two_variants(SPEC)
    # b's right answer, read off b's Run and pasted into a's cell.
    shown = grader.run_cell(SPEC.for_student(b), "s = x.sum() + k\nprint(int(s))", pool=pool)
    copied = f"s = torch.tensor({int(shown.stdout.strip())})\n"
    assert grader.grade(SPEC.for_student(b), copied, pool=pool).outcome == "passed"
    mine = grader.grade(SPEC.for_student(a), copied, pool=pool)
    assert mine.outcome == "failed" and mine.checks[0].diagnostic == "wrong-value"


def test_linreg_sgd_variants_train_on_their_own_data_and_copied_weights_fail(pool):
    lesson = load_lesson(ROOT / "lessons" / "linear-regression")
    spec = next(s for s in lesson.exercises if s.slug == "linreg-sgd")
    assert spec.variants >= 2
    # Every variant's reference passes: the same training code works on any variant.
    trues = []
    for index in range(spec.variants):
        v = grader.run_cell(spec.for_variant(index), spec.solution + "\nprint(true_w.tolist())",
                            pool=pool)
        trues.append(v.stdout.strip())
    assert len(set(trues)) == spec.variants  # each variant has its own true weights
    # A neighbour's trained weights, pasted with a token training loop, fail.
    neighbour = grader.run_cell(spec.for_variant(1),
                                spec.solution + "\nprint(w.detach().reshape(-1).tolist(), "
                                "float(b.detach()))", pool=pool)
    w_text, b_text = neighbour.stdout.strip().splitlines()[-1].rsplit("] ", 1)
    copied = (
        f"w = torch.tensor({w_text}]).reshape(2, 1).requires_grad_()\n"
        f"b = torch.tensor([{b_text}], requires_grad=True)\n"
    )
    v = grader.grade(spec.for_variant(0), copied, pool=pool)
    assert v.outcome == "failed", (copied, v.error)
    w_check = v.checks[0]
    assert not w_check.passed and w_check.diagnostic == "wrong-value"
    # On the neighbour's own variant the same numbers are right (they fail only as untrained).
    own = grader.grade(spec.for_variant(1), copied, pool=pool)
    assert own.checks[0].diagnostic == "not-trained"
