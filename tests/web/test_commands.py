"""Management commands: sync_lessons, apitoken, demo_accounts; and /healthz."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import ApiToken
from courses.models import Exercise, ExerciseVersion, Lesson

pytestmark = pytest.mark.django_db


def test_sync_lessons_is_idempotent(course):
    counts = (Lesson.objects.count(), Exercise.objects.count(), ExerciseVersion.objects.count())
    out = StringIO()
    call_command("sync_lessons", stdout=out)
    assert "new versions" not in out.getvalue()
    assert counts == (
        Lesson.objects.count(), Exercise.objects.count(), ExerciseVersion.objects.count()
    )


def test_changing_a_solution_makes_a_new_version_and_keeps_the_old(tmp_path: Path, settings):
    root = tmp_path / "lessons"
    shutil.copytree(Path(settings.LESSONS_DIR) / "tensors", root / "tensors")
    settings.LESSONS_DIR = root
    call_command("sync_lessons", stdout=StringIO())
    exercise = Exercise.objects.get(slug="tensor-broadcast")
    first = exercise.current_version
    solution = root / "tensors/exercises/tensor-broadcast/solution.py"
    solution.write_text(solution.read_text() + "\nc = c + 0\n")
    out = StringIO()
    call_command("sync_lessons", stdout=out)
    exercise.refresh_from_db()
    assert "tensor-broadcast v2" in out.getvalue()
    assert exercise.current_version.number == 2
    assert ExerciseVersion.objects.filter(pk=first.pk).exists()


def test_sync_lessons_reports_malformed_files(tmp_path: Path, settings):
    root = tmp_path / "lessons"
    shutil.copytree(Path(settings.LESSONS_DIR) / "tensors", root / "tensors")
    (root / "tensors/lesson.yaml").write_text("slug: tensors\norder: [oops\n")
    settings.LESSONS_DIR = root
    with pytest.raises(CommandError, match=r"lesson\.yaml"):
        call_command("sync_lessons", stdout=StringIO())


def test_apitoken_prints_a_working_token(alice):
    out = StringIO()
    call_command("apitoken", "alice", stdout=out)
    assert ApiToken.objects.user_for(out.getvalue().strip()) == alice


def test_apitoken_create_and_unknown_user(db):
    with pytest.raises(CommandError, match="--create"):
        call_command("apitoken", "zed", stdout=StringIO())
    out = StringIO()
    call_command("apitoken", "zed", "--create", stdout=out)
    assert ApiToken.objects.user_for(out.getvalue().strip()).username == "zed"


def test_demo_accounts_can_log_in(db):
    call_command("demo_accounts", stdout=StringIO())
    assert Client().login(username="student", password="learn-torch-1")
    assert Client().login(username="teacher", password="teach-torch-1")


def test_healthz_says_which_part_is_down(db):
    with mock.patch("submissions.health.workers.online", return_value={"cpu": 0, "gpu": 0}):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok" and response.json()["redis"] == "ok"
    assert "no cpu worker" in response.json()["worker_cpu"]
    with mock.patch("submissions.health.workers.online", return_value={"cpu": 2, "gpu": 0}):
        assert Client().get("/healthz").status_code == 200


def test_healthz_reports_redis_down(db, settings):
    from submissions import workers

    workers.redis_client.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        response = Client().get("/healthz")
    finally:
        workers.redis_client.cache_clear()
    assert response.status_code == 503 and response.json()["redis"].startswith("down")
