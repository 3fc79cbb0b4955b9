"""lesson.yaml `due`/`opens` and exercise.yaml `due`/`optional`/`weight`: loaded, checked
with file:line messages, written back, and synced into the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from test_loader import edit, find, line_of, problems_of, write_lesson

from courses.loader import ExerciseMeta, dump_lesson, load_lesson

CST = timezone(timedelta(hours=8))


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return write_lesson(tmp_path)


def test_due_and_opens_load_with_their_time_zone(demo: Path) -> None:
    edit(demo / "lesson.yaml", "order: 1\n",
         "order: 1\ndue: 2026-03-01T23:59:00+08:00\nopens: '2026-02-20T08:00:00Z'\n")
    doc = load_lesson(demo)
    assert doc.due == datetime(2026, 3, 1, 23, 59, tzinfo=CST)
    assert doc.opens == datetime(2026, 2, 20, 8, 0, tzinfo=UTC)
    assert doc.meta_of("demo-ex") == ExerciseMeta()


@pytest.mark.parametrize("value, fragment", [
    ("2026-03-01T23:59:00", "needs a time zone"),
    ("2026-03-01", "needs a time and a time zone"),
    ("'next friday'", "is not an ISO date-time"),
    ("[1, 2]", "must be an ISO date-time"),
])
def test_bad_due_is_reported_on_its_line(demo: Path, value: str, fragment: str) -> None:
    edit(demo / "lesson.yaml", "order: 1\n", f"order: 1\ndue: {value}\n")
    problem = find(problems_of(demo), fragment)
    assert problem.file == demo / "lesson.yaml"
    assert problem.line == line_of(demo / "lesson.yaml", "due:")


def test_opens_after_due_is_refused(demo: Path) -> None:
    edit(demo / "lesson.yaml", "order: 1\n",
         "order: 1\ndue: 2026-03-01T00:00:00Z\nopens: 2026-03-02T00:00:00Z\n")
    problem = find(problems_of(demo), "must be before due")
    assert problem.line == line_of(demo / "lesson.yaml", "opens:")


def test_exercise_meta_loads_and_round_trips(demo: Path, tmp_path: Path) -> None:
    ex = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(ex, "queue: cpu\n",
         "queue: cpu\ndue: 2026-04-01T12:00:00+02:00\noptional: true\nweight: 2.5\n")
    edit(demo / "lesson.yaml", "order: 1\n", "order: 1\ndue: 2026-03-01T23:59:00+08:00\n")
    doc = load_lesson(demo)
    meta = doc.meta_of("demo-ex")
    assert meta.due == datetime(2026, 4, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert meta.optional is True and meta.weight == 2.5
    again = load_lesson(dump_lesson(doc, tmp_path / "out"))
    assert again == doc and again.meta == doc.meta and again.due == doc.due


@pytest.mark.parametrize("text, fragment", [
    ("optional: yes please", "optional must be true or false"),
    ("weight: -1", "weight must be a number >= 0"),
    ("weight: heavy", "weight must be a number >= 0"),
    ("due: 2026-04-01 12:00", "needs a time zone"),
])
def test_bad_exercise_meta_is_reported(demo: Path, text: str, fragment: str) -> None:
    ex = demo / "exercises" / "demo-ex" / "exercise.yaml"
    edit(ex, "queue: cpu\n", f"queue: cpu\n{text}\n")
    problem = find(problems_of(demo), fragment)
    assert problem.file == ex and problem.line == line_of(ex, text.split(":")[0] + ":")


def test_sync_stores_the_schedule(db, tmp_path: Path) -> None:
    from courses.models import Exercise, Lesson
    from courses.services import course_sync

    path = write_lesson(tmp_path)
    edit(path / "lesson.yaml", "order: 1\n",
         "order: 1\ndue: 2026-03-01T23:59:00+08:00\nopens: 2026-02-01T00:00:00Z\n")
    edit(path / "exercises" / "demo-ex" / "exercise.yaml", "queue: cpu\n",
         "queue: cpu\noptional: true\nweight: 3\n")
    course_sync(tmp_path)
    lesson = Lesson.objects.get(slug="demo")
    assert lesson.due == datetime(2026, 3, 1, 15, 59, tzinfo=UTC)
    assert lesson.opens == datetime(2026, 2, 1, tzinfo=UTC)
    ex = Exercise.objects.get(slug="demo-ex")
    assert ex.optional and ex.weight == 3.0 and ex.due is None
    assert ex.deadline == lesson.due  # the lesson's, having none of its own
    # Taking the keys out takes the schedule out.
    edit(path / "lesson.yaml", "due: 2026-03-01T23:59:00+08:00\n", "")
    edit(path / "exercises" / "demo-ex" / "exercise.yaml", "optional: true\nweight: 3\n", "")
    course_sync(tmp_path)
    ex = Exercise.objects.select_related("lesson").get(slug="demo-ex")
    assert ex.deadline is None and not ex.optional and ex.weight == 1.0
