"""Issue #14 §5: in 简体中文 the pages a student and a teacher read have no English left.

Every page of tests/dashboard/test_access.py (URLS and ACCOUNT_URLS) is opened in zh-hans as a
role that may read it. The visible text (text nodes, the <title>, placeholders, aria-labels
and button values; not code, which is the student's or the author's own) is split into
words, and every Latin word must be data (a username, a slug, a title from the database) or a
technical name that is the same in Chinese (CSV, Redis, YAML…). A string someone forgot to
wrap in {% translate %}, or wrapped but left out of the catalogue, fails with the page and the
text it was found in."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse
from tests.dashboard.test_access import ACCOUNT_URLS, URLS, U, _kwargs

# Names that Chinese UI text keeps in Latin letters (product names, formats, protocols).
TECHNICAL = {
    "pytorch", "csv", "redis", "yaml", "markdown", "utf", "api", "json", "url", "email_url",
    "python", "torch", "gpu", "cpu", "zip", "lti", "sql", "sqlite", "celery", "html", "id",
    "manage", "py", "sync_lessons", "english", "softmax", "tensor", "reshape", "cpu_seconds",
    "limits", "hans", "bulk", "any", "slug", "utc",  # language code, queue names, the slug field
    "ctrl", "shift", "enter", "esc", "tab", "mac",  # keys
    "lms", "moodle", "canvas", "oidc", "jwks", "https",  # LTI: products and protocols
    "username", "email", "first_name", "last_name", "password",  # CSV column names
}
SKIP_TAGS = {"script", "style", "code", "pre", "textarea"}
ATTRS = {"placeholder", "aria-label", "title", "alt"}
PLACEHOLDER = re.compile(r"\{\w+\}")  # {name} in data-t-* texts, filled in by the script
WORD = re.compile(r"[A-Za-z][A-Za-z_]{2,}")
# File names (docs/architecture.md, lesson.yaml) and a YAML key quoted in brackets ("(due:)").
PATH = re.compile(r"\b[\w-]+(?:/[\w.-]+)+|/[\w./-]+|\b[\w-]+\.(?:yaml|md|py|csv|zip)\b"
                  r"|(?<=[(（])\w+:")
# Not UI text: TeX (\(x \cdot y\)) and an error message quoted verbatim (“a Tensor with…”).
VERBATIM = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]|“[\x00-\x7f]*?”", re.S)


class VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.prose = 0  # depth of <div> inside a lesson's prose (its author's text, not UI)
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIP_TAGS:
            self.skip += 1
        if tag == "div" and (self.prose or "prose" in (dict(attrs).get("class") or "").split()):
            self.prose += 1
        if self.prose:
            return
        for name, value in attrs:
            # data-t-*: the words static/dashboard/dashboard.js writes into the page.
            if value and (name in ATTRS or name.startswith("data-t-")
                          or (tag == "input" and name == "value"
                              and ("type", "submit") in attrs)):
                self.chunks.append(PLACEHOLDER.sub("", value))

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP_TAGS and self.skip:
            self.skip -= 1
        if tag == "div" and self.prose:
            self.prose -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and not self.prose and data.strip():
            self.chunks.append(data.strip())


def visible_text(html: str) -> list[str]:
    # The language menu names each language in itself ("English") on purpose.
    html = re.sub(r'<option [^>]*lang="en"[^>]*>.*?</option>', "", html, flags=re.S)
    parser = VisibleText()
    parser.feed(html)
    return parser.chunks


def data_words() -> set[str]:
    """Words that come from the database (names, slugs, titles, labels), lower-cased."""
    from django.contrib.auth.models import User

    from courses.models import Exercise, Lesson
    from dashboard.models import Course
    from submissions.models import Submission

    texts: list[str] = []
    for u in User.objects.all():
        texts += [u.username, u.first_name, u.last_name, u.email]
    for c in Course.objects.all():
        texts += [c.slug, c.title]
    for lesson in Lesson.objects.all():
        texts += [lesson.slug, str(getattr(lesson, "title", ""))]
    for e in Exercise.objects.all():
        texts += [e.slug, e.queue if hasattr(e, "queue") else ""]
        texts += [str(e.spec.title.get("en", "")) if isinstance(e.spec.title, dict) else ""]
    for s in Submission.objects.all():
        for check in (s.verdict or {}).get("checks", []):
            texts += [str(check.get("name", "")), str(check.get("diagnostic") or "")]
    return {w.lower() for t in texts for w in WORD.findall(t or "")}


def english_left(html: str, allowed: set[str]) -> list[str]:
    return [chunk for chunk in visible_text(html)
            if any(w.lower() not in allowed
                   for w in WORD.findall(PATH.sub("", VERBATIM.sub("", chunk))))]


def test_the_check_can_fail():
    """An untranslated label is caught; data and technical names are not."""
    allowed = TECHNICAL | {"alice"}
    assert english_left("<p>Gradebook</p><p>alice · CSV</p>", allowed) == ["Gradebook"]
    assert english_left('<input placeholder="name or e-mail">', allowed) == ["name or e-mail"]
    assert english_left("<pre>print(x)</pre><code>shape</code><p>成绩</p>", allowed) == []
    # File names and a bracketed YAML key are not prose; a label with a colon still is.
    assert english_left("<p>见 docs/architecture.md 和 lesson.yaml（due:）</p>", allowed) == []
    assert english_left("<p>Workflow: 保存</p>", allowed) == ["Workflow: 保存"]
    # A lesson's prose is its author's; TeX and a quoted error message are not UI text.
    assert english_left('<div class="prose"><div>Tensors</div></div><p>Next</p>',
                        allowed) == ["Next"]
    assert english_left("<p>报错“shape mismatch”，\\(x \\cdot y\\)</p>", allowed) == []
    assert english_left('<p data-t-x="{n} 个失败" data-t-y="{n} failed">', allowed) == [" failed"]


@pytest.fixture
def zh(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    return client


def _user_for(u: U, s):
    return s.alice if u.student_ok else s.teacher


PAGES = [u for u in URLS if u.method == "get" and not u.api]


@pytest.mark.parametrize("u", PAGES, ids=lambda u: u.name)
def test_dashboard_page_has_no_english_in_chinese(zh, seeded, u):
    zh.force_login(_user_for(u, seeded))
    url = reverse(f"dashboard:{u.name}", kwargs=_kwargs(u.name, seeded, "pytorch"))
    response = zh.get(url, follow=True)
    assert response.status_code == 200, (url, response.status_code)
    if not response["Content-Type"].startswith("text/html"):
        return  # the CSV's header is the column key contract (docs/contract.md); zip: files
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    left = english_left(html, TECHNICAL | data_words())
    assert not left, f"{url}: English left in 简体中文: {left}"


@pytest.mark.parametrize("name", sorted(n for n, (_, rule) in ACCOUNT_URLS.items()
                                        if rule != "post"))
def test_account_page_has_no_english_in_chinese(zh, seeded, name):
    kwargs, rule = ACCOUNT_URLS[name]
    if rule == "login":
        zh.force_login(seeded.alice)
    response = zh.get(reverse(name, kwargs=kwargs))
    assert response.status_code in (200, 404)
    left = english_left(response.content.decode(), TECHNICAL | data_words())
    assert not left, f"{name}: English left in 简体中文: {left}"


def test_dashboard_messages_in_chinese(zh, seeded):
    """What the views say through messages.*() and form errors follows the language too."""
    zh.force_login(seeded.teacher)
    url = reverse("dashboard:override", args=["pytorch", "tensor-broadcast", "alice"])
    html = zh.post(url, {"action": "set", "score": "99"}).content.decode()
    assert "分数必须在 0 到 2 之间。" in html  # tensor-broadcast is worth 2 points
    html = zh.post(url, {"action": "set", "score": "0.5", "comment": ""},
                   follow=True).content.decode()
    assert "已设定 alice 在 tensor-broadcast 上的分数。" in html
    assert "Score set for" not in html


# --- Beyond /dashboard/ and /accounts/: the student's pages, join, errors, e-mails ----------

SITE_PAGES = [  # (path, who): who is None for a visitor
    ("/", "alice"),
    ("/lessons/tensors/", "alice"),
    ("/no-such-page/", "alice"),  # the styled 404
    ("/dashboard/pytorch/", "alice"),  # a student on a staff page: the styled 403
    ("/accounts/login/", None),
]


@pytest.mark.parametrize(("path", "who"), SITE_PAGES, ids=[p for p, _ in SITE_PAGES])
def test_site_page_has_no_english_in_chinese(zh, seeded, path, who):
    if who:
        zh.force_login(getattr(seeded, who))
    response = zh.get(path)
    assert response.status_code in (200, 403, 404), (path, response.status_code)
    left = english_left(response.content.decode(), TECHNICAL | data_words())
    assert not left, f"{path}: English left in 简体中文: {left}"


@pytest.mark.parametrize("signed_in", [False, True], ids=["visitor", "other-course-user"])
def test_join_link_in_chinese(zh, seeded, signed_in):
    """The join page a visitor signs up on, and what a signed-in user lands on."""
    from accounts import services as accounts

    link = accounts.join_link(seeded.course)
    if signed_in:
        zh.force_login(seeded.outsider)
    response = zh.get(reverse("join", args=[link.code]), follow=True)
    assert response.status_code == 200
    left = english_left(response.content.decode(), TECHNICAL | data_words())
    assert not left, f"join: English left in 简体中文: {left}"


def test_emails_in_chinese(seeded):
    """The set-password invitation and the password-reset e-mail, rendered in zh-hans."""
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override("zh-hans"):
        texts = [
            render_to_string("accounts/email/invitation.txt", {
                "course": seeded.course, "username": "alice", "link": "http://x/set/abc"}),
            render_to_string("accounts/email/password_reset.txt", {
                "user": seeded.alice, "protocol": "http", "domain": "x", "uid": "MQ",
                "token": "abc"}),
            render_to_string("accounts/email/password_reset_subject.txt", {}),
        ]
    for text in texts:
        body = re.sub(r"https?://\S+", "", text)  # links are links
        assert not english_left(f"<p>{body}</p>", TECHNICAL | data_words()), text
