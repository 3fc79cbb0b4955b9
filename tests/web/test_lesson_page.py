"""The lesson page: content, CSP-safe markup, drafts in the editor, history, hints, language."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from courses.models import Exercise
from drafts.models import Draft, Preference
from submissions.models import Submission

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(client: Client, url: str = "/lessons/tensors/") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


class Attributes(HTMLParser):
    """Every (tag, attribute) pair of a page, and the bodies of its script elements."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[tuple[str, str, str]] = []
        self.scripts: list[tuple[dict, str]] = []
        self._script: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.attrs += [(tag, name, value or "") for name, value in attrs]
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def cell_state(html: str, slug: str) -> dict:
    match = re.search(
        rf'<script id="cell-{slug}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, f"no state for {slug}"
    return json.loads(match.group(1))


def graded(user, slug: str, outcome: str, score: float, code: str = "c = 1") -> Submission:
    exercise = Exercise.objects.get(slug=slug)
    return Submission.objects.create(
        user=user, exercise=exercise, version=exercise.current_version, code=code,
        status="graded", outcome=outcome, score=score, max_score=1.0,
        verdict={"outcome": outcome, "score": score, "max_score": 1.0, "checks": []},
    )


def test_no_inline_script_handler_or_style_attribute(course, alice):
    """A strict CSP (script-src 'self'; style-src 'self') must not break the page."""
    for url in ("/lessons/tensors/", "/", "/accounts/login/"):
        parser = Attributes()
        parser.feed(page(login(alice), url))
        assert parser.scripts or url != "/lessons/tensors/"
        for attrs, body in parser.scripts:
            if attrs.get("type") == "application/json":
                continue  # data, not code (json_script)
            assert attrs.get("src", "").startswith("/static/") and not body.strip(), attrs
        for tag, name, _value in parser.attrs:
            assert not name.startswith("on"), f"inline handler {name} on <{tag}>"
            assert name != "style", f"style attribute on <{tag}>"
            assert tag != "style"


def test_no_external_requests(course, alice):
    html = page(login(alice))
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not re.match(r"^(https?:)?//", url), url
    css = (ROOT / "static/vendor/katex/katex.min.css").read_text()
    for url in re.findall(r"url\(([^)]+)\)", css):
        assert not re.match(r"^['\"]?(https?:)?//", url), url
        assert (ROOT / "static/vendor/katex" / url.strip("'\"")).exists(), url


def test_assets_are_served_from_static(course, alice):
    html = page(login(alice))
    client = login(alice)
    for url in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "/static/vendor/lessonkit.js" in html and "/static/vendor/katex/katex.min.css" in html


def test_page_structure(course, alice):
    html = page(login(alice))
    # One cell per exercise, the editor labelled for screen readers, a status feedback panel.
    for exercise in Exercise.objects.filter(lesson__slug="tensors"):
        assert f'id="exercise-{exercise.slug}"' in html
        assert f'aria-label="Code for {exercise.slug}"' in html
    assert html.count('role="status"') >= 8
    # Table of contents: the sections and the exercises, linked to anchors on the page.
    toc = html[html.index('class="toc"') : html.index("</nav>", html.index('class="toc"'))]
    assert 'href="#exercise-tensor-broadcast"' in toc
    ids = re.findall(r'href="#([^"]+)"', toc)
    assert len(ids) > 8
    for anchor in ids:
        assert f'id="{anchor}"' in html, anchor
    # Math is left for KaTeX; code in prose is highlighted.
    assert 'class="arithmatex"' in html
    assert '<div class="highlight">' in html
    # The setup is shown highlighted above the cell, not editable.
    broadcast = html[html.index('id="exercise-tensor-broadcast"') :]
    assert '<span class="n">reshape</span>' in broadcast.split("</form>")[0]
    # The lesson title is printed once (the prose's own "# Title" line is dropped).
    assert html.count("<h1") == 1


def test_previous_and_next_lesson(course, alice):
    html = page(login(alice))
    assert 'rel="prev"' not in html  # tensors is the first lesson
    nxt = re.search(r'<a rel="next" href="(/lessons/[^"]+/)"', html)
    assert nxt
    second = page(login(alice), nxt.group(1))
    assert 'rel="prev" href="/lessons/tensors/"' in second


def test_the_editor_opens_on_the_draft_else_the_starter(course, alice, bob):
    exercise = Exercise.objects.get(slug="tensor-broadcast")
    html = page(login(alice))
    assert f">{exercise.spec.starter}</textarea>" in html
    Draft.objects.create(user=alice, exercise=exercise, code="c = a - b  # <mine>")
    html = page(login(alice))
    assert "c = a - b  # &lt;mine&gt;</textarea>" in html
    assert "&lt;mine&gt;" not in page(login(bob))  # drafts are private


def test_history_lists_own_attempts_newest_first(course, alice, bob):
    graded(alice, "tensor-broadcast", "failed", 0.0, code="c = a * b")
    graded(alice, "tensor-broadcast", "passed", 1.0, code="c = a + b")
    graded(bob, "tensor-broadcast", "passed", 1.0, code="c = b + a  # bob")
    state = cell_state(page(login(alice)), "tensor-broadcast")
    assert [a["code"] for a in state["attempts"]] == ["c = a + b", "c = a * b"]
    assert [a["outcome"] for a in state["attempts"]] == ["passed", "failed"]
    assert state["attempts"][0]["score"] == 1.0


def test_code_in_history_cannot_break_out_of_json(course, alice):
    graded(alice, "tensor-broadcast", "failed", 0.0, code="</script><script>alert(1)</script>")
    html = page(login(alice))
    assert "<script>alert(1)" not in html
    assert cell_state(html, "tensor-broadcast")["attempts"][0]["code"].startswith("</script>")


def test_a_passed_exercise_stays_passed(course, alice):
    graded(alice, "tensor-broadcast", "passed", 1.0)
    graded(alice, "tensor-broadcast", "failed", 0.0)  # a later failure does not undo it
    html = page(login(alice))
    section = html[html.index('id="exercise-tensor-broadcast"') :].split("</h2>")[0]
    assert 'data-role="passed-badge"' in section and " hidden" not in section
    assert "1 of 8 exercises passed" in html
    index = page(login(alice), "/")
    assert "1 of 8 exercises passed" in index


def test_index_marks_a_completed_lesson(course, alice):
    for exercise in Exercise.objects.filter(lesson__slug="tensors"):
        graded(alice, exercise.slug, "passed", 1.0)
    index = page(login(alice), "/")
    row = index[index.index('data-lesson="tensors"') :].split("</li>")[0]
    assert "Completed" in row and "8 of 8 exercises passed" in row


def test_hints_one_at_a_time_and_never_the_solution(course, alice):
    exercise = Exercise.objects.get(slug="tensor-elementwise")
    count = len(exercise.spec.hints)
    assert count >= 1
    client = login(alice)
    url = "/api/exercises/tensor-elementwise/hints"
    assert client.get(url).json() == {"count": count, "shown": 0, "hints": []}
    for n in range(1, count + 2):
        data = client.post(url, "{}", content_type="application/json").json()
        assert data["shown"] == min(n, count) and len(data["hints"]) == min(n, count)
        assert exercise.spec.hints[0]["en"].strip() == data["hints"][0]
        solution = exercise.spec.solution.strip()
        assert all(solution not in h for h in data["hints"]) or "\n" not in solution
    # Revealed hints come back with the page.
    assert len(cell_state(page(client), "tensor-elementwise")["hints"]) == count


def test_hints_follow_the_page_language(course, alice):
    client = login(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    data = client.post("/api/exercises/tensor-broadcast/hints", "{}",
                       content_type="application/json").json()
    assert "形状" in data["hints"][0]


def test_hints_need_login(course):
    assert Client().post("/api/exercises/tensor-broadcast/hints").status_code == 401


def test_language_switch_is_remembered_per_user(course, alice):
    client = login(alice)
    response = client.post("/preferences/language",
                           {"language": "zh-hans", "next": "/lessons/tensors/"})
    assert response.status_code == 302 and response["Location"] == "/lessons/tensors/"
    assert Preference.objects.get(user=alice).language == "zh-hans"
    html = page(client)
    assert '<html lang="zh-hans">' in html and "数据操作" in html
    assert "提交" in html and "运行" in html  # interface strings translated (compiled .mo)
    # Another browser, no cookie: the page still opens in Chinese and sets the cookie.
    fresh = login(alice)
    response = fresh.get("/lessons/tensors/")
    assert "数据操作" in response.content.decode()
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "PyTorch 基础" in page(fresh, "/") or "数据操作" in page(fresh, "/")
    # And back.
    client.post("/preferences/language", {"language": "en", "next": "/"})
    assert "Data manipulation" in page(login(alice))


def test_ui_strings_for_the_script_are_translated(course, alice):
    Preference.objects.create(user=alice, language="zh-hans")
    html = page(login(alice))
    match = re.search(r'<script id="lesson-ui" type="application/json">(.*?)</script>', html, re.S)
    ui = json.loads(match.group(1))
    assert ui["passed"] == "通过" and ui["failed"] == "未通过"


def test_queue_position(course, alice, bob):
    exercise = Exercise.objects.get(slug="tensor-broadcast")

    def queued(user, queue: str = "cpu") -> Submission:
        return Submission.objects.create(
            user=user, exercise=exercise, version=exercise.current_version, code="c = 1",
            queue=queue, status="queued",
        )

    first, _other_queue, mine = queued(bob), queued(bob, "gpu"), queued(alice)
    client = login(alice)
    assert client.get(f"/api/submissions/{mine.pk}/position").json()["position"] == 2
    assert client.get(f"/api/submissions/{first.pk}/position").status_code == 404  # not hers
    Submission.objects.filter(pk=first.pk).update(status="graded", outcome="passed")
    assert client.get(f"/api/submissions/{mine.pk}/position").json()["position"] == 1
    Submission.objects.filter(pk=mine.pk).update(status="running")
    assert client.get(f"/api/submissions/{mine.pk}/position").json() == {
        "id": mine.pk, "status": "running", "position": None,
    }
    assert Client().get(f"/api/submissions/{mine.pk}/position").status_code == 401


def test_rendering_splits_at_exercises_with_unique_heading_ids():
    from courses.rendering import render_prose, strip_title

    text = strip_title(
        "# Title\n\nIntro $x^2$.\n\n## 广播\n\n```python\nx = 1\n```\n\n"
        "::: exercise ex-one\n\n## 广播\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n"
        "::: exercise ex-two\n"
    )
    blocks = render_prose(text)
    toc = [h for b in blocks for h in b.headings]
    assert [b.kind for b in blocks] == ["html", "exercise", "html", "exercise"]
    assert [b.value for b in blocks if b.kind == "exercise"] == ["ex-one", "ex-two"]
    assert "<h1" not in blocks[0].value and "Title" not in blocks[0].value
    assert '<span class="arithmatex">' in blocks[0].value
    assert '<div class="highlight">' in blocks[0].value
    ids = [i for i, _ in toc]
    assert [t for _, t in toc] == ["广播", "广播"] and len(set(ids)) == 2
    assert 'align="left"' in blocks[2].value and "style=" not in blocks[2].value


def test_setup_is_highlighted_and_escaped():
    from courses.rendering import highlight_python

    html = highlight_python("s = '<b>'\n")
    assert "&lt;b&gt;" in html and "<b>" not in html and 'class="highlight"' in html
