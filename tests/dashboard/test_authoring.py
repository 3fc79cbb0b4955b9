"""Authoring in the browser: files → database → web form → files, unchanged; edit a check,
validate through the queue, publish a new version; problems reported like sync_lessons."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from courses.loader import load_lesson
from courses.models import Exercise, Lesson
from dashboard import services
from dashboard.models import ExerciseDraft, Validation
from grading.spec import ExerciseSpec

LESSON = settings.LESSONS_DIR / "tensors"


class FormReader(HTMLParser):
    """The values a browser would submit for the form with id `form_id`."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id, self.inside, self.values = form_id, False, {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data


def form_values(html: str, form_id: str = "exercise-form") -> dict[str, str]:
    reader = FormReader(form_id)
    reader.feed(html)
    values = reader.values
    # A browser drops the newline right after <textarea>, as the HTML spec says.
    return {k: v[1:] if v.startswith("\n") else v for k, v in values.items()}


def unzip(raw: bytes, into: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        names = archive.namelist()
        assert all(n.startswith("tensors/") and ".." not in n for n in names)
        archive.extractall(into)
    return into / "tensors"


def export(client, tmp_path: Path, name: str = "out") -> Path:
    response = client.get(reverse("dashboard:lesson-export", args=["pytorch", "tensors"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    return unzip(response.content, tmp_path / name)


@pytest.fixture
def teacher_client(client, seeded):
    client.force_login(seeded.teacher)
    return client


def test_export_round_trips_the_lesson_files(teacher_client, tmp_path):
    original = load_lesson(LESSON)
    folder = export(teacher_client, tmp_path)
    assert load_lesson(folder) == original
    # Same set of files as the repository's lesson folder.
    ours = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(LESSON).as_posix() for p in LESSON.rglob("*") if p.is_file())
    assert ours == theirs


def test_web_form_round_trips_every_exercise(teacher_client, seeded, eager_celery,
                                              fake_grader, tmp_path,
                                              django_capture_on_commit_callbacks):
    """Open each exercise's edit page, submit its form unchanged, validate, publish:
    no new version, and the exported lesson equals the files it came from."""
    original = load_lesson(LESSON)
    for spec in original.exercises:
        url = reverse("dashboard:exercise-edit", args=["pytorch", spec.slug])
        values = form_values(teacher_client.get(url).content.decode())
        assert teacher_client.post(url, values).status_code == 302
        draft = ExerciseDraft.objects.get(slug=spec.slug)
        assert draft.problems == []
        assert ExerciseSpec.from_dict(draft.spec) == replace(spec, version="")
        with django_capture_on_commit_callbacks(execute=True):
            response = teacher_client.post(
                reverse("dashboard:exercise-validate", args=["pytorch", spec.slug]), values,
                HTTP_ACCEPT="application/json")
        assert response.status_code == 202
        result = teacher_client.get(response.json()["url"]).json()
        assert result["status"] == "done" and result["passed"] is True, result["report"]
        assert result["can_publish"] is True
        teacher_client.post(reverse("dashboard:exercise-publish", args=["pytorch", spec.slug]))
        assert Exercise.objects.get(slug=spec.slug).current_version.number == 1
    assert not ExerciseDraft.objects.exists()
    assert load_lesson(export(teacher_client, tmp_path)) == original


def test_edit_a_check_validate_publish(teacher_client, seeded, eager_celery, fake_grader,
                                       tmp_path, django_capture_on_commit_callbacks):
    url = reverse("dashboard:exercise-edit", args=["pytorch", "tensor-broadcast"])
    values = form_values(teacher_client.get(url).content.decode())
    assert values["checks"] == ("- name: shape_ab\n  label: shape_ab (your prediction of the "
                                "shape of a + b)\n- name: err\n")
    values["checks"] = "- name: shape_ab\n  points: 2\n  label: the predicted shape\n- name: err\n"
    values["prompt_en"] += "\nNote the shape (3, 2).\n"

    # Publishing before validating is refused.
    teacher_client.post(url, values)
    publish = reverse("dashboard:exercise-publish", args=["pytorch", "tensor-broadcast"])
    teacher_client.post(publish)
    assert Exercise.objects.get(slug="tensor-broadcast").current_version.number == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = teacher_client.post(
            reverse("dashboard:exercise-validate", args=["pytorch", "tensor-broadcast"]), values,
            HTTP_ACCEPT="application/json")
    validation = Validation.objects.get(pk=response.json()["id"])
    assert validation.passed is True
    # The worker ran reference, reference again, starter — in that order.
    solution = "shape_ab = (2, 3, 4)\nerr = y_hat.reshape(-1) - y\n"
    starter = ("shape_ab = None  # your prediction, as a tuple of integers\n"
               "err = y_hat - y  # broadcasts silently to shape (4, 4): repair it\n")
    assert [code for _, code in fake_grader] == [solution, solution, starter]
    assert validation.report["reference"]["score"] == 3.0

    response = teacher_client.post(publish)
    exercise = Exercise.objects.get(slug="tensor-broadcast")
    assert exercise.current_version.number == 2
    assert exercise.spec.max_score == 3.0
    assert response["Location"] == reverse("dashboard:exercise",
                                           args=["pytorch", "tensor-broadcast"])

    doc = load_lesson(export(teacher_client, tmp_path))
    spec = doc.exercise("tensor-broadcast")
    assert spec.checks[0].points == 2 and spec.checks[0].label == "the predicted shape"
    assert spec.prompt["en"].endswith("Note the shape (3, 2).\n")


def test_validation_failures_block_publishing(teacher_client, seeded, eager_celery,
                                              fake_grader, django_capture_on_commit_callbacks):
    url = reverse("dashboard:exercise-edit", args=["pytorch", "tensor-broadcast"])
    values = form_values(teacher_client.get(url).content.decode())
    values["starter"] = values["solution"]  # a starter that already passes
    with django_capture_on_commit_callbacks(execute=True):
        response = teacher_client.post(
            reverse("dashboard:exercise-validate", args=["pytorch", "tensor-broadcast"]), values,
            HTTP_ACCEPT="application/json")
    result = teacher_client.get(response.json()["url"]).json()
    assert result["passed"] is False and result["can_publish"] is False
    assert any("starter code already passes" in p for p in result["report"]["problems"])
    assert "starter code already passes" in result["html"]
    teacher_client.post(reverse("dashboard:exercise-publish", args=["pytorch", "tensor-broadcast"]))
    assert Exercise.objects.get(slug="tensor-broadcast").spec.starter != values["solution"]


def test_format_problems_point_at_the_checks_line(teacher_client, seeded):
    url = reverse("dashboard:exercise-edit", args=["pytorch", "tensor-broadcast"])
    values = form_values(teacher_client.get(url).content.decode())
    values["checks"] = "- name: c\n- name: c\n  pionts: 2\n"
    teacher_client.post(url, values)
    draft = ExerciseDraft.objects.get(slug="tensor-broadcast")
    assert draft.spec is None
    assert any(p.startswith("checks, line 3") and "pionts" in p for p in draft.problems), \
        draft.problems
    page = teacher_client.get(url).content.decode()
    assert "pionts" in page  # shown, and the draft keeps what the author typed
    assert form_values(page)["checks"] == values["checks"]
    response = teacher_client.post(
        reverse("dashboard:exercise-validate", args=["pytorch", "tensor-broadcast"]), values,
        HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and response.json()["problems"]
    assert not Validation.objects.exists()


def test_new_exercise(teacher_client, seeded, eager_celery, fake_grader, tmp_path,
                      django_capture_on_commit_callbacks):
    new = reverse("dashboard:exercise-new", args=["pytorch", "tensors"])
    values = form_values(teacher_client.get(new).content.decode())
    values.update({
        "slug": "tensor-double", "title_en": "Double it", "title_zh-hans": "翻倍",
        "prompt_en": "Set `y = 2 * x`.", "prompt_zh-hans": "令 `y = 2 * x`。",
        "hint1_en": "Multiply.", "hint1_zh-hans": "乘法。",
        "setup": "import torch\nx = torch.arange(3)\n", "starter": "y = None\n",
        "solution": "y = 2 * x\n", "checks": "- name: y\n",
    })
    response = teacher_client.post(new, values)
    edit = reverse("dashboard:exercise-edit", args=["pytorch", "tensor-double"])
    assert response["Location"] == edit
    assert ExerciseDraft.objects.get(slug="tensor-double").problems == []
    assert not Exercise.objects.filter(slug="tensor-double").exists()  # students see nothing
    with django_capture_on_commit_callbacks(execute=True):
        teacher_client.post(reverse("dashboard:exercise-validate",
                                    args=["pytorch", "tensor-double"]), values)
    teacher_client.post(reverse("dashboard:exercise-publish", args=["pytorch", "tensor-double"]))
    exercise = Exercise.objects.get(slug="tensor-double")
    assert exercise.current_version.number == 1
    lesson = Lesson.objects.get(slug="tensors")
    assert all("::: exercise tensor-double" in text for text in lesson.prose.values())
    doc = load_lesson(export(teacher_client, tmp_path))
    assert doc.exercises[-1].slug == "tensor-double"
    assert doc.exercise("tensor-double").title["zh-hans"] == "翻倍"


def test_lesson_edit_is_checked_like_sync_lessons(teacher_client, seeded):
    url = reverse("dashboard:lesson-edit", args=["pytorch", "tensors"])
    html = teacher_client.get(url).content.decode()
    values = form_values(html.replace('<form method="post" class="stack">',
                                      '<form method="post" class="stack" id="lesson-form">'),
                         "lesson-form")
    values["summary_en"] = "Tensors, edited on the web."
    assert teacher_client.post(url, values).status_code == 302
    assert Lesson.objects.get(slug="tensors").summary["en"] == "Tensors, edited on the web."
    # Dropping an exercise's placement is refused with the loader's message.
    broken = dict(values, **{"prose_en": values["prose_en"].replace(
        "::: exercise tensor-cat", "")})
    response = teacher_client.post(url, broken)
    assert response.status_code == 200
    assert "tensor-cat" in response.content.decode() and "never placed" in \
        response.content.decode()
    assert "::: exercise tensor-cat" in Lesson.objects.get(slug="tensors").prose["en"]


def test_new_lesson(teacher_client, seeded):
    url = reverse("dashboard:lesson-new", args=["pytorch"])
    response = teacher_client.post(url, {
        "slug": "autograd-basics", "order": "99", "title_en": "Autograd",
        "title_zh-hans": "自动求导", "summary_en": "Gradients.", "summary_zh-hans": "梯度。",
        "prose_en": "# Autograd\n", "prose_zh-hans": "# 自动求导\n"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Lesson.objects.get(slug="autograd-basics").title["zh-hans"] == "自动求导"


def test_preview_escapes_titles(teacher_client, seeded):
    response = teacher_client.post(reverse("dashboard:exercise-preview", args=["pytorch"]), {
        "title_en": "<img src=x onerror=alert(1)>", "prompt_en": "**bold**",
        "starter": "x = '<script>'"})
    html = response.json()["html"]
    assert "<img" not in html and "&lt;img" in html
    assert "<strong>bold</strong>" in html
    assert "&lt;script&gt;" in html


def test_validate_applies_the_check_lessons_rules():
    """Validate has no rules of its own: it is courses.soundness.check_exercise."""
    import dashboard.tasks
    from courses.soundness import check_exercise

    assert dashboard.tasks.check_exercise is check_exercise
    spec = load_lesson(LESSON).exercise("tensor-broadcast")
    full = spec.max_score
    ok = {"outcome": "passed", "score": full, "max_score": full,
          "checks": [{"name": "c", "passed": True}]}
    bad = {"outcome": "failed", "score": 0.0, "max_score": full,
           "checks": [{"name": "c", "passed": False, "diagnostic": "wrong-value",
                       "message": "c is wrong"}]}

    def judge(*runs: dict) -> dict:
        """The report for these (reference, reference again, starter) verdicts."""
        verdicts = iter(runs)
        return check_exercise(spec, lambda s, code: next(verdicts), gpu_available=True).to_dict()

    assert judge(ok, ok, bad)["ok"] is True
    report = judge(bad, bad, bad)
    assert not report["ok"] and "c is wrong" in report["problems"][0]
    assert report["reference"]["outcome"] == "failed" and report["starter"]["score"] == 0.0
    assert "already passes" in judge(ok, ok, ok)["problems"][0]
    assert "disagree" in judge(ok, bad, bad)["problems"][-1]
    assert services.spec_hash(spec.to_dict()) == services.spec_hash(
        replace(spec, version="3-x").to_dict())
