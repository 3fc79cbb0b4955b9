"""One check of an exercise against the reference: the student's decoded export and the
reference's, compared on the trusted side into a ``CheckResult`` (points, diagnostic,
bilingual message, the side-by-side values of a visible failed check).

``grading.grader`` runs the pipeline (refuse, run, decode) and calls ``run_check`` per check.
"""

from __future__ import annotations

from typing import Any

import torch

from grading import compare as cmp
from grading import display, models_rebuild, safe_expr, wire
from grading.diagnostics import classify_error, setup_seed
from grading.messages import render
from grading.spec import CheckSpec, ExerciseSpec
from grading.verdict import CheckResult


class ReferenceError_(RuntimeError):
    """The reference solution did not run cleanly: the exercise is broken, not the student."""


class BrokenExercise(ReferenceError_):
    """The exercise itself is unusable (an assert the safe evaluator refuses)."""


def _options(
    check: CheckSpec, before: Any = None, backward_calls: int | None = None
) -> cmp.Options:
    is_grad = bool(check.name and check.name.endswith(".grad"))
    return cmp.Options(
        rtol=check.rtol,
        atol=check.atol,
        values=check.values,
        nonconstant=check.nonconstant,
        grad=is_grad,
        before=before,
        backward_calls=backward_calls,
    )


def _call_index(spec: ExerciseSpec, i: int) -> int:
    return sum(1 for c in spec.checks[:i] if c.call)


def run_check(
    spec: ExerciseSpec, check: CheckSpec, i: int, ref: wire.Decoded, got: wire.Decoded
) -> CheckResult:
    label = check.display
    base = check.name.rsplit(".", 1)[0] if check.name and "." in check.name else (check.name or "")
    facts: dict[str, Any] = {"name": label, "base": base}
    if check.name:
        before = got.values.get("before:" + check.name)
        exp = ref.values.get(check.name, wire.MissingValue("name", check.name))
        act = got.values.get(check.name, wire.MissingValue("name", check.name))
        calls = got.extra.get("backward_calls")
        calls = calls if isinstance(calls, int) and not isinstance(calls, bool) else None
        finding = cmp.compare(exp, act, _options(check, before, calls))
        if finding.passed and check.name.endswith(".grad"):
            # Right numbers are not enough: autograd must have written them (harness record).
            finding = cmp.grad_origin(act, (got.extra.get("grad_origin") or {}).get(check.name))
        if finding.passed and check.trained:
            record = (got.extra.get("training") or {}).get(check.name)
            init = got.values.get("init:" + check.name)
            finding = cmp.trained(act, init, record, check.trained, check.moved)
        if finding.passed and check.storage == "unchanged":
            snaps = got.extra.get("snapshots") or {}
            finding = cmp.storage_unchanged(act, snaps.get(check.name))
        if finding.passed and check.separate_from:
            other = got.values.get(check.separate_from)
            finding = cmp.separate_storage(act, other, check.separate_from)
    elif check.call:
        finding = _call_finding(spec, check, _call_index(spec, i), ref, got, facts)
    elif check.heldout or check.structure or check.losses or check.mode:
        finding = _training_finding(check, ref, got, facts)
    elif check.assert_:
        finding = _assert_finding(check, got)
    else:
        finding = cmp.fail(None, "bad-check")
    path = finding.facts.get("path", "")
    # A part of the value (a list item, a module parameter) is named by the checked name.
    shown = f"{check.name or label}{path}" if path else label
    trained_model = check.structure or check.losses or check.heldout or check.mode
    if trained_model and trained_model.isidentifier():
        shown = trained_model  # messages name the model or list, not the check's label
    all_facts = {**facts, **finding.facts, "name": shown}
    if finding.facts.get("variant") == "parameter":
        all_facts["seed"] = setup_seed(spec.setup, spec.run_seed)
    if finding.passed:
        return CheckResult(label, True, check.points, check.points, None,
                           render("passed", all_facts), check.hidden)  # fmt: skip
    if check.message and not check.hidden:
        messages = {lang: check.message.get(lang, check.message.get("en", "")) for lang in
                    ("en", "zh-hans")}  # fmt: skip
    elif finding.facts.get("kind") == "error":
        messages = render(finding.diagnostic or "error", all_facts, hidden=check.hidden)
    else:
        messages = render(finding.diagnostic or "error", all_facts, hidden=check.hidden)
    result = CheckResult(
        label, False, 0.0, check.points, finding.diagnostic, messages, check.hidden
    )
    result.facts = all_facts  # for diagnostics.annotate (not in the verdict JSON)
    if not check.hidden:
        result.expected, result.actual = _side_by_side(spec, check, i, ref, got, finding)
    return result


# Failures where the values are not the problem (memory identity): showing two equal
# values side by side would only confuse.
_NO_VALUES = frozenset(
    {"not-in-place", "shares-memory", "forbidden-call", "grad-not-from-backward", "not-trained",
     "heldout-accuracy", "model-unsupported", "structure-mismatch",
     "model-mode"}
)


