"""Grade a submission: sandbox run → export → trusted comparison → Verdict.

``grade(spec, code, pool=...)`` is the Submit path; ``run_cell`` the Run path (no checks).
The reference solution goes through the very same pipeline; its decoded export is cached
per (slug, grading fingerprint, device) in this process.
"""

from __future__ import annotations

import ast
import json
import threading
import time
from typing import TYPE_CHECKING, Any

from grading import bounds, checks, display, scoring, wire
from grading import forbidden as forbid
from grading import limits as server_limits
from grading.checks import BrokenExercise, ReferenceError_  # noqa: F401 - re-exported
from grading.code import check_code
from grading.diagnostics import annotate, error_view
from grading.messages import LIMITS, limit_message, render, run_end_message
from grading.pool import Pool
from grading.spec import ExerciseSpec
from grading.verdict import CheckResult, RunView, Verdict

if TYPE_CHECKING:
    from sandbox import Job, RunReport


# --------------------------------------------------------------------------- payload


def export_names(spec: ExerciseSpec) -> tuple[list[str], list[str]]:
    """Names to export after the cell, and names whose storage is snapshot before it."""
    names: list[str] = []
    snapshot: list[str] = []
    for c in spec.checks:
        if c.name:
            names.append(c.name)
            if c.storage == "unchanged":
                snapshot.append(c.name)
            if c.separate_from:
                names.append(c.separate_from)
        names.extend(c.uses)
        # Training checks export the model or loss list (a formula's names are in uses).
        for target in (c.structure, c.losses, c.heldout, c.mode):
            if target and target.isidentifier():
                names.append(target)
    return list(dict.fromkeys(names)), list(dict.fromkeys(snapshot))


def build_payload(spec: ExerciseSpec, code: str, mode: str = "submit") -> bytes:
    names, snapshot = export_names(spec)
    calls = [
        {"func": c.call, "args": list(c.args), "hidden": c.hidden} for c in spec.checks if c.call
    ]
    doc = {
        "v": 1,
        "mode": mode,
        "seed": spec.run_seed,  # per variant (spec.for_variant)
        "setup": spec.run_setup,
        "code": code,
        "export": names,
        "snapshot": snapshot,
        "calls": calls,
        "forbidden": forbid.expand(list(spec.forbidden)) if spec.forbidden else [],
        "train": [c.name for c in spec.checks if c.name and c.trained],
    }
    return json.dumps(doc).encode("utf-8")


def _job(spec: ExerciseSpec, payload: bytes) -> Job:
    from sandbox import Job, Limits  # imported late: grading must load without the sandbox

    files = {k: v.encode("utf-8") if isinstance(v, str) else v for k, v in spec.files.items()}
    # The loader refuses limits above the server maxima; rows stored before that rule (or
    # edited by hand) are clamped here, so no exercise gets more than the server allows.
    wanted = server_limits.clamp(spec.limits or {})
    from_dict = getattr(Limits, "from_dict", None)
    limits = from_dict(wanted) if from_dict else Limits(**wanted)
    return Job(payload=payload, files=files, limits=limits)


# --------------------------------------------------------------------------- pre-checks


def _normalise(code: str | bytes) -> tuple[str | None, dict[str, str] | None]:
    """Return (code, None) or (None, rejection message): the one rule of grading.code."""
    text, problem = check_code(code)
    return text, (problem.messages if problem else None)


_OUTCOME_TEXT: dict[str, dict[str, str]] = {
    "forbidden": {
        "en": "The code uses {calls}, which this exercise does not allow.",
        "zh-hans": "代码使用了本练习不允许的 {calls}。",
    },
    "early-exit": {
        "en": "Your code ended the process before the checks could run.",
        "zh-hans": "代码在检查运行之前结束了进程。",
    },
    "unreadable": {
        "en": "The results of the run could not be read: {detail}.",
        "zh-hans": "无法读取运行结果：{detail}。",
    },
    "internal": {
        "en": "The grader failed ({detail}); this is not your fault and has been reported.",
        "zh-hans": "评分系统出错（{detail}）；这不是你的问题，已经记录。",
    },
}


def _msg(key: str, **facts: Any) -> dict[str, str]:
    from grading.messages import fill

    return {lang: fill(t, facts) for lang, t in _OUTCOME_TEXT[key].items()}


