"""A tiny harness for the sandbox tests: exec the payload as Python, return `RESULT`
(bytes) if the code set it, else b"done"."""

from __future__ import annotations


def main(payload: bytes) -> bytes:
    scope: dict = {"__name__": "__cell__"}
    exec(compile(payload.decode(), "<cell>", "exec"), scope)
    result = scope.get("RESULT", b"done")
    return result if isinstance(result, bytes) else str(result).encode()
