"""What a run sends back is hostile: the grader checks and caps it on the trusted side.

The forged exports here are written the way a student's code can write them: the cell
replaces the harness's answer with its own bytes (in the fake pool, the result file; in
the real sandbox, the result pipe) and exits before the harness does.
"""

from __future__ import annotations

import json

import pytest
from fakepool import make_spec

from grading import bounds, grader, wire
from grading.diagnostics import classify_error, error_view
from grading.spec import CheckSpec

SETUP = "import torch\nimport torch.nn.functional as F\n"
SOLUTION = "c = torch.arange(6).reshape(2, 3)\n"
SPEC = make_spec(SETUP, SOLUTION, CheckSpec(name="c"), slug="untrusted-export")


def forged(extra: str, values: str = "{}") -> str:
    """Cell code that answers with an export of its own (``extra``/``values``: Python
    expressions, evaluated in the cell) instead of the harness's."""
    return (
        "import os, json, struct\n"
        f"extra = {extra}\n"
        f"values = {values}\n"
        "doc = json.dumps({'v': 1, 'values': values, 'extra': extra}).encode()\n"
        "open('.res', 'wb').write(b'GRW1' + struct.pack('>I', len(doc)) + doc)\n"
        "os._exit(0)\n"
    )


def verdict_bytes(verdict: grader.Verdict) -> int:
    return len(json.dumps(verdict.to_dict()))  # ASCII-escaped: what the database stores


# ---------------------------------------------------------------- verdict bloat


# A 400-byte submission: a 6 MB message, 9000 frames, 9000 module names and suggestions.
BLOAT = forged(
    "{'error': {'type': 'T' * 9999, 'message': 'x' * 6_000_000, 'line': 3,"
    " 'frames': [{'line': 1, 'func': 'f' * 300, 'text': 't' * 400}] * 9000,"
    " 'modules': ['m' * 99] * 9000, 'facts': {'suggestions': ['s' * 99] * 9000}}}"
)


def test_a_forged_result_frame_cannot_bloat_the_verdict(pool):
    assert len(BLOAT.encode()) < 600
    verdict = grader.grade(SPEC, BLOAT, pool=pool)
    assert verdict.outcome == "error"
    data = verdict.to_dict()
    assert verdict_bytes(verdict) <= bounds.VERDICT_MAX_BYTES
    error = data["error"]
    assert len(error["message"]) <= bounds.MAX_MESSAGE
    assert len(error["type"]) <= bounds.MAX_NAME
    assert len(error["frames"]) <= bounds.MAX_FRAMES
    assert all(len(f["text"]) <= bounds.MAX_TEXT for f in error["frames"])
    assert len(json.dumps(error)) < 32 * 1024  # the record's caps alone keep it small


def test_the_same_bloat_without_the_caps_is_megabytes():
    # What the grader used to store: the record as the run wrote it. Shows the test above
    # measures something (and what clean_record saves).
    rec = {"type": "T", "message": "x" * 6_000_000, "frames": [{"text": "t" * 400}] * 9000}
    raw = json.dumps({"message": rec["message"], "frames": rec["frames"]})
    assert len(raw) > 9 * 2**20
    assert len(json.dumps(error_view(rec))) < 32 * 1024


@pytest.mark.parametrize(
    "extra",
    [
        "{'error': {'type': {'a': 1}, 'message': ['x'] * 10, 'line': 'ten', 'frames': 'junk'}}",
        "{'error': {'frames': [1, 'a', None, {'line': {'x': 1}, 'func': 5, 'text': []}]}}",
        "{'error': {'facts': {'operands': [{'left_shape': 'x'}, 5, {'left': 1}], "
        "'suggestions': 'abc', 'name': 5, 'lineno': 'x'}, 'modules': 'pandas'}}",
        "{'error': 'just a string'}",
        "{'error': [1, 2, 3]}",
        "{'error': {'type': 'RuntimeError', 'message': 'The size of tensor a (3) must match the"
        " size of tensor b (2) at non-singleton dimension 1', 'facts': {'operands':"
        " [{'left': 'a', 'right': 'b', 'left_shape': [2, 3], 'right_shape': 'x'}]}}}",
        "{'error': None, 'calls': 'junk', 'snapshots': [1], 'backward_calls': 'x',"
        " 'violations': {'a': 1}, 'summary': 5, 'oversized': 'yes'}",
        "['not', 'a', 'dict']",
    ],
)
def test_forged_fields_of_the_wrong_type_do_not_crash_the_grader(pool, extra):
    verdict = grader.grade(SPEC, forged(extra), pool=pool)
    assert verdict.outcome in ("error", "failed"), verdict.to_dict()
    json.dumps(verdict.to_dict())