def _syntax_error(code: str) -> dict[str, Any] | None:
    try:
        ast.parse(code, filename="<cell>")
    except SyntaxError as exc:
        rec: dict[str, Any] = {
            "type": type(exc).__name__,
            "message": str(exc.msg),
            "line": exc.lineno,
            "frames": [],
            "facts": {
                "lineno": exc.lineno,
                "offset": exc.offset,
                "text": (exc.text or "").rstrip("\n"),
                "msg": exc.msg,
            },
        }
        return error_view(rec)
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. absurd nesting
        return {
            "type": type(exc).__name__,
            "message": str(exc)[:500],
            "line": None,
            "diagnostic": "syntax-error",
            "messages": render("syntax-error", {"line": "?", "msg": str(exc)[:200], "text": ""}),
        }
    return None


def _not_graded(spec: ExerciseSpec, code: str | None, facts: dict[str, Any]) -> list[CheckResult]:
    return [
        CheckResult(
            c.display, False, 0.0, c.points, code, render(code or "not-run", facts), c.hidden
        )
        for c in spec.checks
    ]


# --------------------------------------------------------------------------- decode


def decode_result(spec: ExerciseSpec, result: bytes) -> wire.Decoded:
    """Decode a run's export and rebuild its ``extra`` within bounds (``grading.bounds``).

    Raises ``wire.WireError`` for a malformed export. Everything the grader later reads
    from ``extra`` has been type-checked and capped here: the run could have forged it."""
    decoded = wire.decode(result)
    names, snapshot = export_names(spec)
    decoded.extra = bounds.clean_extra(
        decoded.extra,
        calls=sum(1 for c in spec.checks if c.call),
        exports=names,
        snapshots=snapshot,
        forbidden=forbid.expand(list(spec.forbidden)) if spec.forbidden else (),
        train=[c.name for c in spec.checks if c.name and c.trained],
    )
    return decoded


# --------------------------------------------------------------------------- reference cache

_CACHE: dict[tuple[str, str, str, int], wire.Decoded] = {}
_CACHE_LOCK = threading.Lock()


def reference_key(spec: ExerciseSpec, pool: Pool) -> tuple[str, str, str, int]:
    """One cached reference per exercise version, device and variant (each variant's setup
    draws other numbers, so its reference export is its own)."""
    version = str(getattr(spec, "version", "") or spec.grading_fingerprint())
    return (spec.slug, version, str(getattr(pool, "device", "cpu")), spec.variant)


def clear_reference_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def reference(spec: ExerciseSpec, pool: Pool) -> wire.Decoded:
    """Run (or fetch from cache) the reference solution's export."""
    key = reference_key(spec, pool)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    # Reference runs get warm parents of their own (`SandboxPool.reference_pool`), never a
    # student's: even a future bug in a parent cannot hand a student the reference.
    runner = pool.reference_pool() if hasattr(pool, "reference_pool") else pool
    report = runner.run(_job(spec, build_payload(spec, spec.solution)))
    if report.status != "ok" or report.result is None:
        raise ReferenceError_(f"reference run {report.status}: {report.message or report.output}")
    decoded = decode_result(spec, report.result)
    problem = (
        decoded.extra.get("harness_error")
        or decoded.extra.get("setup_error")
        or decoded.extra.get("arg_errors")
        or decoded.extra.get("error")
    )
    if problem:
        raise ReferenceError_(f"reference solution failed: {_short(problem)}")
    for i, rec in enumerate(decoded.extra.get("calls") or []):
        if rec.get("error") or rec.get("skipped") or rec.get("not_callable"):
            raise ReferenceError_(f"reference call #{i} failed: {_short(rec)}")
    with _CACHE_LOCK:
        _CACHE[key] = decoded
    return decoded


def _platform_fault(exc: BaseException) -> bool:
    """sandbox.SandboxError and subclasses (checked by module: no import of the sandbox)."""
    return any(c.__module__.split(".")[0] == "sandbox" for c in type(exc).__mro__)


def _short(x: Any) -> str:
    if isinstance(x, dict) and "type" in x:
        return f"{x.get('type')}: {x.get('message')}"[:500]
    return str(x)[:500]


# --------------------------------------------------------------------------- grade


def grade(spec: ExerciseSpec, code: str | bytes, *, pool: Pool) -> Verdict:
    """Grade ``code`` for ``spec`` with the sandbox ``pool``; never raises for student code."""
    t0 = time.monotonic()
    verdict = Verdict(exercise=spec.slug, outcome="internal_error", max_score=spec.max_score)
    verdict.queue = str(getattr(pool, "queue", None) or spec.queue)
    try:
        _grade(spec, code, pool, verdict)
    except ReferenceError_ as exc:
        verdict.outcome = "internal_error"
        verdict.message = _msg("internal", detail=str(exc))
        verdict.checks = _not_graded(spec, None, {})
    except Exception as exc:
        if _platform_fault(exc):
            raise  # the sandbox broke: let the worker retry the submission
        # A grader bug or a broken exercise: retrying cannot help, so report it.
        verdict.outcome = "internal_error"
        verdict.message = _msg("internal", detail=f"{type(exc).__name__}: {exc}"[:300])
    if not verdict.duration_ms:
        verdict.duration_ms = (time.monotonic() - t0) * 1000
    # The one score rule (grading/scoring.py): points count only if the cell ran to the end.
    scoring.withhold(verdict)
    return verdict


