"""No run may see another run (issue: the warm parent's heap once held the last jobs).

Sequences of real runs: student A's run carries a marker, then a reference solution runs,
then student B's runs hunt for both in their call stack, in every gc-tracked container and
in /proc/self/mem, and try to replay an export as their own result. B must find nothing
and must not pass. Positive controls prove the same hunt finds data that *is* reachable,
so a zero means absent, not a blind hunter."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from hunter import findings, hunter_code, marker, scan_process
from sbhelpers import assert_healthy, run

from sandbox import Job, Limits, SandboxPool

REPO = Path(__file__).resolve().parents[2]
HUNT_LIMITS = {"cpu_seconds": 30.0, "wall_seconds": 60.0}


def _zero(found: dict) -> bool:
    return all(v == 0 for where in found.values() for v in where.values())


def test_b_finds_nothing_of_a_or_a_reference_in_the_same_warm_parent(pool: SandboxPool) -> None:
    alice, ref = marker("ALICE"), marker("REFERENCE")
    a = run(pool, f"# {alice}\nsecret = {alice!r}\nprint(secret)\nRESULT = secret.encode() * 2",
            files={"data/alice.txt": alice.encode()})
    assert a.status == "ok" and alice in a.output and a.result == alice.encode() * 2
    r = run(pool, f"def solution():\n    return {ref!r}  # {ref}\nRESULT = solution().encode()")
    assert r.status == "ok" and r.result == ref.encode()
    for _ in range(3):  # every waiting child, including ones forked after A and the reference
        b = run(pool, hunter_code({"alice": alice, "reference": ref}), **HUNT_LIMITS)
        assert b.status == "ok", b
        report = findings(b.output)
        assert _zero(report["found"]), report
        assert report["scanned"] > 32 * 2**20, report  # it really read its whole heap
    assert_healthy(pool)


def test_the_hunt_finds_what_is_reachable(pool: SandboxPool) -> None:
    """Controls: a needle the run holds itself is found by each hunt, and a run can read
    its own job (its payload is in its memory: see docs/sandbox.md)."""
    planted, own = marker("PLANTED"), marker("OWN-PAYLOAD")
    code = f"# {own}\n" + hunter_code({"planted": planted, "own": own}, plant=planted.encode())
    rep = run(pool, code, **HUNT_LIMITS)
    assert rep.status == "ok", rep
    found = findings(rep.output)["found"]
    assert found["planted"]["stack"] >= 1 and found["planted"]["gc"] >= 1, found
    assert found["planted"]["mem"] >= 1, found
    assert found["own"]["mem"] >= 1, found


def test_warm_parent_memory_holds_no_job_data(pool: SandboxPool) -> None:
    """Scan the warm parent's writable memory from outside after runs whose payload,
    files, output and result carried a marker: the marker is nowhere."""
    secret = marker("JOBDATA")
    for i in range(3):
        rep = run(pool, f"# {secret}\nprint({secret!r})\nRESULT = {secret!r}.encode()",
                  files={f"f{i}.txt": secret.encode()})
        assert rep.status == "ok" and secret in rep.output
    rep = run(pool, f"# {secret}\nraise ValueError({secret!r})")  # a crash's traceback too
    assert rep.status == "crashed" and secret in rep.message + rep.output
    rep = run(pool, f"print({secret!r} * 100000)")  # an output breach
    assert rep.status == "output_limit"
    for wp in pool._all:
        counts, scanned = scan_process(wp.proc.pid, {"secret": secret, "config": "harness_echo"})
        assert counts["secret"] == 0, counts
        assert counts["config"] >= 1 and scanned > 32 * 2**20, (counts, scanned)  # control


def test_the_companion_holds_no_job_data_and_no_run_sees_another(pool: SandboxPool) -> None:
    """The companion's warm parents (pandas preloaded) pass the same scans: after runs
    whose code, output and result carried a marker, the marker is in none of them, and a
    later run there finds nothing of an earlier one."""
    secret = marker("PANDASJOB")
    for _ in range(2):
        rep = run(pool, f"import pandas as pd\n# {secret}\nprint({secret!r})\n"
                        f"RESULT = pd.Series([{secret!r}]).iloc[0].encode()")
        assert rep.status == "ok" and rep.result == secret.encode(), rep
    rep = run(pool, "import pandas\n" + hunter_code({"secret": secret}), **HUNT_LIMITS)
    assert rep.status == "ok", rep
    report = findings(rep.output)
    assert _zero(report["found"]) and report["scanned"] > 32 * 2**20, report
    companion = pool.companion()
    assert companion is not pool
    for wp in companion._all:
        counts, scanned = scan_process(wp.proc.pid, {"secret": secret, "config": "harness_echo"})
        assert counts["secret"] == 0, counts
        assert counts["config"] >= 1 and scanned > 32 * 2**20, (counts, scanned)


@pytest.fixture(scope="module")
def grading_pool() -> Iterator[SandboxPool]:
    p = SandboxPool(size=1, strict=True)  # the real harness: grading.harness:main
    p.wait_ready()
    yield p
    p.close()


def _softmax_spec(ref_marker: str):
    from courses.loader import load_course

    for lesson in load_course(REPO / "lessons"):
        for spec in lesson.exercises:
            if spec.slug == "softmax-function":
                return dataclasses.replace(
                    spec, solution=spec.solution + f"\n# {ref_marker}\n",
                    version=f"cross-run-{ref_marker}")
    raise AssertionError("softmax-function is not in lessons/")


def test_no_solution_replay_does_not_pass(grading_pool: SandboxPool) -> None:
    """The review's attack, end to end through the grader: A submits, the reference runs
    (in the reference pool *and*, as the worst case, in the students' pool), then B hunts
    and replays any export it finds. B finds nothing and scores 0; the control, which holds
    the reference's export itself, passes with the very same replay."""
    from grading import grader

    alice, ref = marker("ALICE"), marker("REFERENCE")
    spec = _softmax_spec(ref)
    grader.clear_reference_cache()
    a = grader.grade(spec, spec.solution.replace(ref, alice) + f"print({alice!r})\n",
                     pool=grading_pool).to_dict()
    assert a["outcome"] == "passed" and alice in a["stdout"], a
    worst = grading_pool.run(grader._job(spec, grader.build_payload(spec, spec.solution)))
    assert worst.status == "ok" and worst.result
    needles = {"alice": alice, "reference": ref,
               "ref-source": "X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)"}
    b = grader.grade(spec, hunter_code(needles, replay=True), pool=grading_pool).to_dict()
    report = findings(b["stdout"])
    assert _zero(report["found"]), report
    assert "REPLAYED" not in b["stdout"]
    assert b["outcome"] != "passed" and b["score"] == 0, b
    # Control: with the export in its own memory, the same replay is graded as a pass.
    c = grader.grade(spec, hunter_code({}, replay=True, plant=worst.result),
                     pool=grading_pool).to_dict()
    assert "REPLAYED" in c["stdout"] and c["outcome"] == "passed", c
    parents = [wp.proc.pid for wp in grading_pool._all]
    parents += [wp.proc.pid for wp in grading_pool.reference_pool()._all]
    for pid in parents:
        counts, _ = scan_process(pid, {"alice": alice, "reference": ref})
        assert counts == {"alice": 0, "reference": 0}, (pid, counts)


def test_reference_runs_never_share_a_warm_parent_with_students(
        grading_pool: SandboxPool) -> None:
    ref_pool = grading_pool.reference_pool()
    assert ref_pool is not grading_pool and ref_pool.reference_pool() is ref_pool
    students = {wp.proc.pid for wp in grading_pool._all}
    students |= {wp.proc.pid for wp in grading_pool.companion()._all}
    references = {wp.proc.pid for wp in ref_pool._all}
    assert students and references and not students & references
    rep = ref_pool.run(Job(payload=b"import grading", limits=Limits()))
    assert rep.status in ("ok", "crashed")  # it ran in its own parent, whatever it returned


def test_the_first_optimizer_is_primed_only_where_optim_is_named(
        grading_pool: SandboxPool) -> None:
    """The real harness: the students' warm parents skip `prime_on_demand` (torch._dynamo,
    ~70 MiB that every fork and exit would pay for); a job naming `optim` runs where it was
    primed, so its first optimizer costs no import on the student's clock."""
    from grading import grader

    spec = _softmax_spec(marker("OPTIM"))
    probe = "import sys\nprint('dynamo:', 'torch._dynamo' in sys.modules)\n"
    for code, primed in ((probe, False), (probe + "# optim\n", True)):
        rep = grading_pool.run(grader._job(spec, grader.build_payload(spec, code, mode="run")))
        assert rep.status == "ok", rep
        assert f"dynamo: {primed}" in rep.output, rep.output
