"""Lesson prose: Markdown with highlighted code, math kept for KaTeX, exercise placeholders."""

from __future__ import annotations

import re
from dataclasses import dataclass

import markdown

_EXERCISE_LINE = re.compile(r"^:::\s*exercise\s+([a-z0-9-]+)\s*$", re.MULTILINE)
_EXTENSIONS = ["fenced_code", "tables", "toc", "codehilite", "pymdownx.arithmatex"]
_CONFIG = {
    "codehilite": {"guess_lang": False, "css_class": "highlight"},
    "pymdownx.arithmatex": {"generic": True},
    "toc": {"permalink": False},
}


@dataclass(frozen=True)
class Block:
    kind: str  # "html" or "exercise"
    value: str  # rendered HTML, or an exercise slug


def render_markdown(text: str) -> str:
    return markdown.markdown(text, extensions=_EXTENSIONS, extension_configs=_CONFIG)


def render_prose(text: str) -> tuple[list[Block], list[tuple[str, str]]]:
    """Split prose at `::: exercise <slug>` lines; return the blocks and (id, title) headings."""
    blocks: list[Block] = []
    toc: list[tuple[str, str]] = []
    pos = 0
    for match in _EXERCISE_LINE.finditer(text):
        blocks.append(Block("html", render_markdown(text[pos : match.start()])))
        blocks.append(Block("exercise", match.group(1)))
        pos = match.end()
    blocks.append(Block("html", render_markdown(text[pos:])))
    for block in blocks:
        if block.kind == "html":
            toc += re.findall(r'<h2 id="([^"]+)">(.*?)</h2>', block.value)
    return [b for b in blocks if b.value.strip()], toc