def _grade(spec: ExerciseSpec, raw_code: str | bytes, pool: Pool, verdict: Verdict) -> None:
    code, rejection = _normalise(raw_code)
    if code is None:
        verdict.outcome = "rejected"
        verdict.message = rejection
        verdict.checks = _not_graded(spec, None, {})
        return
    syntax = _syntax_error(code)
    if syntax is not None:
        verdict.outcome = "error"
        verdict.error = syntax
        verdict.checks = _not_graded(spec, None, {})
        return
    checks.check_asserts(spec)
    # The static check is the authoritative one: it runs here, on the trusted side, before
    # anything runs. The harness's run-time trace (below) can only take points away.
    violations = forbid.find(code, spec.forbidden, spec.setup) if spec.forbidden else []
    if violations:
        # Chosen: refuse before running (outcome "rejected"), each check fails with the
        # forbidden-call diagnostic so the student sees why nothing was graded.
        calls = ", ".join(dict.fromkeys(f"`{v.name}`" for v in violations))
        first = violations[0]
        verdict.outcome = "rejected"
        verdict.message = _msg("forbidden", calls=calls)
        facts = {"call": first.name, "line": first.line, "variant": "check"}
        verdict.checks = _not_graded(spec, "forbidden-call", facts)
        verdict.error = {
            "type": "ForbiddenCall",
            "message": f"{first.name} is not allowed in this exercise",
            "line": first.line,
            "diagnostic": "forbidden-call",
            "messages": render("forbidden-call", {"call": first.name, "line": first.line}),
        }
        return

    ref = reference(spec, pool)
    report = pool.run(_job(spec, build_payload(spec, code)))
    verdict.stdout = report.output or ""
    verdict.output_truncated = bool(report.output_truncated)
    verdict.duration_ms = float(report.duration_ms or 0.0)
    if report.status != "ok" or report.result is None:
        _limit_outcome(spec, report, verdict)
        return
    try:
        got = decode_result(spec, report.result)
    except wire.WireError as exc:
        verdict.outcome = "error"
        verdict.message = _msg("unreadable", detail=str(exc)[:200])
        verdict.checks = _not_graded(spec, None, {})
        return
    if got.extra.get("harness_error") or got.extra.get("setup_error"):
        raise RuntimeError(_short(got.extra.get("harness_error") or got.extra.get("setup_error")))
    if got.extra.get("oversized"):
        verdict.outcome = "output_limit"
        verdict.message = limit_message("oversized", {})
        verdict.checks = _not_graded(spec, None, {})
        return

    error = got.extra.get("error")
    if error:
        verdict.error = error_view(error)
    verdict.checks = [checks.run_check(spec, c, i, ref, got) for i, c in enumerate(spec.checks)]
    annotate(code, spec.checks, verdict.checks)  # notes only the code can tell (y_hat[:, y])
    if verdict.error and verdict.error.get("line"):
        # A name the cell never reached: say where it stopped, not only that it is missing.
        for c in verdict.checks:
            if c.diagnostic in ("missing-name", "grad-missing") and not c.hidden:
                note = render("stopped", {"line": verdict.error["line"]})
                c.messages = {k: f"{v} {note[k]}" for k, v in c.messages.items()}
    # The harness flags calls to forbidden functions that static analysis missed. Advisory:
    # the run could forge or empty this list, so it may only take points away (forbidden
    # names only, cleaned by bounds.clean_extra), never add any.
    runtime = got.extra.get("violations") or []
    if runtime:
        first = runtime[0]
        facts = {"call": first.get("name"), "line": first.get("line"), "variant": "check"}
        for c in verdict.checks:
            c.passed, c.points, c.diagnostic = False, 0.0, "forbidden-call"
            c.messages = render("forbidden-call", facts)
            c.expected = c.actual = None  # the values are not what is wrong
        if verdict.error is None:
            verdict.error = {
                "type": "ForbiddenCall",
                "message": f"{first.get('name')} is not allowed in this exercise",
                "line": first.get("line"),
                "diagnostic": "forbidden-call",
                "messages": render("forbidden-call", {**facts, "variant": ""}),
            }
    if error:
        verdict.outcome = "error"
    elif all(c.passed for c in verdict.checks):
        verdict.outcome = "passed"
    else:
        verdict.outcome = "failed"


