"""Run every exercise's setup + solution and setup + starter in this plain process.

Used by test_content.py through a subprocess (the sandbox is not involved): reads a JSON
list of exercises on stdin, prints a JSON report on stdout. A stand-in for the grader that
is deliberately simple: it proves the content is self-consistent, not the grading logic.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import tempfile
from typing import Any

import numpy as np
import pandas as pd
import torch

MISSING = object()


def resolve(ns: dict[str, Any], path: str) -> Any:
    root, *rest = path.split(".")
    value = ns.get(root, MISSING)
    for part in rest:
        if value is MISSING:
            break
        value = getattr(value, part, MISSING)
    return value


def storage_ptr(value: Any) -> int | None:
    if isinstance(value, torch.Tensor):
        return value.untyped_storage().data_ptr()
    return None


def same(a: Any, b: Any, values: bool = True) -> bool:
    """Is student value a equal to reference value b (loosely, like the grader)?"""
    if isinstance(b, torch.Tensor):
        if not isinstance(a, torch.Tensor) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.device != b.device:
            return False
        if not values:
            return True
        a, b = a.detach().cpu(), b.detach().cpu()
        if a.is_floating_point():
            return bool(torch.allclose(a, b, equal_nan=False))
        return bool(torch.equal(a, b))
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.shape == b.shape and np.allclose(a, b)
    if isinstance(b, (pd.DataFrame, pd.Series)):
        return type(a) is type(b) and a.equals(b)
    if isinstance(b, torch.nn.Module):
        if not isinstance(a, torch.nn.Module) or repr(a) != repr(b):
            return False
        sa, sb = a.state_dict(), b.state_dict()
        return sa.keys() == sb.keys() and all(same(sa[k], sb[k]) for k in sb)
    if isinstance(b, float):
        return isinstance(a, (int, float)) and math.isclose(a, b, rel_tol=1e-6)
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


def has_nan(value: Any) -> bool:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return bool(torch.isnan(value).any())
    return False


def is_constant(value: Any) -> bool:
    if not isinstance(value, torch.Tensor):
        return False
    return value.numel() < 2 or bool((value == value.flatten()[0]).all())


class Run:
    """One execution of setup + cell, with the facts checks need."""

    def __init__(self, ex: dict[str, Any], cell: str) -> None:
        self.error: str | None = None
        self.ns: dict[str, Any] = {"__name__": "__main__"}
        self.before: dict[str, int | None] = {}
        self.results: dict[int, Any] = {}
        seed = ex["seed"]
        with tempfile.TemporaryDirectory() as tmp:
            cwd = os.getcwd()
            os.chdir(tmp)
            try:
                torch.manual_seed(seed)
                random.seed(seed)
                np.random.seed(seed)
                exec(compile(ex["setup"], "<setup>", "exec"), self.ns)
                for check in ex["checks"]:
                    if check.get("storage") and check.get("name"):
                        self.before[check["name"]] = storage_ptr(resolve(self.ns, check["name"]))
                exec(compile(cell, "<cell>", "exec"), self.ns)
                for i, check in enumerate(ex["checks"]):
                    self.results[i] = self.evaluate(check)
            except Exception as exc:  # the starter may raise; that is a failing run
                self.error = f"{type(exc).__name__}: {exc}"
            finally:
                os.chdir(cwd)

    def evaluate(self, check: dict[str, Any]) -> Any:
        try:
            if check.get("name"):
                return resolve(self.ns, check["name"])
            if check.get("call"):
                func = self.ns.get(check["call"])
                args = [eval(a, self.ns) for a in check.get("args", ())]
                return func(*args)  # type: ignore[misc]
            scope = {"torch": torch, "math": math}
            for name in check.get("uses", ()):
                value = resolve(self.ns, name)
                scope[name] = value.detach() if isinstance(value, torch.Tensor) else value
            return bool(eval(check["assert_"], scope))
        except Exception as exc:
            return ("raised", f"{type(exc).__name__}: {exc}")

    def own_problems(self, ex: dict[str, Any]) -> list[str]:
        """Checks this run fails on its own (independent of a reference)."""
        problems = []
        for i, check in enumerate(ex["checks"]):
            label = check.get("name") or check.get("call") or check.get("assert_")
            value = self.results.get(i, MISSING)
            if value is MISSING:
                problems.append(f"{label}: missing")
                continue
            if isinstance(value, tuple) and value[:1] == ("raised",):
                problems.append(f"{label}: {value[1]}")
                continue
            if check.get("assert_") and value is not True:
                problems.append(f"{label}: assertion is false")
            if check.get("call") and has_nan(value):
                problems.append(f"{label}: result has NaN")
            moved = storage_ptr(value) != self.before.get(check.get("name", ""))
            if check.get("storage") == "unchanged" and moved:
                problems.append(f"{label}: storage changed")
            if check.get("separate_from"):
                other = resolve(self.ns, check["separate_from"])
                if storage_ptr(value) == storage_ptr(other):
                    problems.append(f"{label}: shares memory with {check['separate_from']}")
            if check.get("nonconstant") and is_constant(value):
                problems.append(f"{label}: constant")
        return problems


def main() -> None:
    report = {}
    for ex in json.load(sys.stdin):
        if ex["queue"] == "gpu" and not torch.cuda.is_available():
            report[ex["slug"]] = {"skipped": "needs a GPU"}
            continue
        ref = Run(ex, ex["solution"])
        again = Run(ex, ex["solution"])
        starter = Run(ex, ex["starter"])
        entry: dict[str, Any] = {
            "solution_error": ref.error,
            "solution_problems": ref.own_problems(ex),
            "defined": {},
            "nondeterministic": [],
            "starter_error": starter.error,
            "starter_failures": [],
        }
        for i, check in enumerate(ex["checks"]):
            label = check.get("name") or check.get("call") or check.get("assert_")
            if check.get("name"):
                entry["defined"][check["name"]] = ref.results.get(i, MISSING) is not MISSING
            values = check.get("values", True)
            if check.get("name") or check.get("call"):
                if values and not same(again.results.get(i), ref.results.get(i)):
                    entry["nondeterministic"].append(label)
                if not same(starter.results.get(i), ref.results.get(i), values):
                    entry["starter_failures"].append(label)
        entry["starter_failures"] += starter.own_problems(ex)
        report[ex["slug"]] = entry
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