def test_forged_call_records_do_not_crash_the_grader(pool):
    spec = make_spec(
        SETUP,
        "def double(t):\n    return 2 * t\n",
        CheckSpec(call="double", args=("torch.ones(2)",)),
        CheckSpec(call="double", args=("torch.zeros(2)",)),
        slug="untrusted-calls",
    )
    for calls in ("[5, 'x']", "[{'error': 'text'}, {'error': {'message': 9}}]", "'junk'"):
        verdict = grader.grade(spec, forged(f"{{'calls': {calls}}}"), pool=pool)
        assert verdict.outcome == "failed", verdict.to_dict()
        assert not any(c.passed for c in verdict.checks)


def test_forged_run_summary_is_limited_to_the_exported_names(pool):
    code = forged("{'summary': {**{f'n{i}': 'v' * 10_000 for i in range(1000)}, 'c': 'z' * 9999}}")
    view = grader.run_cell(SPEC, code, pool=pool)
    assert set(view.names) == {"c"} and len(view.names["c"]) <= bounds.MAX_SUMMARY
    assert len(json.dumps(view.to_dict())) <= bounds.VERDICT_MAX_BYTES


def test_a_large_honest_output_is_cut_to_the_cap(pool):
    spec = make_spec(
        SETUP, SOLUTION, CheckSpec(name="c"), slug="big-output",
        limits={"output_bytes": 1024 * 1024},
    )  # fmt: skip
    verdict = grader.grade(spec, SOLUTION + "print('中' * 300_000)\n", pool=pool)
    assert verdict.outcome == "passed" and verdict.score == 1.0
    data = verdict.to_dict()
    assert len(json.dumps(data)) <= bounds.VERDICT_MAX_BYTES
    assert data["cut"] is True and data["stdout"].endswith(bounds.CUT_MARK)
    assert data["checks"] == [c.to_dict() for c in verdict.checks]  # the checks are intact


def test_normal_verdicts_are_unchanged(pool):
    for code in (SOLUTION, "c = torch.zeros(2, 3)\n", "c = undefined_name\n"):
        verdict = grader.grade(SPEC, code, pool=pool)
        data = verdict.to_dict()
        assert "cut" not in data
        assert bounds.cap_verdict(data) is data


def test_honest_error_records_pass_the_cleaning_unchanged(pool):
    from grading.harness import main

    cases = [
        "y = undefined_name\n",
        "t = torch.ones(3)\nt.nump()\n",
        "a = torch.ones(2, 3)\nb = torch.ones(3, 2)\nc = a + b\n",
        "def f(:\n",
        "def g(n):\n    return g(n) if n else 1 / 0\ng(0)\n",
    ]
    for code in cases:
        payload = grader.build_payload(SPEC, code)
        rec = wire.decode(main(payload)).extra["error"]
        assert rec, code
        assert bounds.clean_record(rec) == {**rec, "module": rec.get("module", "")}, code
        assert classify_error(rec) == classify_error(bounds.clean_record(rec))


def test_cap_verdict_cuts_the_largest_text_first_and_keeps_the_shape():
    data = {
        "exercise": "e" * 100,
        "outcome": "error",
        "stdout": "a" * 400_000,
        "error": {"message": "b" * 100_000, "frames": [{"text": "short"}]},
        "checks": [{"name": "c", "message": "m" * 50}],
        "diagnostics": ["missing-name"],
    }
    out = bounds.cap_verdict(data)
    assert out is not data and data["stdout"] == "a" * 400_000  # the input is not changed
    assert len(json.dumps(out)) <= bounds.VERDICT_MAX_BYTES
    assert set(out) == {*data, "cut"} and out["cut"] is True
    assert out["stdout"].endswith(" " + bounds.CUT_MARK) and len(out["stdout"]) < 200_000
    assert out["error"]["message"] == "b" * 100_000  # smaller: kept whole
    assert out["exercise"] == data["exercise"] and out["checks"] == data["checks"]
    assert bounds.cap_verdict(out) is out  # idempotent


def test_cap_verdict_handles_many_wide_texts_and_tiny_caps():
    data = {"outcome": "failed", "checks": [{"message": "中" * 5_000} for _ in range(300)]}
    out = bounds.cap_verdict(data)
    assert len(json.dumps(out)) <= bounds.VERDICT_MAX_BYTES
    assert len(out["checks"]) == 300 and all(
        c["message"].endswith(bounds.CUT_MARK) for c in out["checks"]
    )
    tiny = bounds.cap_verdict(data, max_bytes=2_000)
    assert len(json.dumps(tiny)) <= 2_000 and tiny["outcome"] == "failed"


