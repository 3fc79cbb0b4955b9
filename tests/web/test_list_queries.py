"""Lists read summaries only: no page or dashboard list pulls whole verdicts (or code) out
of the database in bulk; the database extracts the diagnostic codes a list shows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import INSTRUCTORS, STUDENTS
from courses.models import Exercise
from dashboard import selectors
from dashboard.access import default_course
from dashboard.models import Regrade, RegradeResult
from submissions.models import Submission

pytestmark = pytest.mark.django_db

BIG = "VERDICT_BULK_MARKER_" * 2000  # ~40 KB of stdout per verdict
CODE = "x = 'CODE_BULK_MARKER'\n"
# A column selected as such: "table"."verdict" (maybe AS "alias") right after SELECT or a
# comma and before a comma or FROM. Inside a function (json_each(…), ->>) it is the
# database reading it, which is the point.
BARE = re.compile(
    r'(?:SELECT|,)\s*(?:DISTINCT\s+)?"\w+"\."(verdict|code)"'
    r'(?=\s*(?:AS\s+"\w+"\s*)?(?:,|FROM\b))'
)


def bare_columns(queries: list[dict[str, Any]]) -> list[str]:
    return [m.group(1) for q in queries for m in BARE.finditer(q["sql"])]


def _user(name: str, group: str) -> User:
    user = User.objects.create_user(name, password=f"{name}-pass-123")
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def verdict(codes: list[str], error: Any = None) -> dict[str, Any]:
    checks: list[Any] = [{"name": f"c{i}", "passed": False, "diagnostic": c}
                         for i, c in enumerate(codes)]
    checks += [{"name": "ok", "passed": True, "diagnostic": "never-shown"},
               "not-a-check", {"name": "nodiag", "passed": False}]
    return {"outcome": "failed", "score": 0.0, "max_score": 1.0, "checks": checks,
            "stdout": BIG, "error": error}


@pytest.fixture
def lesson_rows(db):
    from django.conf import settings

    from courses.loader import load_lesson
    from courses.services import SyncReport, lesson_upsert

    lesson_upsert(load_lesson(settings.LESSONS_DIR / "tensors"), SyncReport())
    alice, teacher = _user("alice", STUDENTS), _user("teacher", INSTRUCTORS)
    exercise = Exercise.objects.get(slug="tensor-broadcast")
    subs = []
    for i in range(12):
        error = {"type": "E", "diagnostic": "err-code", "message": BIG} if i % 2 else "boom"
        subs.append(Submission.objects.create(
            user=alice, exercise=exercise, version=exercise.current_version, code=CODE,
            status=Submission.Status.GRADED, outcome="failed", score=0.0, max_score=1.0,
            verdict=verdict(["shape-mismatch", "wrong-value"], error),
        ))
    course = default_course()
    regrade = Regrade.objects.create(course=course, exercise=exercise,
                                     version=exercise.current_version, total=len(subs),
                                     status=Regrade.Status.DONE)
    for sub in subs[:6]:
        RegradeResult.objects.create(regrade=regrade, submission=sub,
                                     version=exercise.current_version,
                                     status=RegradeResult.Status.DONE, outcome="failed",
                                     score=0.0, max_score=1.0, verdict=verdict(["regraded"]))
    return course, exercise, alice, teacher, subs, regrade


def test_the_database_extracts_diagnostic_codes(lesson_rows):
    _, _, _, _, subs, _ = lesson_rows
    rows = {r.pk: r for r in selectors.with_codes(Submission.objects.filter(
        pk__in=[s.pk for s in subs]).only("id"))}
    for sub in subs:
        row = rows[sub.pk]
        # The same codes diagnostics_of finds in the loaded verdict, in the same order.
        assert selectors.codes_of(row.check_codes, row.error_code) == \
            selectors.diagnostics_of(sub.verdict)
        assert "verdict" in row.get_deferred_fields()


def test_browse_submissions_reads_no_verdict_or_code(lesson_rows):
    course, _, _, _, subs, _ = lesson_rows
    with CaptureQueriesContext(connection) as ctx:
        rows = selectors.browse_submissions(course)
    assert len(rows) == len(subs)
    assert bare_columns(ctx.captured_queries) == []
    for row in rows:
        assert {"verdict", "code"} <= row["sub"].get_deferred_fields()
        assert BIG not in repr(row) and "CODE_BULK_MARKER" not in repr(row)
    by_id = {r["sub"].pk: r for r in rows}
    assert by_id[subs[0].pk]["diagnostics"] == ["regraded"]  # regraded: its codes
    assert by_id[subs[11].pk]["diagnostics"] == ["shape-mismatch", "wrong-value", "err-code"]
    # Filtering by a diagnostic still works on the extracted codes.
    assert {r["sub"].pk for r in selectors.browse_submissions(course, diagnostic="err-code")
            } == {s.pk for s in subs[7::2]}


def test_stats_and_gradebook_read_no_verdict(lesson_rows):
    course, exercise, _, _, _, _ = lesson_rows
    with CaptureQueriesContext(connection) as ctx:
        stats = selectors.exercise_stats(course, exercise)
        book = selectors.gradebook(course)
    assert bare_columns(ctx.captured_queries) == []
    codes = {d["label"]: d["submissions"] for d in stats["diagnostics"]}
    assert codes == {"regraded": 6, "shape-mismatch": 6, "wrong-value": 6, "err-code": 3}
    assert book.rows[0].cells[exercise.pk].attempts == 12


def test_dashboard_pages_list_without_verdicts(lesson_rows):
    course, exercise, _, teacher, subs, regrade = lesson_rows
    client = Client()
    client.force_login(teacher)
    for url in [
        reverse("dashboard:submissions", args=[course.slug]),
        reverse("dashboard:exercise", args=[course.slug, exercise.slug]),
        reverse("dashboard:gradebook", args=[course.slug]),
        reverse("dashboard:regrade", args=[course.slug, regrade.pk]),
        reverse("dashboard:api-exercise", args=[course.slug, exercise.slug]),
    ]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, url
        assert bare_columns(ctx.captured_queries) == [], url
        assert "VERDICT_BULK_MARKER" not in response.content.decode(), url
    # The detail page loads its one submission, verdict and code included.
    with CaptureQueriesContext(connection) as ctx:
        detail = client.get(reverse("dashboard:submission", args=[course.slug, subs[3].pk]))
    assert detail.status_code == 200
    assert "CODE_BULK_MARKER" in detail.content.decode()
    assert "VERDICT_BULK_MARKER" in detail.content.decode()
    assert len(ctx.captured_queries) < 40


def test_the_lesson_page_lists_attempts_without_verdicts(lesson_rows):
    _, _, alice, _, _, _ = lesson_rows
    client = Client()
    client.force_login(alice)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/lessons/tensors/")
    assert response.status_code == 200
    assert "verdict" not in bare_columns(ctx.captured_queries)
    assert "VERDICT_BULK_MARKER" not in response.content.decode()


def test_the_pattern_sees_a_bare_verdict_column(lesson_rows):
    """The check above can fail: a plain list of rows does select the verdict."""
    with CaptureQueriesContext(connection) as ctx:
        list(Submission.objects.all()[:5])
        list(Submission.objects.values("id", "verdict"))
    assert bare_columns(ctx.captured_queries) == ["code", "verdict", "verdict"]
