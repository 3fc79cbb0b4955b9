"""The shipped course: all 46 curriculum exercises, in their lessons, fully bilingual."""

from __future__ import annotations

from pathlib import Path

from courses.loader import load_course

ROOT = Path(__file__).resolve().parents[2]
LESSONS = ROOT / "lessons"

# The contract of curriculum.md: lesson slug -> exercise slugs, in teaching order.
CURRICULUM = {
    "tensors": [
        "tensor-arange",
        "tensor-create",
        "tensor-elementwise",
        "tensor-cat",
        "tensor-compare-sum",
        "tensor-broadcast",
        "tensor-inplace",
        "tensor-numpy-scalar",
    ],
    "preprocessing": ["pandas-read", "pandas-impute", "pandas-dummies", "pandas-to-tensor"],
    "linear-algebra": [
        "linalg-clone-sum",
        "linalg-mean-keepdims",
        "linalg-cumsum",
        "linalg-products",
        "linalg-norms",
    ],
    "autograd": [
        "autograd-backward",
        "autograd-zero-grad",
        "autograd-nonscalar",
        "autograd-detach",
    ],
    # d2l teaches linear regression right after autograd, before softmax.
    "linear-regression": ["linreg-sgd"],
    "softmax": ["softmax-pick", "softmax-function", "cross-entropy"],
    "modules": ["nn-sequential", "nn-params"],
    "devices": ["device-count", "device-try-gpu", "device-gpu-add"],
    "training": ["linreg-concise", "softmax-scratch-digits", "softmax-digits", "mlp-digits"],
    "generalization": [
        "poly-fit",
        "poly-diagnose",
        "l2-penalty",
        "weight-decay-concise",
        "dropout-layer",
        "dropout-mlp",
    ],
    "builders": [
        "digits-images",
        "digits-loader",
        "mlp-scratch",
        "param-init",
        "custom-module",
        "save-load",
    ],
}


def test_real_course_loads_with_the_curriculum() -> None:
    docs = load_course(LESSONS)
    assert [d.slug for d in docs] == list(CURRICULUM)
    assert [d.order for d in docs] == list(range(1, len(CURRICULUM) + 1))
    for doc in docs:
        assert [e.slug for e in doc.exercises] == CURRICULUM[doc.slug]
        assert all(e.lesson == doc.slug for e in doc.exercises)
    assert sum(len(d.exercises) for d in docs) == 46


def test_real_course_is_fully_bilingual() -> None:
    for doc in load_course(LESSONS):
        for mapping in (doc.title, doc.summary, doc.prose):
            assert set(mapping) == {"en", "zh-hans"}
            assert all(v.strip() for v in mapping.values())
        # Chinese prose really is Chinese, not a copy of the English.
        assert doc.prose["en"] != doc.prose["zh-hans"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in doc.prose["zh-hans"])
        for spec in doc.exercises:
            assert 1 <= len(spec.hints) <= 3
            for text in (spec.title, spec.prompt, *spec.hints):
                assert set(text) == {"en", "zh-hans"}
                assert any("\u4e00" <= ch <= "\u9fff" for ch in text["zh-hans"])


def test_real_course_queues_and_special_checks() -> None:
    specs = {e.slug: e for d in load_course(LESSONS) for e in d.exercises}
    assert specs["device-gpu-add"].queue == "gpu"
    assert specs["device-count"].queue == "any"
    assert specs["device-try-gpu"].queue == "any"
    assert all(s.queue == "cpu" for k, s in specs.items() if not k.startswith("device-"))

    r = next(c for c in specs["tensor-create"].checks if c.name == "R")
    assert (r.values, r.nonconstant) == (False, True)
    inplace = {c.name: c.storage for c in specs["tensor-inplace"].checks}
    assert inplace == {"Z": "unchanged", "X": "unchanged"}
    b = next(c for c in specs["linalg-clone-sum"].checks if c.name == "B")
    assert b.separate_from == "A"

    soft = specs["softmax-function"]
    assert {"torch.softmax", "torch.nn.functional.softmax", "torch.Tensor.softmax"} <= set(
        soft.forbidden
    )
    stable = [c for c in soft.checks if c.call == "softmax" and "1000" in " ".join(c.args)]
    assert len(stable) == 1 and stable[0].points / soft.max_score == 0.25

    sgd = specs["linreg-sgd"]
    asserts = [c for c in sgd.checks if c.assert_]
    assert len(asserts) >= 3
    assert any({"w", "b", "features", "labels"} <= set(c.uses) for c in asserts)


def test_modules_setups_end_by_seeding() -> None:
    specs = {e.slug: e for d in load_course(LESSONS) for e in d.exercises}
    for slug in CURRICULUM["modules"]:
        assert specs[slug].setup.strip().splitlines()[-1] == "torch.manual_seed(0)"
    for slug in CURRICULUM["preprocessing"]:
        assert "house_tiny.csv" in specs[slug].setup
