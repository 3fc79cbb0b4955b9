"""How a run ended, decided on the trusted side (the pool), from the bytes the pool read
itself and the facts the warm parent reports (exit status, limits hit, counters).

This used to live in the warm parent. It moved here because classifying needs the run's
output (the last lines go into crash messages) and the warm parent must never hold job
data: everything a warm parent ever held, its later children can read."""

from __future__ import annotations

import signal
from typing import Any

from sandbox import protocol
from sandbox.api import RunReport
from sandbox.protocol import FRAME

MARKER = "\n… output cut: the limit of {limit} was reached …\n"


def fmt_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1024
    return str(n)


def frame_complete(res: bytes | bytearray) -> bool:
    if len(res) < FRAME.size:
        return False
    _, size = FRAME.unpack(bytes(res[:FRAME.size]))
    return len(res) == FRAME.size + size


def last_lines(out: bytes, n: int = 8) -> str:
    text = out.decode("utf-8", "replace").rstrip("\n")
    return "\n".join(text.splitlines()[-n:])


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return "unknown"


def _num(facts: dict[str, Any], key: str) -> float | None:
    value = facts.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(facts: dict[str, Any], key: str) -> int | None:
    value = facts.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def classify(limits: dict[str, Any], out: bytes, res: bytes, *, out_over: bool,
             res_over: bool, facts: dict[str, Any]) -> RunReport:
    """Map how the run ended to a RunReport. `facts` come from the warm parent (timed_out,
    cpu_over, oom, exit_code, signal, cpu_ms, duration_ms, memory_peak_bytes, timings,
    refused); `out` and `res` are what the pool read from the run's pipes, already capped.
    `reason` is a stable code (with `detail`) for callers that phrase their own messages."""
    exit_code, sig = _int(facts, "exit_code"), _int(facts, "signal")
    cpu_ms = _num(facts, "cpu_ms")
    truncated = out_over
    if out_over:
        out += MARKER.format(limit=fmt_bytes(limits["output_bytes"])).encode()
    kind, body = None, b""
    if len(res) >= FRAME.size and not res_over:
        kind, size = FRAME.unpack(res[:FRAME.size])
        body = res[FRAME.size:]
        if size != len(body):
            kind = b"?"
    elif res:
        kind = b"?"
    cpu_limit = float(limits["cpu_seconds"])
    timings = facts.get("timings")

    def rep(status: str, reason: str, message: str = "", **detail: Any) -> RunReport:
        return RunReport(
            status=status,  # type: ignore[arg-type]
            result=body if status == "ok" else None,
            output=out.decode("utf-8", "replace"), output_truncated=truncated,
            duration_ms=_num(facts, "duration_ms") or 0.0, exit_code=exit_code, signal=sig,
            message=message, cpu_ms=cpu_ms, memory_peak_bytes=_int(facts, "memory_peak_bytes"),
            timings=timings if isinstance(timings, dict) else {}, reason=reason, detail=detail)

    if facts.get("refused"):
        text = str(facts["refused"])
        return rep("refused", "layer", text, layer=str(facts.get("layer") or ""))
    if out_over:
        return rep("output_limit", "output", (
            f"Your code printed more than {fmt_bytes(limits['output_bytes'])}; "
            "it was stopped and the output cut."), limit=limits["output_bytes"])
    if res_over:
        return rep("output_limit", "result_size", (
            f"The result is larger than {fmt_bytes(limits['result_bytes'])}."),
            limit=limits["result_bytes"])
    if facts.get("timed_out"):
        return rep("timeout", "wall_time", (
            f"Wall-clock time limit of {limits['wall_seconds']:g} s exceeded: the code "
            "was still running (an endless loop, or waiting on something?)."),
            limit=limits["wall_seconds"])
    if facts.get("cpu_over"):
        return rep("timeout", "cpu_time", f"CPU time limit of {cpu_limit:g} s exceeded.",
                   limit=cpu_limit)
    if kind == protocol.KIND_RESULT and exit_code == 0:
        return rep("ok", "ok")
    if kind == protocol.KIND_LAYER:
        text = body.decode("utf-8", "replace")[:2000]
        return rep("refused", "layer", text, layer=text.split("'")[1] if "'" in text else "")
    if kind == protocol.KIND_MEMORY and body == b"gpu":
        share = float(limits.get("gpu_memory_fraction", 0))
        return rep("memory_limit", "gpu_memory", (
            f"GPU memory limit exceeded (a run may use {share:.0%} of the card)."),
            limit=share)
    if facts.get("oom") or kind == protocol.KIND_MEMORY:
        return rep("memory_limit", "memory", (
            f"Memory limit of {fmt_bytes(limits['memory_bytes'])} exceeded."),
            limit=limits["memory_bytes"])
    # Nobody here sent that SIGKILL and the run (PID 1 of its namespace) cannot get one
    # from inside: it is the kernel enforcing RLIMIT_CPU (the backstop under the warm
    # parent's own CPU check; tick accounting may show a little less).
    if sig in (signal.SIGKILL, signal.SIGXCPU) and cpu_ms is not None and (
            sig == signal.SIGXCPU or cpu_ms >= cpu_limit * 1000 * 0.5):
        return rep("timeout", "cpu_time", f"CPU time limit of {cpu_limit:g} s exceeded.",
                   limit=cpu_limit)
    tail = last_lines(out)
    suffix = ("\nLast output:\n" + tail) if tail else ""
    if sig == signal.SIGXFSZ:
        return rep("crashed", "file_size", (
            f"A file grew past the limit of {fmt_bytes(limits['file_size_bytes'])}."
            + suffix), limit=limits["file_size_bytes"])
    if kind == protocol.KIND_ERROR:
        return rep("crashed", "harness_error", "The run failed inside the harness:\n"
                   + body.decode("utf-8", "replace")[-2000:] + suffix)
    if kind == protocol.KIND_EXIT:
        code = body.decode("utf-8", "replace")[:200]
        return rep("crashed", "system_exit", (
            f"The code called exit() (SystemExit {code}) before the run finished."
            + suffix), code=code)
    if kind == protocol.KIND_RESULT:
        return rep("crashed", "unclean_exit",
                   "The run produced a result but did not exit cleanly." + suffix)
    if kind == b"?":
        return rep("crashed", "malformed_result", (
            "The run sent a malformed result (was something else written to its pipe?)."
            + suffix))
    if sig is not None:
        return rep("crashed", "signal", (
            f"The run was killed by signal {sig} ({signal_name(sig)}) before finishing."
            + suffix), signal=sig, name=signal_name(sig), last_output=tail)
    return rep("crashed", "exit", (
        f"The run exited with code {exit_code} before finishing." + suffix),
        code=exit_code, last_output=tail)
