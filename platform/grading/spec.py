"""Plain descriptions of an exercise, shared by the lesson loader, the grader and the worker."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

LANGS = ("en", "zh-hans")


@dataclass(frozen=True)
class CheckSpec:
    """One graded check; see docs/architecture.md for the YAML schema."""

    name: str | None = None  # a checked name (dotted path allowed: "x.grad")
    call: str | None = None  # or: a function of the student's to call ...
    args: tuple[str, ...] = ()  # ... on these expressions (evaluated in the sandbox)
    assert_: str | None = None  # or: a trusted expression over exported names
    uses: tuple[str, ...] = ()  # names an assert check needs exported
    points: float = 1.0
    label: str | None = None
    hidden: bool = False
    rtol: float | None = None
    atol: float | None = None
    values: bool = True
    nonconstant: bool = False
    storage: str | None = None  # "unchanged": keep the storage the name had before the cell
    separate_from: str | None = None  # must not share memory with this name
    trained: int = 0  # ≥ 1: the name is a parameter trained by that many backward+update steps
    moved: float = 0.0  # ... and it moved by at least this fraction of its final size
    message: dict[str, str] = field(default_factory=dict)  # custom failure text, per language
    # Training checks (grading/models_rebuild.py; docs/grading.md, "Training checks"):
    heldout: str | None = None  # or: a model name, or a formula over `uses` and X ...
    data: str | None = None  # ... measured on this held-out .npz of the lesson folder ...
    heldout_data: str = ""  # ... (its bytes, base64: trusted side only, never sent to a run)
    accuracy: float = 0.0  # ... which must reach this accuracy
    structure: str | None = None  # or: a model whose layers must match the reference's
    losses: str | None = None  # or: the losses recorded per epoch, which must go down ...
    below: float | None = None  # ... and end under this bound
    mode: str | None = None  # or: a model that must be in a mode at the end of the cell ...
    expect: str = "eval"  # ... "eval" (every layer after net.eval()) or "train"

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        if self.name:
            return self.name
        if self.call:
            return f"{self.call}(...)"
        if self.structure:
            return f"{self.structure} (layers)"
        if self.losses:
            return f"{self.losses} (loss curve)"
        if self.heldout:
            return f"{self.heldout} (held-out accuracy)"
        if self.mode:
            return f"{self.mode} ({self.expect} mode)"
        return self.assert_ or "check"


@dataclass(frozen=True)
class ExerciseSpec:
    slug: str
    lesson: str
    setup: str
    solution: str
    starter: str
    checks: tuple[CheckSpec, ...]
    title: dict[str, str] = field(default_factory=dict)
    prompt: dict[str, str] = field(default_factory=dict)
    hints: tuple[dict[str, str], ...] = ()
    forbidden: tuple[str, ...] = ()
    queue: str = "cpu"  # "cpu" | "gpu" | "any"
    limits: dict[str, float] = field(default_factory=dict)  # overrides of sandbox.Limits fields
    seed: int = 0
    files: dict[str, str] = field(default_factory=dict)  # written into the working folder
    version: str = ""  # set by the database layer; part of the reference-cache key
    # Per-student variants (lessons/README.md, "Variants"): 0 = none, else 2..50. A student's
    # variant is `variant_for(student)`; `for_variant(i)` is the spec a run of it uses.
    variants: int = 0
    variant: int = 0  # which variant this spec runs (set by for_variant; never stored)

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.checks))

    def grading_fingerprint(self) -> str:
        """Hash of everything that changes how submissions are graded (drives versioning)."""
        keys = ("setup", "solution", "checks", "forbidden", "queue", "limits", "seed", "files")
        data = {k: v for k, v in asdict(self).items() if k in keys}
        if self.variants:  # an exercise without variants hashes as before they existed
            data["variants"] = self.variants
        for check in data["checks"]:
            if check.get("mode") is None:  # a check without the mode kind hashes as before it
                check.pop("mode", None)
                check.pop("expect", None)
        raw = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def variant_for(self, student: object) -> int:
        """The variant of `student` (a stable id, e.g. the user's primary key): a stable hash
        of (student, exercise) among `variants`, the same on every worker and every day."""
        if self.variants < 2:
            return 0
        digest = hashlib.sha256(f"{self.slug}\x00{student}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.variants

    def for_variant(self, index: int) -> ExerciseSpec:
        """The spec a run of variant `index` uses. Its runs see `VARIANT = index` before the
        setup and seed the random generators with `seed + index` (`run_setup`, `run_seed`;
        variant 0 keeps the exercise's seed), so each variant is deterministic. An exercise
        without variants is itself."""
        if self.variants < 2:
            return self
        if not 0 <= index < self.variants:
            raise ValueError(f"{self.slug} has variants 0..{self.variants - 1}, not {index}")
        return replace(self, variant=index)

    @property
    def run_setup(self) -> str:
        """The setup a run executes: with variants, `VARIANT = i` comes first."""
        return f"VARIANT = {self.variant}\n{self.setup}" if self.variants >= 2 else self.setup

    @property
    def run_seed(self) -> int:
        """The seed of the random generators before the setup (one per variant)."""
        return self.seed + self.variant if self.variants >= 2 else self.seed

    def for_student(self, student: object) -> ExerciseSpec:
        """The spec `student`'s runs use (their variant; itself without variants)."""
        return self.for_variant(self.variant_for(student))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExerciseSpec:
        data = dict(data)
        data["checks"] = tuple(
            CheckSpec(**{**c, "args": tuple(c.get("args", ())), "uses": tuple(c.get("uses", ()))})
            for c in data.get("checks", ())
        )
        data["hints"] = tuple(data.get("hints", ()))
        data["forbidden"] = tuple(data.get("forbidden", ()))
        return cls(**data)
