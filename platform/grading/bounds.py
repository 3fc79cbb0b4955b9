"""Bounds on what comes back from a sandbox run, applied on the trusted side.

Everything in an export's ``extra`` (the error record and its frames, the call records,
the run summary, the forbidden-call trace...) was written inside the run, where the
student's code can replace the harness and forge any of it: the harness's own size caps
do not count here. ``clean_extra`` rebuilds ``extra`` from scratch, keeping only the keys
the grader reads, each checked for its type and cut to its cap, so a forged dict where a
string belongs cannot crash the grader and a 15 MiB message cannot reach a verdict.

``cap_verdict`` is the last line: the verdict JSON the grader hands to the database is at
most ``VERDICT_MAX_BYTES``, its largest free-text fields cut first with a visible marker.

Plain Python, no torch: kept cheap and importable anywhere.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from typing import Any

VERDICT_MAX_BYTES = 256 * 1024  # serialized (ASCII-escaped, as the database stores it)
CUT_MARK = "… cut …"

MAX_MESSAGE = 2_000  # an exception message (the harness's own cap)
MAX_FRAMES = 20  # frames of one traceback (the harness's own cap)
MAX_TEXT = 500  # a source line, a syntax error's text
MAX_NAME = 200  # a function, type, module or value name
MAX_SUGGESTIONS = 3
MAX_OPERANDS = 4
MAX_OPERAND_TEXT = 80
MAX_DIMS = 16
MAX_MODULES = 20
MAX_VIOLATIONS = 20
MAX_SUMMARY = 200  # one Run summary line
MAX_LINE = 10**6
MAX_COUNT = 10**9

_UNREADABLE = "(the error record could not be read)"
# Where a checked gradient came from (grading.harness._GradTracker).
GRAD_ORIGINS = frozenset({"backward", "replaced", "none", "missing"})


# --------------------------------------------------------------------------- scalars


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending with ``…`` when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _text(value: Any, limit: int, default: str = "") -> str:
    return cut(value, limit) if isinstance(value, str) else default


def _int(value: Any, low: int = 0, high: int = MAX_COUNT) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _texts(value: Any, count: int, limit: int) -> list[str]:
    if not isinstance(value, list):
        return []
    return [cut(v, limit) for v in value[:count] if isinstance(v, str)]


def _dims(value: Any) -> list[int] | None:
    if not isinstance(value, list) or len(value) > MAX_DIMS:
        return None
    dims = [_int(d, 0, 2**62) for d in value]
    return None if any(d is None for d in dims) else dims  # type: ignore[return-value]


# --------------------------------------------------------------------------- error records


def clean_record(rec: Any) -> dict[str, Any]:
    """An exception record with known keys only, each of the right type and within caps.

    Idempotent; a record the harness wrote comes out unchanged."""
    if not isinstance(rec, dict):
        rec = {"type": "Exception", "message": _UNREADABLE}
    out: dict[str, Any] = {
        "type": _text(rec.get("type"), MAX_NAME, "Exception") or "Exception",
        "module": _text(rec.get("module"), MAX_NAME),
        "message": _text(rec.get("message"), MAX_MESSAGE),
        "where": _text(rec.get("where"), 20),
        "frames": [],
        "modules": _texts(rec.get("modules"), MAX_MODULES, MAX_NAME),
        "facts": _clean_facts(rec.get("facts")),
    }
    line = _int(rec.get("line"), 0, MAX_LINE)
    if line is not None:
        out["line"] = line
    frames = rec.get("frames")
    if isinstance(frames, list):
        for f in frames[:MAX_FRAMES]:
            if isinstance(f, dict):
                out["frames"].append(
                    {
                        "line": _int(f.get("line"), 0, MAX_LINE),
                        "func": _text(f.get("func"), MAX_NAME),
                        "text": _text(f.get("text"), MAX_TEXT),
                    }
                )
    return out


def _clean_facts(facts: Any) -> dict[str, Any]:
    if not isinstance(facts, dict):
        return {}
    out: dict[str, Any] = {}
    for key in ("lineno", "offset"):
        if key in facts:
            out[key] = _int(facts[key], -MAX_LINE, MAX_LINE)
    for key, limit in (("text", MAX_TEXT), ("msg", MAX_TEXT), ("name", MAX_NAME),
                       ("obj_type", MAX_NAME)):  # fmt: skip
        if isinstance(facts.get(key), str):
            out[key] = cut(facts[key], limit)
    if "suggestions" in facts:
        out["suggestions"] = _texts(facts["suggestions"], MAX_SUGGESTIONS, MAX_NAME)
    operands = facts.get("operands")
    if isinstance(operands, list):
        kept = []
        for op in operands[:MAX_OPERANDS]:
            if not isinstance(op, dict):
                continue
            left, right = _dims(op.get("left_shape")), _dims(op.get("right_shape"))
            if left is None or right is None:
                continue
            kept.append(
                {
                    "op": _text(op.get("op"), 40),
                    "left": _text(op.get("left"), MAX_OPERAND_TEXT),
                    "right": _text(op.get("right"), MAX_OPERAND_TEXT),
                    "left_shape": left,
                    "right_shape": right,
                }
            )
        out["operands"] = kept
    return out


# --------------------------------------------------------------------------- extra


def clean_extra(
    extra: Any,
    *,
    calls: int,
    exports: Iterable[str] = (),
    snapshots: Iterable[str] = (),
    forbidden: Iterable[str] = (),
    train: Iterable[str] = (),
) -> dict[str, Any]:
    """The export's ``extra``, rebuilt with the keys the grader reads, checked and capped.

    ``calls``: the number of call checks (at most that many call records are kept);
    ``exports``/``snapshots``: the names the run was asked for (other summary or snapshot
    entries are dropped); ``forbidden``: the forbidden names (a reported violation of any
    other name is dropped: the run-time trace is advisory); ``train``: the names whose
    training record (``training``) is read."""
    if not isinstance(extra, dict):
        extra = {}
    out: dict[str, Any] = {"mode": _text(extra.get("mode"), 10), "error": None}
    if extra.get("error"):
        out["error"] = clean_record(extra["error"])
    harness_error = extra.get("harness_error")
    if harness_error:
        out["harness_error"] = _text(harness_error, MAX_MESSAGE, "(unreadable harness error)")
    if extra.get("setup_error"):
        out["setup_error"] = clean_record(extra["setup_error"])
    arg_errors = extra.get("arg_errors")
    if arg_errors:
        items = list(arg_errors.items())[:calls] if isinstance(arg_errors, dict) else []
        out["arg_errors"] = {cut(str(k), 20): clean_record(v) for k, v in items} or {
            "?": clean_record(None)
        }
    if extra.get("oversized") is True:
        out["oversized"] = True
    out["calls"] = _clean_calls(extra.get("calls"), calls)
    backward = _int(extra.get("backward_calls"))
    if backward is not None:
        out["backward_calls"] = backward
    origin = extra.get("grad_origin")
    if isinstance(origin, dict):
        out["grad_origin"] = {
            name: origin[name]
            for name in exports
            if name.endswith(".grad") and origin.get(name) in GRAD_ORIGINS
        }
    training = extra.get("training")
    if isinstance(training, dict):
        out["training"] = {}
        for name in train:
            rec = training.get(name)
            steps = _int(rec.get("steps")) if isinstance(rec, dict) else None
            updates = _int(rec.get("updates")) if isinstance(rec, dict) else None
            if steps is not None and updates is not None:
                out["training"][name] = {"steps": steps, "updates": updates}
    snaps = extra.get("snapshots")
    if isinstance(snaps, dict):
        out["snapshots"] = {
            name: _clean_snapshot(snaps[name]) for name in snapshots if name in snaps
        }
    out["violations"] = _clean_violations(extra.get("violations"), set(forbidden))
    summary = extra.get("summary")
    if isinstance(summary, dict):
        out["summary"] = {
            name: _text(summary[name], MAX_SUMMARY, "?") for name in exports if name in summary
        }
    return out


def _clean_calls(records: Any, count: int) -> list[dict[str, Any]]:
    if not isinstance(records, list):
        return []
    out: list[dict[str, Any]] = []
    for rec in records[:count]:
        if not isinstance(rec, dict):
            out.append({"skipped": True})  # unreadable: the call counts as not made
            continue
        clean: dict[str, Any] = {}
        if rec.get("skipped"):
            clean["skipped"] = True
        if rec.get("not_callable"):
            clean["not_callable"] = True
        if rec.get("error"):
            clean["error"] = clean_record(rec["error"])
        out.append(clean)
    return out


def _clean_snapshot(snap: Any) -> dict[str, int] | None:
    if not isinstance(snap, dict):
        return None
    data_ptr, storage_ptr = (
        _int(snap.get("data_ptr"), 0, 2**64),
        _int(snap.get("storage_ptr"), 0, 2**64),
    )
    if data_ptr is None or storage_ptr is None:
        return None
    return {"data_ptr": data_ptr, "storage_ptr": storage_ptr}


def _clean_violations(report: Any, forbidden: set[str]) -> list[dict[str, Any]]:
    if not isinstance(report, list):
        return []
    out: list[dict[str, Any]] = []
    for v in report[: MAX_VIOLATIONS * 10]:
        if isinstance(v, dict) and isinstance(v.get("name"), str) and v["name"] in forbidden:
            out.append({"name": v["name"], "line": _int(v.get("line"), 0, MAX_LINE)})
            if len(out) >= MAX_VIOLATIONS:
                break
    return out


# --------------------------------------------------------------------------- verdict cap


def _cost(value: Any) -> int:
    return len(json.dumps(value))


# Keys whose values name things (codes, outcomes): never cut, they are short anyway.
_PROTECTED = frozenset({"exercise", "outcome", "queue", "diagnostic", "diagnostics", "status"})


def _strings(node: Any) -> Iterator[tuple[Any, Any, str]]:
    """(container, key, text) for every string value inside a JSON-like structure."""
    if isinstance(node, dict):
        items: Iterable[tuple[Any, Any]] = ((k, v) for k, v in node.items() if k not in _PROTECTED)
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        if isinstance(value, str):
            yield node, key, value
        else:
            yield from _strings(value)


def _cut_to_cost(text: str, cost: int) -> str:
    """``text`` cut (with the marker) so that its JSON form costs at most ``cost`` bytes."""
    mark = ("\n" if "\n" in text else " ") + CUT_MARK
    budget = max(cost - _cost(mark) + 2, 0)  # + 2: the two strings share one pair of quotes
    full = _cost(text)
    keep = int(len(text) * budget / full) if full else 0
    while keep > 0 and _cost(text[:keep]) - 2 > budget - 2:
        keep = int(keep * 0.9)
    return text[:keep] + mark


def cap_verdict(data: dict[str, Any], max_bytes: int = VERDICT_MAX_BYTES) -> dict[str, Any]:
    """``data`` itself when its JSON fits ``max_bytes``; else a copy whose largest strings
    are cut (largest first, each with a visible "… cut …") until it fits, with
    ``"cut": true`` added. Keys and types are kept: it is still valid verdict JSON."""
    if _cost(data) <= max_bytes:
        return data
    data = copy.deepcopy(data)
    data["cut"] = True
    floor = _cost(" " + CUT_MARK) + 16  # strings this short are not worth cutting
    for _ in range(8):
        size = _cost(data)
        if size <= max_bytes:
            return data
        leaves = [(_cost(text), c, k, text) for c, k, text in _strings(data)]
        leaves = [leaf for leaf in leaves if leaf[0] > floor]
        if not leaves:
            break
        budget = max_bytes - (size - sum(leaf[0] for leaf in leaves))
        # The highest "water level": every string above it is cut down to it, so the
        # largest strings lose the most and the small ones keep their text.
        low, high = floor, max(leaf[0] for leaf in leaves)
        while low < high:
            mid = (low + high + 1) // 2
            if sum(min(leaf[0], mid) for leaf in leaves) <= budget:
                low = mid
            else:
                high = mid - 1
        level = max(low - 8, floor)  # a little room for the rounding of the cuts
        for cost, container, key, text in leaves:
            if cost > level:
                container[key] = _cut_to_cost(text, level)
    if _cost(data) > max_bytes:
        _drop_lists(data, max_bytes)
    return data


def _drop_lists(data: dict[str, Any], max_bytes: int) -> None:
    """Last resort (only a forged verdict gets here): empty the repeatable parts."""
    error = data.get("error")
    if isinstance(error, dict):
        error["frames"] = []
        error["traceback"] = CUT_MARK
    for key in ("names", "values"):
        if isinstance(data.get(key), dict):
            data[key] = {}
    checks = data.get("checks")
    if isinstance(checks, list):
        for check in checks:
            if isinstance(check, dict):
                for key in ("expected", "actual"):
                    check.pop(key, None)
                check["messages"] = {}
                check["message"] = CUT_MARK
        while checks and _cost(data) > max_bytes:
            checks.pop()
    if _cost(data) > max_bytes:
        data["stdout"] = CUT_MARK
