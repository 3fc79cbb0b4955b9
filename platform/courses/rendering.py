"""Lesson prose: Markdown with highlighted code, math kept for KaTeX, exercise placeholders."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass

import markdown
from markdown.extensions.toc import slugify_unicode
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

_EXERCISE_LINE = re.compile(r"^:::\s*exercise\s+([a-z0-9-]+)\s*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r'<div class="exercise-slot" data-slug="([a-z0-9-]+)"></div>')
_TITLE_LINE = re.compile(r"\A\s*#\s+[^\n]*\n")
_H2 = re.compile(r'<h2 id="([^"]+)">(.*?)</h2>', re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_EXTENSIONS = ["fenced_code", "tables", "toc", "codehilite", "pymdownx.arithmatex"]
_CONFIG = {
    "codehilite": {"guess_lang": False, "css_class": "highlight"},
    "pymdownx.arithmatex": {"generic": True},
    # align="" rather than style="": the strict CSP (style-src 'self') drops style attributes.
    "tables": {"use_align_attribute": True},
    # Unicode ids: Chinese headings would otherwise all get empty, clashing ids.
    "toc": {"permalink": False, "slugify": slugify_unicode},
}


@dataclass(frozen=True)
class Block:
    kind: str  # "html" or "exercise"
    value: str  # rendered HTML, or an exercise slug
    headings: tuple[tuple[str, str], ...] = ()  # (id, text) of the block's h2 headings


def render_markdown(text: str) -> str:
    return markdown.markdown(text, extensions=_EXTENSIONS, extension_configs=_CONFIG)


def highlight_python(code: str) -> str:
    """Read-only, highlighted Python (the setup shown above a cell)."""
    return highlight(code, PythonLexer(), HtmlFormatter(cssclass="highlight", wrapcode=True))


def strip_title(text: str) -> str:
    """Drop a leading `# Title` line: the page prints the lesson title itself."""
    return _TITLE_LINE.sub("", text, count=1)


def render_prose(text: str) -> tuple[list[Block], list[tuple[str, str]]]:
    """Split prose at `::: exercise <slug>` lines; return the blocks and (id, title) headings.

    The whole text is rendered in one pass (so heading ids are unique on the page), with each
    exercise line turned into a placeholder that the result is then split at.
    """
    marked = _EXERCISE_LINE.sub(
        lambda m: f'\n<div class="exercise-slot" data-slug="{m.group(1)}"></div>\n', text
    )
    html = render_markdown(marked)
    blocks: list[Block] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(html):
        blocks.append(_html_block(html[pos : match.start()]))
        blocks.append(Block("exercise", match.group(1)))
        pos = match.end()
    blocks.append(_html_block(html[pos:]))
    blocks = [b for b in blocks if b.value.strip()]
    toc = [h for b in blocks for h in b.headings]
    return blocks, toc


def _html_block(html: str) -> Block:
    headings = tuple(
        (i, htmllib.unescape(_TAGS.sub("", title))) for i, title in _H2.findall(html)
    )
    return Block("html", html, headings)
