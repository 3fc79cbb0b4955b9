"""Plain descriptions of an exercise, shared by the lesson loader, the grader and the worker."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
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

    @property
    def max_score(self) -> float:
        return float(sum(c.points for c in self.checks))

    def grading_fingerprint(self) -> str:
        """Hash of everything that changes how submissions are graded (drives versioning)."""
        keys = ("setup", "solution", "checks", "forbidden", "queue", "limits", "seed", "files")
        data = {k: v for k, v in asdict(self).items() if k in keys}
        for check in data["checks"]:
            if check.get("mode") is None:  # a check without the mode kind hashes as before it
                check.pop("mode", None)
                check.pop("expect", None)
        raw = json.dumps(data, sort_keys=True, default=str).encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