def _limits(spec: ExerciseSpec) -> dict[str, Any]:
    """The run's limits as a dict (defaults filled in), to phrase a limit the report omits."""
    try:
        from sandbox import Limits

        return Limits.from_dict(spec.limits).to_dict()
    except Exception:  # no sandbox here (a stand-in pool) or odd limits: use what we have
        return dict(spec.limits or {})


def _limit_outcome(spec: ExerciseSpec, report: RunReport, verdict: Verdict) -> None:
    status = report.status
    reason = str(getattr(report, "reason", "") or "")
    # The sandbox's numbers, plus the report's own exit code / signal where detail lacks them.
    detail = dict(getattr(report, "detail", None) or {})
    if report.exit_code is not None:
        detail.setdefault("code", report.exit_code)
    if report.signal is not None:
        detail.setdefault("signal", report.signal)
    verdict.checks = _not_graded(spec, None, {})
    if status in ("timeout", "memory_limit", "output_limit"):
        verdict.outcome = status
        verdict.message = run_end_message(
            reason, detail, status=status, fallback=report.message, limits=_limits(spec)
        )
    elif status == "refused":
        verdict.outcome = "internal_error"
        verdict.message = limit_message(reason, detail) or _msg(
            "internal", detail=report.message or "sandbox refused to run"
        )
    elif status == "ok" and verdict.output_truncated and report.result is None:
        verdict.outcome = "output_limit"
        verdict.message = run_end_message("output", {}, status="output_limit", limits=_limits(spec))
    else:  # crashed, or returned nothing: the student's code ended the process
        if reason not in LIMITS:  # a report without a known reason: say what we can see
            reason = "exit" if "code" in detail else "signal"
        number = {"exit": "code", "signal": "signal"}.get(reason)
        message = limit_message(reason, detail, _limits(spec))
        if message is None or (number and detail.get(number) is None):
            message = _msg("early-exit")
        verdict.outcome = "error"
        verdict.message = message
        verdict.error = {
            "type": "EarlyExit",
            "message": bounds.cut(str(report.message or "the process ended early"), 2_000),
            "line": None,
            "diagnostic": None,
            "messages": verdict.message,
        }


# --------------------------------------------------------------------------- run (no grading)


def run_cell(spec: ExerciseSpec, code: str | bytes, *, pool: Pool) -> RunView:
    """Run setup + cell in the sandbox and report output/error, without grading."""
    view = RunView(exercise=spec.slug, outcome="internal_error")
    text, rejection = _normalise(code)
    if text is None:
        view.outcome, view.message = "rejected", rejection
        return view
    syntax = _syntax_error(text)
    if syntax is not None:
        view.outcome, view.error = "error", syntax
        return view
    try:
        report = pool.run(_job(spec, build_payload(spec, text, mode="run")))
    except Exception as exc:
        if _platform_fault(exc):
            raise
        view.message = _msg("internal", detail=f"{type(exc).__name__}: {exc}"[:300])
        return view
    view.stdout = report.output or ""
    view.output_truncated = bool(report.output_truncated)
    view.duration_ms = float(report.duration_ms or 0.0)
    if report.status != "ok" or report.result is None:
        tmp = Verdict(exercise=spec.slug, outcome="error")
        tmp.output_truncated = view.output_truncated
        _limit_outcome(spec, report, tmp)
        view.outcome, view.message, view.error = tmp.outcome, tmp.message, tmp.error
        return view
    try:
        got = decode_result(spec, report.result)
    except wire.WireError as exc:
        view.outcome, view.message = "error", _msg("unreadable", detail=str(exc)[:200])
        return view
    if got.extra.get("harness_error") or got.extra.get("setup_error"):
        view.message = _msg("internal", detail=_short(got.extra.get("harness_error") or
                                                      got.extra.get("setup_error")))  # fmt: skip
        return view
    summary = got.extra.get("summary") or {}  # exported names only, each line capped
    view.names = dict(summary)
    # Previews of the decoded values (plain data: no student __repr__ runs here); where
    # the values were dropped (an oversized export) the one-line summary stands in.
    view.values = {
        name: display.preview(got.values[name]) if name in got.values else view.names[name]
        for name in view.names
    }
    if got.extra.get("error"):
        view.outcome, view.error = "error", error_view(got.extra["error"])
    else:
        view.outcome = "ok"
    return view
