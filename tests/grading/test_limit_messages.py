"""Limit and early-exit messages are phrased from the sandbox's reason codes and numbers, in
English and Simplified Chinese (never the sandbox's English text in the Chinese message)."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from typing import Any

import pytest
from fakepool import make_spec

from grading import grader, messages
from grading.spec import CheckSpec
from sandbox import RunReport, SandboxPool

SETUP = "import torch\na = torch.arange(3).reshape((3, 1))\nb = torch.arange(2).reshape((1, 2))\n"
SOLUTION = "c = a + b\n"
SANDBOX_TEXT = "Sandbox English sentence that must not reach Chinese students"

# reason -> (status from the sandbox, outcome, detail, numbers both languages must show)
CASES: dict[str, tuple[str, str, dict[str, Any], list[str]]] = {
    "cpu_time": ("timeout", "timeout", {"limit": 2.5}, ["2.5"]),
    "wall_time": ("timeout", "timeout", {"limit": 7}, ["7"]),
    "memory": ("memory_limit", "memory_limit", {"limit": 1024 * 2**20}, ["1024 MiB"]),
    "gpu_memory": ("memory_limit", "memory_limit", {"limit": 0.5}, ["50%"]),
    "output": ("output_limit", "output_limit", {"limit": 64 * 2**10}, ["64 KiB"]),
    "result_size": ("output_limit", "output_limit", {"limit": 32 * 2**20}, ["32 MiB"]),
    "file_size": ("crashed", "error", {"limit": 8 * 2**20}, ["8 MiB"]),
    "signal": (
        "crashed", "error", {"signal": 11, "name": "SIGSEGV", "last_output": "hi"},
        ["11", "SIGSEGV"],
    ),
    "exit": ("crashed", "error", {"code": 3, "last_output": ""}, ["3"]),
    "system_exit": ("crashed", "error", {"code": "42"}, ["42"]),
    "harness_error": ("crashed", "error", {}, []),
    "unclean_exit": ("crashed", "error", {}, []),
    "malformed_result": ("crashed", "error", {}, []),
    "layer": ("refused", "internal_error", {"layer": "seccomp"}, ["seccomp"]),
}  # fmt: skip

# Code, file and unit names a Chinese sentence may quote; anything else in Latin letters
# that runs two words long is an English sentence.
ALLOWED = re.compile(r"exit\(\)|sys\.exit\(\)|input\(\)|time\.sleep|SystemExit")
ENGLISH = re.compile(r"[A-Za-z]{2,}[\s,;:]+[A-Za-z]{2,}")
MISSING = re.compile(r"(?<![A-Za-z)])\?")  # a fact that was not there renders as "?"
CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_chinese(text: str) -> None:
    assert CJK.search(text), text
    assert not ENGLISH.search(ALLOWED.sub("", text)), text
    assert SANDBOX_TEXT not in text


def report(status: str, reason: str = "", detail: dict[str, Any] | None = None,
           **kw: Any) -> RunReport:  # fmt: skip
    return RunReport(
        status=status,  # type: ignore[arg-type]
        result=None,
        output="partial output\n",
        output_truncated=reason == "output",
        duration_ms=12.0,
        exit_code=kw.get("exit_code"),
        signal=kw.get("signal"),
        message=SANDBOX_TEXT,
        reason=reason,
        detail=detail or {},
    )


class ScriptedPool:
    """The reference solution runs in the fake pool; the student's run gets ``student``."""

    device = "cpu"

    def __init__(self, real: Any, student: RunReport) -> None:
        self.real, self.student = real, student

    def run(self, job: Any) -> RunReport:
        if json.loads(job.payload)["code"] == SOLUTION:
            return self.real.run(job)
        return self.student


@pytest.mark.parametrize("reason", sorted(CASES))
def test_each_reason_is_phrased_in_both_languages(pool, reason):
    status, outcome, detail, numbers = CASES[reason]
    spec = make_spec(SETUP, SOLUTION, CheckSpec(name="c"), slug=f"limit-{reason}")
    student = report(status, reason, dict(detail))
    v = grader.grade(spec, "c = b + a\n", pool=ScriptedPool(pool, student)).to_dict()
    assert v["outcome"] == outcome and v["score"] == 0
    msg = v["message"]
    assert set(msg) == {"en", "zh-hans"}
    assert SANDBOX_TEXT not in msg["en"]
    assert not MISSING.search(msg["en"] + msg["zh-hans"]), msg
    assert_chinese(msg["zh-hans"])
    for number in numbers:
        assert number in msg["en"] and number in msg["zh-hans"], (number, msg)
    assert v["stdout"] == "partial output\n"
    if outcome == "error":  # an early end keeps its error record, messages included
        assert v["error"]["type"] == "EarlyExit" and v["error"]["message"] == SANDBOX_TEXT
        assert v["error"]["messages"] == msg
    # Run (no grading) shows the same message.
    view = grader.run_cell(spec, "c = b + a\n", pool=ScriptedPool(pool, student)).to_dict()
    assert view["outcome"] == outcome and view["message"] == msg


