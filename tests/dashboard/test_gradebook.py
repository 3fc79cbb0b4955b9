"""Gradebook and CSV on the seeded class (see conftest.py for who did what)."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from dashboard import selectors
from dashboard.models import Override


def _cells(book, username):
    row = next(r for r in book.rows if r.user.username == username)
    return {e.slug: row.cells[e.pk] for e in book.exercises}, row


def test_gradebook_best_score_attempts_and_last_activity(seeded):
    book = selectors.gradebook(seeded.course)
    assert [r.user.username for r in book.rows] == ["alice", "bob", "carol"]  # no staff
    cells, row = _cells(book, "alice")
    assert cells["tensor-broadcast"].score == 1.0
    assert cells["tensor-broadcast"].attempts == 3
    assert cells["tensor-broadcast"].passed
    assert cells["tensor-broadcast"].last == seeded.subs["a3"].created_at
    assert cells["tensor-cat"].score is None and cells["tensor-cat"].attempts == 0
    cells, _ = _cells(book, "carol")
    # Run submissions count as activity, never as attempts or scores.
    assert cells["tensor-broadcast"].attempts == 1
    assert cells["tensor-broadcast"].score == 0.0
    assert cells["tensor-broadcast"].last == seeded.subs["c1"].created_at  # the Run was earlier
    cells, row = _cells(book, "bob")
    tensors = book.lessons[0]["lesson"].pk
    assert row.lesson_totals[tensors] == 1.0 and row.total == 1.0
    assert book.max_total == sum(e.spec.max_score for e in book.exercises)


def test_sort_and_filter(seeded):
    book = selectors.gradebook(seeded.course, sort="tensor-broadcast", descending=True)
    assert [r.user.username for r in book.rows] == ["alice", "bob", "carol"]
    book = selectors.gradebook(seeded.course, sort="last", descending=True)
    assert book.rows[0].user.username == "bob"  # tensor-cat at minute 20
    book = selectors.gradebook(seeded.course, sort="total")
    assert book.rows[0].user.username == "carol"
    book = selectors.gradebook(seeded.course, q="ÅNGSTRÖM".lower())
    assert [r.user.username for r in book.rows] == ["alice"]
    book = selectors.gradebook(seeded.course, lesson="no-such-lesson")
    assert book.exercises == []


def test_gradebook_page(client, seeded):
    client.force_login(seeded.teacher)
    url = reverse("dashboard:gradebook", args=["pytorch"])
    response = client.get(url, {"sort": "total", "dir": "desc", "q": "a"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "alice" in html and "carol" in html
    # bob's first name is a formula and HTML-looking text stays escaped.
    response = client.get(url)
    assert "=HYPERLINK(&quot;x&quot;)" in response.content.decode()


def test_csv_is_excel_friendly_and_complete(client, seeded):
    Override.objects.create(course=seeded.course, user=seeded.carol, exercise=seeded.broadcast,
                            score=0.5, comment="partial credit")
    client.force_login(seeded.teacher)
    response = client.get(reverse("dashboard:gradebook-csv", args=["pytorch"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel reads Chinese names right
    text = raw.decode("utf-8-sig")
    assert "\r\n" in text  # the Excel dialect
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header[:3] == ["username", "name", "email"]
    assert header[-1] == "total" and "tensors total" in header
    by_user = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert set(by_user) == {"alice", "bob", "carol"}
    assert by_user["alice"]["tensor-broadcast"] == "1"
    assert by_user["alice"]["tensor-cat"] == ""  # never attempted
    assert by_user["alice"]["name"] == "Alice Ångström"
    assert by_user["carol"]["tensor-broadcast"] == "0.5"  # the override counts
    assert by_user["carol"]["total"] == "0.5"
    # A name that starts with "=" must not become a spreadsheet formula.
    assert by_user["bob"]["name"].startswith("'=HYPERLINK")
    assert "张" in by_user["bob"]["name"]
    # A spreadsheet-style reader gets a clean table: numbers as numbers, names intact.
    import pandas as pd

    frame = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    assert list(frame.columns) == header and len(frame) == 3
    assert frame.set_index("username").loc["carol", "total"] == 0.5
    assert frame.set_index("username").loc["alice", "name"] == "Alice Ångström"


def test_csv_follows_the_filters(client, seeded):
    client.force_login(seeded.teacher)
    response = client.get(reverse("dashboard:gradebook-csv", args=["pytorch"]), {"q": "bob"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["bob"]


def test_api_gradebook(client, seeded):
    client.force_login(seeded.ta)
    data = client.get(reverse("dashboard:api-gradebook", args=["pytorch"])).json()
    alice = next(s for s in data["students"] if s["username"] == "alice")
    assert alice["exercises"]["tensor-broadcast"]["attempts"] == 3
    assert alice["exercises"]["tensor-broadcast"]["passed"] is True
    assert alice["total"] == 1.0


def test_other_course_gradebook_is_its_own(client, seeded):
    client.force_login(seeded.outsider)
    data = client.get(reverse("dashboard:api-gradebook", args=["other"])).json()
    assert data["students"] == [] and data["exercises"] == []


def test_gradebook_headers_are_titles_grouped_by_lesson(client, seeded):
    """Titles for people, the slug (the CSV's key) in a tooltip; a lesson row spans its
    exercises (plus its Σ column); the CSV keeps slugs as column keys."""
    import re

    client.force_login(seeded.teacher)
    html = client.get(reverse("dashboard:gradebook", args=["pytorch"])).content.decode()
    book = selectors.gradebook(seeded.course)
    for exercise in book.exercises:
        title = exercise.spec.title["en"]
        assert re.search(rf'title="{exercise.slug}">{re.escape(title)}</a>', html), exercise.slug
        assert f">{exercise.slug}</a>" not in html  # no bare slug as a header
    for group in book.lessons:
        span = len(group["exercises"]) + 1
        assert re.search(rf'colspan="{span}" class="lesson-head"[^>]*>{re.escape(group["title"])}<',
                         html)
    assert 'class="table-wrap gradebook-wrap"' in html and 'class="corner"' in html
    rows = list(csv.reader(io.StringIO(client.get(
        reverse("dashboard:gradebook-csv", args=["pytorch"])).content.decode("utf-8-sig"))))
    assert rows[0][3:3 + len(book.exercises)] == [e.slug for e in book.exercises]


def test_the_sticky_header_rules_exist():
    from django.conf import settings

    css = (settings.BASE_DIR / "static" / "css" / "site.css").read_text()
    block = css[css.index("==== Gradebook"):css.index("==== end of the gradebook block")]
    assert "table.gradebook thead th { position: sticky; top: 0;" in block
    assert "tbody th[scope=row] { position: sticky; left: 0;" in block
    assert ".gradebook-wrap { max-height:" in block


def test_my_grades_in_chinese_with_total(client, seeded):
    from drafts.models import Preference

    Preference.objects.create(user=seeded.alice, language="zh-hans")
    client.force_login(seeded.alice)
    client.cookies["django_language"] = "zh-hans"
    response = client.get(reverse("dashboard:my-grades", args=["pytorch"]))
    html = response.content.decode()
    assert "老师的备注" in html and "提交次数" in html and "总分" in html
    assert response.context["total"] == 1.0  # alice passed tensor-broadcast
    row = next(r for r in response.context["rows"] if r["exercise"].slug == "tensor-broadcast")
    assert row["cell"].passed and row["cell"].attempts == 3
