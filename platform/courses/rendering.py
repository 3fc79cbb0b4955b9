"""Lesson prose: Markdown with highlighted code, math kept for KaTeX, exercise placeholders.

Markdown passes raw HTML through, so every rendered fragment (lesson prose, exercise prompts,
the authoring preview) is sanitised with nh3 against an allow-list of what lessons use:
no scripts, forms, frames, `<meta>`, event handlers, styles or `javascript:` links.
"""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from typing import Any

import markdown
import nh3
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
_CONFIG: dict[str, dict[str, Any]] = {
    "codehilite": {"guess_lang": False, "css_class": "highlight"},
    "pymdownx.arithmatex": {"generic": True},
    # align="" rather than style="": the strict CSP (style-src 'self') drops style attributes.
    "tables": {"use_align_attribute": True},
    # Unicode ids: Chinese headings would otherwise all get empty, clashing ids.
    "toc": {"permalink": False, "slugify": slugify_unicode},
}


# What lessons legitimately use. Markdown itself emits only a subset of these; the rest is
# harmless HTML an author may type (tables, definition lists, <kbd>, <details>…).
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "u", "ul", "var",
})
_HEADING_ATTRS = {"id"}  # the table of contents links to heading ids
_CELL_ATTRS = {"align", "colspan", "rowspan"}  # align="": tables (see _CONFIG)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    **{f"h{n}": _HEADING_ATTRS for n in range(1, 7)},
    # Classes: "highlight" and Pygments' token classes on code, "arithmatex" on math (which
    # the page's KaTeX renders), a language class on fenced code. Classes only style.
    "div": {"class"}, "span": {"class"}, "code": {"class"}, "pre": {"class"},
    "td": _CELL_ATTRS, "th": _CELL_ATTRS, "col": {"span"}, "colgroup": {"span"},
    "ol": {"start"}, "details": {"open"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})  # plus relative URLs


def sanitize_html(html: str) -> str:
    """Keep only allow-listed tags, attributes and URL schemes; drop script/style content."""
    return nh3.clean(
        html, tags=set(ALLOWED_TAGS), attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES), clean_content_tags={"script", "style"},
        strip_comments=True, link_rel="noopener noreferrer",
    )


@dataclass(frozen=True)
class Block:
    kind: str  # "html" or "exercise"
    value: str  # rendered HTML, or an exercise slug
    headings: tuple[tuple[str, str], ...] = ()  # (id, text) of the block's h2 headings


def _markdown(text: str) -> str:
    """Unsanitised: callers sanitise what they show."""
    return markdown.markdown(text, extensions=_EXTENSIONS, extension_configs=_CONFIG)


def render_markdown(text: str) -> str:
    """Markdown to sanitised HTML (prompts, hints, previews)."""
    return sanitize_html(_markdown(text))


def highlight_python(code: str) -> str:
    """Read-only, highlighted Python (the setup shown above a cell)."""
    return highlight(code, PythonLexer(), HtmlFormatter(cssclass="highlight", wrapcode=True))


def strip_title(text: str) -> str:
    """Drop a leading `# Title` line: the page prints the lesson title itself."""
    return _TITLE_LINE.sub("", text, count=1)


def render_prose(text: str) -> list[Block]:
    """Split prose at `::: exercise <slug>` lines; each html block lists its (id, title)
    headings.

    The whole text is rendered in one pass (so heading ids are unique on the page), with each
    exercise line turned into a placeholder that the result is then split at.
    """
    marked = _EXERCISE_LINE.sub(
        lambda m: f'\n<div class="exercise-slot" data-slug="{m.group(1)}"></div>\n', text
    )
    html = _markdown(marked)
    blocks: list[Block] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(html):
        blocks.append(_html_block(html[pos : match.start()]))
        blocks.append(Block("exercise", match.group(1)))
        pos = match.end()
    blocks.append(_html_block(html[pos:]))
    return [b for b in blocks if b.value.strip()]


def _html_block(raw: str) -> Block:
    # Sanitised after the split: the placeholders are not lesson markup and never survive
    # into the page; whatever a fragment leaves open, nh3 closes within the fragment.
    html = sanitize_html(raw)
    headings = tuple(
        (i, htmllib.unescape(_TAGS.sub("", title))) for i, title in _H2.findall(html)
    )
    return Block("html", html, headings)