def test_specific_wording(pool):
    spec = make_spec(SETUP, SOLUTION, CheckSpec(name="c"), slug="limit-wording")
    cases = {
        ("timeout", "cpu_time", 5): (
            "Your code used more than 5 s of CPU time",
            "你的代码使用的 CPU 时间超过了 5 秒",
        ),
        ("memory_limit", "memory", 1024 * 2**20): (
            "more than 1024 MiB of memory",
            "内存超过了 1024 MiB",
        ),
        ("output_limit", "output", 1000): ("printed more than 1000 bytes", "输出超过了 1000 字节"),
    }
    for (status, reason, limit), (en, zh) in cases.items():
        pool_ = ScriptedPool(pool, report(status, reason, {"limit": limit}))
        msg = grader.grade(spec, "c = b + a\n", pool=pool_).message
        assert msg is not None and en in msg["en"] and zh in msg["zh-hans"], msg


def test_a_limit_missing_from_the_report_comes_from_the_exercise(pool):
    spec = make_spec(
        SETUP, SOLUTION, CheckSpec(name="c"), slug="limit-from-spec",
        limits={"cpu_seconds": 3, "output_bytes": 2048},
    )  # fmt: skip
    msg = grader.grade(spec, "c=a+b", pool=ScriptedPool(pool, report("timeout", "cpu_time")))
    assert msg.message and "3 s" in msg.message["en"] and "3 秒" in msg.message["zh-hans"]
    out = grader.grade(spec, "c=a+b", pool=ScriptedPool(pool, report("output_limit", "output")))
    assert out.message and "2 KiB" in out.message["en"] and "2 KiB" in out.message["zh-hans"]
    # default limits where the exercise sets none
    mem = grader.grade(spec, "c=a+b", pool=ScriptedPool(pool, report("memory_limit", "memory")))
    assert mem.message and "1024 MiB" in mem.message["zh-hans"]


def test_unknown_reason_falls_back_to_the_sandbox_text_in_english(pool):
    spec = make_spec(SETUP, SOLUTION, CheckSpec(name="c"), slug="limit-unknown")
    for status in ("timeout", "memory_limit", "output_limit"):
        pool_ = ScriptedPool(pool, report(status, "something_new", {"limit": 9}))
        v = grader.grade(spec, "c = b + a\n", pool=pool_)
        assert v.outcome == status and v.message is not None
        assert v.message["en"] == SANDBOX_TEXT
        assert_chinese(v.message["zh-hans"])


def test_early_end_without_a_reason_names_the_exit_code_or_signal(pool):
    spec = make_spec(SETUP, SOLUTION, CheckSpec(name="c"), slug="limit-noreason")
    v = grader.grade(spec, "c=a+b", pool=ScriptedPool(pool, report("crashed", exit_code=5)))
    assert v.outcome == "error" and v.message
    assert "exit code 5" in v.message["en"] and "退出码 5" in v.message["zh-hans"]
    v = grader.grade(spec, "c=a+b", pool=ScriptedPool(pool, report("crashed", signal=9)))
    assert v.message and "signal 9" in v.message["en"] and "信号 9" in v.message["zh-hans"]
    v = grader.grade(spec, "c=a+b", pool=ScriptedPool(pool, report("crashed")))
    assert v.message and "ended the process" in v.message["en"]
    assert_chinese(v.message["zh-hans"])


def test_real_early_exit_through_the_fake_pool_is_chinese_too(pool):
    # The stand-in pool reports no reason: the exit code still reaches both languages.
    spec = make_spec(SETUP, SOLUTION, CheckSpec(name="c"), slug="limit-os-exit")
    v = grader.grade(spec, "c = a + b\nimport os\nos._exit(3)\n", pool=pool)
    assert v.outcome == "error" and v.message
    assert "3" in v.message["en"] and "退出码 3" in v.message["zh-hans"]
    assert_chinese(v.message["zh-hans"])


def test_catalogue_templates_agree_across_languages():
    fields = string.Formatter()
    for reason, table in messages.LIMITS.items():
        assert set(table) == set(messages.LANGS), reason
        names = {lang: {f for _, f, _, _ in fields.parse(t) if f} for lang, t in table.items()}
        assert names["en"] == names["zh-hans"], reason
        assert_chinese(table["zh-hans"])


def test_bytes_are_formatted_per_language():
    assert messages.fmt_bytes(64 * 2**10) == "64 KiB"
    assert messages.fmt_bytes(1024 * 2**20) == "1024 MiB"
    assert messages.fmt_bytes(1.5 * 2**20) == "1.5 MiB"
    assert messages.fmt_bytes(500) == "500 bytes"
    assert messages.fmt_bytes(500, "zh-hans") == "500 字节"


# ---------------------------------------------------------------- the real sandbox


@pytest.fixture(scope="module")
def real_pool() -> Iterator[SandboxPool]:
    p = SandboxPool(strict=False)
    yield p
    p.close()


def test_endless_loop_in_the_real_sandbox_is_a_timeout_in_chinese(real_pool):
    spec = make_spec(
        SETUP, SOLUTION, CheckSpec(name="c"), slug="limit-real-loop",
        limits={"cpu_seconds": 1, "wall_seconds": 20},
    )  # fmt: skip
    v = grader.grade(spec, "while True:\n    pass\n", pool=real_pool).to_dict()
    assert v["outcome"] == "timeout", v
    msg = v["message"]
    assert "more than 1 s of CPU time" in msg["en"], msg
    assert "CPU 时间超过了 1 秒" in msg["zh-hans"], msg
    assert_chinese(msg["zh-hans"])
