"""The one score rule and the one effective grade, across every place a grade shows.

A run that did not reach the end (here: a cell that raised after every check's name was
already right, graded under the old rule with full marks) is worth 0 and never passed: in
the verdict JSON, on the lesson page and its "x of n", the course index, My grades, the
gradebook, its CSV and the dashboard API. After a regrade and after an override, every
one of them shows the same new grade.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from tests.dashboard.conftest import make_sub, make_user

from accounts.models import STUDENTS
from dashboard import selectors
from dashboard.models import Override, Regrade, RegradeResult
from submissions.models import Submission

CRASH = "y = 2 * torch.dot(x, x)\ny.backward()\ny.backward()\n"


def crashed_with_full_marks(user, exercise, minutes: float = 30) -> Submission:
    """A row as the old rule stored it: outcome `error`, every check ✓, full marks."""
    top = exercise.spec.max_score
    sub = make_sub(user, exercise, CRASH, "error", top, minutes)
    verdict = {
        "exercise": exercise.slug, "outcome": "error", "passed": False, "score": top,
        "max_score": top, "stdout": "", "duration_ms": 5, "message": None,
        "checks": [{"name": "c", "passed": True, "points": top, "max_points": top,
                    "diagnostic": None, "message": "`c` is correct.",
                    "messages": {"en": "`c` is correct.", "zh-hans": "`c` 正确。"},
                    "hidden": False}],
        "error": {"type": "RuntimeError", "message": "Trying to backward through the graph a "
                  "second time", "line": 3, "diagnostic": None, "messages": {}},
    }
    Submission.objects.filter(pk=sub.pk).update(verdict=verdict)
    sub.refresh_from_db()
    return sub


@pytest.fixture
def dave(seeded):
    return make_user("dave", STUDENTS)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def everywhere(seeded, user, exercise) -> dict:
    """The grade of `user` on `exercise` as each page and export shows it."""
    client = login(user)
    lesson = client.get(f"/lessons/{exercise.lesson.slug}/")
    assert lesson.status_code == 200
    cell = next(i for i in lesson.context["items"]
                if i["kind"] == "exercise" and i["exercise"].pk == exercise.pk)
    index = client.get("/")
    progress = next(r for r in index.context["rows"] if r["lesson"].pk == exercise.lesson_id)
    mine = client.get(reverse("dashboard:my-grades", args=["pytorch"]))
    assert mine.status_code == 200
    my_row = next(r for r in mine.context["rows"] if r["exercise"].pk == exercise.pk)

    staff = login(seeded.teacher)
    book = selectors.gradebook(seeded.course)
    book_cell = next(r for r in book.rows if r.user.pk == user.pk).cells[exercise.pk]
    raw = staff.get(reverse("dashboard:gradebook-csv", args=["pytorch"])).content
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    csv_row = next(dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r[0] == user.username)
    api = staff.get(reverse("dashboard:api-gradebook", args=["pytorch"])).json()
    api_cell = next(s for s in api["students"] if s["username"] == user.username
                    )["exercises"][exercise.slug]
    page = staff.get(reverse("dashboard:gradebook", args=["pytorch"])).content.decode()
    return {
        "lesson passed": cell["passed"],
        "lesson best": cell["best"],
        "lesson done": lesson.context["done"],
        "index done": progress["done"],
        "my grades": my_row["cell"].grade,
        "my grades passed": my_row["cell"].passed,
        "gradebook": book_cell.grade,
        "gradebook passed": book_cell.passed,
        "csv": csv_row[exercise.slug],
        "api": api_cell["grade"],
        "api passed": api_cell["passed"],
        "page": page,
    }


def test_a_crashed_run_is_worth_nothing_anywhere(seeded, dave):
    crashed_with_full_marks(dave, seeded.broadcast)
    seen = everywhere(seeded, dave, seeded.broadcast)
    assert seen["lesson passed"] is False and seen["lesson best"] == 0.0
    assert seen["lesson done"] == 0 and seen["index done"] == 0
    assert seen["my grades"] == 0.0 and seen["my grades passed"] is False
    assert seen["gradebook"] == 0.0 and seen["gradebook passed"] is False
    assert seen["csv"] == "0" and seen["api"] == 0.0 and seen["api passed"] is False
    # The lesson's history shows the attempt at what it is worth.
    client = login(dave)
    cell = next(i for i in client.get("/lessons/tensors/").context["items"]
                if i["kind"] == "exercise" and i["exercise"].pk == seeded.broadcast.pk)
    assert [(a["outcome"], a["score"]) for a in cell["attempts"]] == [("error", 0.0)]


def test_after_a_regrade_every_page_shows_the_regraded_grade(seeded, dave):
    sub = crashed_with_full_marks(dave, seeded.broadcast)
    version = seeded.broadcast.current_version
    regrade = Regrade.objects.create(course=seeded.course, exercise=seeded.broadcast,
                                     version=version, status=Regrade.Status.DONE,
                                     before={str(dave.pk): 0.0}, finished_at=timezone.now())
    RegradeResult.objects.create(
        regrade=regrade, submission=sub, version=version, status=RegradeResult.Status.DONE,
        outcome="passed", score=1.0, max_score=1.0, finished_at=timezone.now(),
        verdict={"outcome": "passed", "passed": True, "score": 1.0, "max_score": 1.0,
                 "checks": [], "stdout": "", "error": None},
    )
    seen = everywhere(seeded, dave, seeded.broadcast)
    assert seen["lesson passed"] is True and seen["lesson best"] == 1.0
    assert seen["lesson done"] == 1 and seen["index done"] == 1
    assert seen["my grades"] == 1.0 and seen["my grades passed"] is True
    assert seen["gradebook"] == 1.0 and seen["gradebook passed"] is True
    assert seen["csv"] == "1" and seen["api"] == 1.0 and seen["api passed"] is True
    client = login(dave)
    cell = next(i for i in client.get("/lessons/tensors/").context["items"]
                if i["kind"] == "exercise" and i["exercise"].pk == seeded.broadcast.pk)
    assert [(a["outcome"], a["score"], a["regraded"]) for a in cell["attempts"]] == [
        ("passed", 1.0, True)]


def test_a_regrade_that_crashes_counts_nothing_either(seeded):
    """A regrade result stored with points under an outcome that does not count."""
    sub = seeded.subs["b1"]  # bob passed
    version = seeded.broadcast.current_version
    regrade = Regrade.objects.create(course=seeded.course, exercise=seeded.broadcast,
                                     version=version, status=Regrade.Status.DONE)
    RegradeResult.objects.create(
        regrade=regrade, submission=sub, version=version, status=RegradeResult.Status.DONE,
        outcome="timeout", score=1.0, max_score=1.0, finished_at=timezone.now(),
    )
    seen = everywhere(seeded, seeded.bob, seeded.broadcast)
    assert seen["gradebook"] == 0.0 and seen["csv"] == "0" and seen["lesson passed"] is False
    assert selectors.best_effective(seeded.broadcast)[seeded.bob.pk] == 0.0


@pytest.mark.parametrize(("share", "passed"), [(1.0, True), (0.5, False)])
def test_after_an_override_every_page_shows_the_override(seeded, dave, share, passed):
    score = share * seeded.broadcast.spec.max_score
    crashed_with_full_marks(dave, seeded.broadcast)
    Override.objects.create(course=seeded.course, user=dave, exercise=seeded.broadcast,
                            score=score, comment="checked by hand")
    seen = everywhere(seeded, dave, seeded.broadcast)
    # Full marks set by hand pass the exercise; anything less does not.
    assert seen["lesson passed"] is passed and seen["lesson best"] == score
    assert seen["lesson done"] == int(passed) and seen["index done"] == int(passed)
    assert seen["my grades"] == score and seen["my grades passed"] is passed
    assert seen["gradebook"] == score and seen["gradebook passed"] is passed
    assert seen["csv"] == f"{score:g}" and seen["api"] == score and seen["api passed"] is passed


def test_an_override_in_another_course_does_not_reach_the_lesson_page(seeded, dave):
    """Overrides are per course: only the courses the student studies in apply."""
    crashed_with_full_marks(dave, seeded.broadcast)
    Override.objects.create(course=seeded.other, user=dave, exercise=seeded.broadcast,
                            score=1.0)
    cell = next(i for i in login(dave).get("/lessons/tensors/").context["items"]
                if i["kind"] == "exercise" and i["exercise"].pk == seeded.broadcast.pk)
    assert cell["passed"] is False and cell["best"] == 0.0
