"""A seeded class: the synced course, three students, staff, another course's instructor."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from accounts.models import INSTRUCTORS, STUDENTS
from courses.models import Exercise
from dashboard.models import Course, Membership
from submissions.models import Submission

T0 = timezone.now().replace(microsecond=0) - timedelta(days=2)


def record_sends(monkeypatch: pytest.MonkeyPatch, *tasks: Any) -> list[tuple[str, int, str]]:
    """Record (task's short name, id, queue) for each of `tasks` published through
    `submissions.jobs.send` instead of sending it; other tasks are sent as usual."""
    from submissions import jobs

    names = {task.name for task in tasks}
    sent: list[tuple[str, int, str]] = []
    send = jobs.send

    def record(task: Any, pk: int, queue: str) -> None:
        if task.name not in names:
            return send(task, pk, queue)
        sent.append((task.name.rsplit(".", 1)[-1], pk, queue))

    monkeypatch.setattr(jobs, "send", record)
    return sent


def make_user(name: str, group: str, **extra: Any) -> User:
    user = User.objects.create_user(name, password=f"{name}-pass-123", **extra)
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def verdict(outcome: str, score: float, max_score: float, diagnostics: list[str] = ()) -> dict:
    checks = [
        {"name": f"check{i}", "passed": False, "points": 0, "max_points": 1, "diagnostic": d,
         "message": f"{d} happened"}
        for i, d in enumerate(diagnostics)
    ]
    if outcome == "passed":
        checks = [{"name": "c", "passed": True, "points": max_score, "max_points": max_score,
                   "diagnostic": None, "message": ""}]
    return {"outcome": outcome, "passed": outcome == "passed", "score": score,
            "max_score": max_score, "checks": checks, "stdout": "", "error": None,
            "duration_ms": 5}


def make_sub(user: User, exercise: Exercise, code: str, outcome: str, score: float,
             minutes: float, diagnostics: list[str] = (), kind: str = "submit") -> Submission:
    max_score = exercise.spec.max_score
    sub = Submission.objects.create(
        user=user, exercise=exercise, version=exercise.current_version, kind=kind, code=code,
        status=Submission.Status.GRADED, outcome=outcome, score=score, max_score=max_score,
        verdict=verdict(outcome, score, max_score, diagnostics),
    )
    at = T0 + timedelta(minutes=minutes)
    Submission.objects.filter(pk=sub.pk).update(
        created_at=at, started_at=at, finished_at=at + timedelta(seconds=2)
    )
    sub.refresh_from_db()
    return sub


@dataclass
class Seeded:
    course: Course
    other: Course
    teacher: User
    ta: User
    outsider: User  # instructor of the other course only
    alice: User
    bob: User
    carol: User
    broadcast: Exercise
    cat: Exercise
    subs: dict[str, Submission]


@pytest.fixture
def tensors(db):
    """Only the tensors lesson (syncing every lesson costs seconds per test)."""
    from django.conf import settings

    from courses.loader import load_lesson
    from courses.services import SyncReport, lesson_upsert

    return lesson_upsert(load_lesson(settings.LESSONS_DIR / "tensors"), SyncReport())


@pytest.fixture
def seeded(db, tensors) -> Seeded:
    from dashboard.access import default_course

    main = default_course()
    other = Course.objects.create(slug="other", title="Another course")
    teacher = make_user("teacher", INSTRUCTORS)
    ta = make_user("tess", STUDENTS)  # a student elsewhere, a TA here: membership decides
    Membership.objects.create(course=main, user=ta, role=Membership.Role.TA)
    outsider = make_user("olga", INSTRUCTORS)
    Membership.objects.create(course=other, user=outsider, role=Membership.Role.INSTRUCTOR)
    alice = make_user("alice", STUDENTS, first_name="Alice", last_name="Ångström")
    bob = make_user("bob", STUDENTS, first_name="=HYPERLINK(\"x\")", last_name="张")
    carol = make_user("carol", STUDENTS)
    broadcast = Exercise.objects.get(slug="tensor-broadcast")
    cat = Exercise.objects.get(slug="tensor-cat")
    subs = {
        # alice: fails twice (shape-mismatch, then broadcast-shape), passes on attempt 3.
        "a1": make_sub(alice, broadcast, "c = a * 2", "failed", 0, 0, ["shape-mismatch"]),
        "a2": make_sub(alice, broadcast, "c = a + b.T", "error", 0, 5, ["broadcast-shape"]),
        "a3": make_sub(alice, broadcast, "c = a + b", "passed", 1, 10),
        # bob: passes at once; fails tensor-cat.
        "b1": make_sub(bob, broadcast, "c = a + b", "passed", 1, 1),
        "b2": make_sub(bob, cat, "<script>alert(1)</script>", "failed", 0, 20,
                       ["shape-mismatch"]),
        # carol: only fails.
        "c1": make_sub(carol, broadcast, "c = b", "failed", 0, 3, ["shape-mismatch"]),
    }
    make_sub(carol, broadcast, "print(a)", "passed", 0, 2, kind="run")
    return Seeded(main, other, teacher, ta, outsider, alice, bob, carol, broadcast, cat, subs)


@pytest.fixture
def eager_celery():
    """Run dashboard tasks in-process (the unit tests' stand-in for a worker)."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = False


def fake_execute(spec, code: str, *, kind: str = "submit") -> dict:
    """A stand-in grader: full marks exactly when the code is the spec's reference."""
    ok = code.strip() == spec.solution.strip()
    score = spec.max_score if ok else 0.0
    return verdict("passed" if ok else "failed", score, spec.max_score,
                   [] if ok else ["wrong-value"])


@pytest.fixture
def fake_grader(monkeypatch):
    import dashboard.tasks

    calls: list[tuple[str, str]] = []

    def run(spec, code, *, kind="submit", author=False):
        calls.append((spec.slug, code))
        return fake_execute(spec, code, kind=kind)

    monkeypatch.setattr(dashboard.tasks, "execute", run)
    return calls


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The real-worker fixture of the integration suite (a Celery worker on `cpu`, real Redis);
# its folder goes on sys.path for the helpers it imports.
_INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(_INTEGRATION) not in sys.path:
    sys.path.append(str(_INTEGRATION))
cpu_worker = _load("dashboard_integration_fixtures", _INTEGRATION / "conftest.py").cpu_worker