def _side_by_side(
    spec: ExerciseSpec,
    check: CheckSpec,
    i: int,
    ref: wire.Decoded,
    got: wire.Decoded,
    finding: cmp.Finding,
) -> tuple[str | None, str | None]:
    """Display strings of the expected and actual values of a failed visible check.

    Formats decoded data only (``grading.display``), never a student object."""
    if check.hidden or finding.diagnostic in _NO_VALUES:
        return None, None
    if finding.facts.get("variant") == "parent-none":  # X.device.type while X is None
        return None, None
    if check.name:
        missing = wire.MissingValue("name", check.name)
        act = got.values.get(check.name, missing)
        return _expected(ref, check.name, check.values, missing), display.preview(act)
    if check.call:
        k = _call_index(spec, i)
        calls = got.extra.get("calls") or []
        rec = calls[k] if k < len(calls) else {}
        expected = _expected(ref, f"call:{k}", check.values, None)
        if rec.get("error"):
            return expected, None  # it raised: the message says what; there is no value
        if rec.get("skipped"):
            return expected, display.preview(wire.MissingValue("name", check.call))
        return expected, display.preview(got.values.get(f"call:{k}"))
    if check.losses:
        return None, display.preview(got.values.get(check.losses, wire.MissingValue("name", "")))
    if check.assert_:
        # The condition is the instructor's: show only what the student's names hold.
        shown = [n for n in check.uses if n in got.values]
        if not shown:
            return None, None
        if len(shown) == 1:
            return None, display.preview(got.values[shown[0]])
        limit = max(display.LIMIT // len(shown), 120)
        parts = [f"{n} =\n{display.preview(got.values[n], limit=limit)}" for n in shown]
        return None, "\n\n".join(parts)
    return None, None


def _expected(ref: wire.Decoded, key: str, values: bool, default: Any) -> str:
    """The reference's value of ``key`` as displayed: the same for every submission, and
    torch's repr of even a small tensor costs a fraction of a millisecond, so it is kept
    with the cached reference (``grader.reference``)."""
    memo_key = ("preview", key, values)
    shown = ref.derived.get(memo_key)
    if shown is None:
        value = ref.values.get(key, default)
        shown = ref.derived[memo_key] = display.preview(value, values=values)
    return shown


def _call_finding(
    spec: ExerciseSpec,
    check: CheckSpec,
    k: int,
    ref: wire.Decoded,
    got: wire.Decoded,
    facts: dict[str, Any],
) -> cmp.Finding:
    calls = got.extra.get("calls") or []
    rec = calls[k] if k < len(calls) else {}
    facts["function"] = check.call
    result = got.values.get(f"call:{k}")
    if rec.get("skipped"):
        return cmp.fail("missing-name", "function", function=check.call)
    if rec.get("not_callable"):
        return cmp.fail(
            "wrong-type", "not-callable", function=check.call, actual_type=cmp.type_name(result)
        )
    if rec.get("error"):
        code, efacts = classify_error(rec["error"])
        variant = efacts.get("variant", "")
        if code is None:
            return cmp.Finding(False, None, {**efacts, "variant": "call", "kind": "error"})
        return cmp.Finding(False, code, {**efacts, "variant": variant, "kind": "error"})
    return cmp.compare(ref.values.get(f"call:{k}"), result, _options(check))


def _training_finding(
    check: CheckSpec, ref: wire.Decoded, got: wire.Decoded, facts: dict[str, Any]
) -> cmp.Finding:
    """Held-out accuracy, model structure, loss curve or mode (``grading.models_rebuild``)."""
    missing = wire.MissingValue("name", "")
    if check.heldout:
        if not check.heldout_data:
            raise BrokenExercise(f"check {check.display!r} has no held-out data")
        try:
            return models_rebuild.heldout_finding(
                check.heldout, check.uses, check.heldout_data, check.accuracy, got
            )
        except safe_expr.UnsafeExpression as exc:
            raise BrokenExercise(f"formula of {check.display!r} refused: {exc}") from None
    if check.structure:
        facts["name"] = check.structure
        try:
            models_rebuild.layers_of(ref.values.get(check.structure, missing))
        except models_rebuild.ModelError as exc:
            raise BrokenExercise(f"the reference's {check.structure!r}: {exc.facts}") from None
        return models_rebuild.structure_finding(
            ref.values[check.structure], got.values.get(check.structure, missing)
        )
    if check.mode:
        return models_rebuild.mode_finding(
            check.mode, got.values.get(check.mode, missing), check.expect
        )
    name = check.losses or ""
    return models_rebuild.loss_finding(name, got.values.get(name, missing), check.below)


def check_asserts(spec: ExerciseSpec) -> None:
    """Refuse an exercise whose asserts the safe evaluator would not run (before any run:
    the loader refuses them too, but a stored exercise may predate that rule)."""
    for check in spec.checks:
        if check.assert_:
            try:
                safe_expr.validate(check.assert_, check.uses)
            except safe_expr.UnsafeExpression as exc:
                raise BrokenExercise(f"assert check {check.display!r} refused: {exc}") from None


def _assert_finding(check: CheckSpec, got: wire.Decoded) -> cmp.Finding:
    """Evaluate an instructor's expression over the student's decoded data.

    With ``grading.safe_expr`` only (no ``eval``, no builtins): the names in ``uses``,
    literals, operators and a short list of torch/math/numpy functions and methods."""
    env: dict[str, Any] = {}
    for name in check.uses:
        value = got.values.get(name)
        if isinstance(value, wire.MissingValue) or name not in got.values:
            return cmp.fail("missing-name", "name", name=name)
        env[name] = value
    try:
        with torch.no_grad():
            ok = safe_expr.evaluate(check.assert_ or "False", check.uses, env)
        if isinstance(ok, torch.Tensor):
            ok = bool(ok.all())
        ok = bool(ok)
    except safe_expr.UnsafeExpression as exc:
        raise BrokenExercise(f"assert check {check.display!r} refused: {exc}") from None
    except Exception as exc:
        return cmp.fail("wrong-value", "assert", detail=f"{type(exc).__name__}: {exc}"[:200])
    if ok:
        return cmp.Finding.ok()
    return cmp.fail("wrong-value", "assert", detail="the condition is false")