# ---------------------------------------------------------------- forbidden calls


FORBIDDEN_SPEC = make_spec(
    "import torch\nx = torch.tensor([[1.0, 2.0, 3.0]])\n",
    "e = torch.exp(x)\np = e / e.sum(dim=1, keepdim=True)\n",
    CheckSpec(name="p", atol=1e-6),
    forbidden=("torch.softmax",),
    slug="forbidden-trust",
)
PASSING_VALUES = "{'p': {'t': 'list', 'items': []}}"  # replaced below with an honest encoding


def test_forged_empty_violations_cannot_hide_a_static_violation(pool):
    code = "p = torch.softmax(x, dim=1)\n" + forged(
        "{'error': None, 'violations': []}", "{}"
    ).replace("import os", "import os  # forge a clean report")
    runs = pool.runs
    verdict = grader.grade(FORBIDDEN_SPEC, code, pool=pool)
    assert verdict.outcome == "rejected" and verdict.score == 0
    assert all(c.diagnostic == "forbidden-call" for c in verdict.checks)
    assert pool.runs == runs  # refused before anything ran: the run had no say


def test_the_runtime_trace_only_lowers_a_score(pool):
    honest = "e = torch.exp(x)\np = e / e.sum(dim=1, keepdim=True)\n"
    assert grader.grade(FORBIDDEN_SPEC, honest, pool=pool).outcome == "passed"
    # A call the static check misses: the harness's trace catches it and takes the points.
    sneaky = "p = getattr(torch, 'soft' + 'max')(x, dim=1)\n"
    verdict = grader.grade(FORBIDDEN_SPEC, sneaky, pool=pool)
    assert verdict.outcome == "failed" and verdict.score == 0
    assert verdict.checks[0].diagnostic == "forbidden-call"


def _with_values(code: str, extra: str) -> str:
    """A correct answer, exported honestly with wire.encode, plus a forged ``extra``."""
    return code + (
        "import os, grading.wire as w\n"
        f"open('.res', 'wb').write(w.encode({{'p': p}}, {extra}))\n"
        "os._exit(0)\n"
    )


@pytest.mark.parametrize(
    "violations",
    [
        "'junk'",
        "[1, 2, None]",
        "{'name': 'torch.softmax'}",
        "[{'name': {'x': 1}, 'line': 'one'}]",
        "[{'name': 'x' * 1000, 'line': 10 ** 30}] * 10_000",
        "[{'name': 'os.system', 'line': 1}]",  # not a forbidden name: ignored
    ],
)
def test_forged_violation_reports_cannot_crash_or_raise_a_score(pool, violations):
    honest = "e = torch.exp(x)\np = e / e.sum(dim=1, keepdim=True)\n"
    verdict = grader.grade(
        FORBIDDEN_SPEC, _with_values(honest, f"{{'error': None, 'violations': {violations}}}"),
        pool=pool,
    )  # fmt: skip
    assert verdict.outcome == "passed", verdict.to_dict()  # a correct answer keeps its points
    assert verdict_bytes(verdict) < 16 * 1024


def test_a_forged_violation_of_a_forbidden_name_only_lowers(pool):
    honest = "e = torch.exp(x)\np = e / e.sum(dim=1, keepdim=True)\n"
    extra = "{'error': None, 'violations': [{'name': 'torch.softmax', 'line': 2}]}"
    verdict = grader.grade(FORBIDDEN_SPEC, _with_values(honest, extra), pool=pool)
    assert verdict.outcome == "failed" and verdict.score == 0
    wrong = "p = x\n"
    verdict = grader.grade(FORBIDDEN_SPEC, _with_values(wrong, "{'violations': []}"), pool=pool)
    assert verdict.outcome == "failed" and verdict.score == 0  # an empty trace adds nothing


# ---------------------------------------------------------------- limits


def test_the_grader_clamps_limits_above_the_server_maxima():
    from grading.limits import DEFAULT_MAX_LIMITS

    spec = make_spec(
        SETUP, SOLUTION, CheckSpec(name="c"), slug="huge-limits",
        limits={"memory_bytes": 2**40, "wall_seconds": 10**6, "cpu_seconds": 2},
    )  # fmt: skip
    job = grader._job(spec, b"{}")
    assert job.limits.memory_bytes == DEFAULT_MAX_LIMITS["memory_bytes"]
    assert job.limits.wall_seconds == DEFAULT_MAX_LIMITS["wall_seconds"]
    assert job.limits.cpu_seconds == 2  # within its maximum: kept
