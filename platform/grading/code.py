"""Is submitted code fit to run at all? The one rule, and the one size limit.

Plain Python (no Django, no torch): the HTTP API asks it before a submission row exists,
`manage.py grade` and regrades ask it, and the grader asks it again before any run (a caller
may have skipped the API). Settings expose the limit as ``settings.MAX_CODE_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_CODE_BYTES = 64 * 1024

_TEXT: dict[str, dict[str, str]] = {
    "too-large": {
        "en": "The code is {size} bytes; the limit is {limit_kb} KB ({limit} bytes).",
        "zh-hans": "代码有 {size} 字节，超过了 {limit_kb} KB（{limit} 字节）的上限。",
    },
    "not-utf8": {
        "en": "The code is not valid UTF-8 text.",
        "zh-hans": "代码不是有效的 UTF-8 文本。",
    },
    "nul": {
        "en": "The code contains a NUL byte; it looks like binary data, not Python text.",
        "zh-hans": "代码中含有 NUL 字节；它看起来是二进制数据，而不是 Python 文本。",
    },
}


@dataclass(frozen=True)
class CodeProblem:
    """Why code must not run: a stable `reason` and the message in every page language."""

    reason: str  # "too-large" | "not-utf8" | "nul"
    messages: dict[str, str]

    @property
    def message(self) -> str:
        return self.messages["en"]


def _problem(reason: str, **facts: int) -> CodeProblem:
    return CodeProblem(reason, {lang: text.format(**facts) for lang, text in
                                _TEXT[reason].items()})


def check_code(code: str | bytes) -> tuple[str | None, CodeProblem | None]:
    """Return (the code as text, None), or (None, why it must not run).

    Bytes must decode as UTF-8; text must encode as UTF-8 (no lone surrogates); at most
    MAX_CODE_BYTES in UTF-8; no NUL (binary data, not Python source)."""
    if isinstance(code, bytes):
        raw = code
    else:
        try:
            raw = code.encode("utf-8")
        except UnicodeEncodeError:
            return None, _problem("not-utf8")
    if len(raw) > MAX_CODE_BYTES:
        return None, _problem("too-large", size=len(raw), limit=MAX_CODE_BYTES,
                              limit_kb=MAX_CODE_BYTES // 1024)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, _problem("not-utf8")
    if "\x00" in text:
        return None, _problem("nul")
    return text, None


def code_problem(code: str | bytes) -> CodeProblem | None:
    """Why `code` must not run, or None."""
    return check_code(code)[1]
