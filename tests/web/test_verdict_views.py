"""One verdict view for student and teacher: the lesson page loads verdicts from the API
(its code included), the dashboard's submission page draws the same verdict JSON with the same
component and strings, in the teacher's language, and its diff is not double-spaced."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from courses.feedback_ui import feedback_strings
from courses.models import Exercise
from courses.views import ui_strings
from dashboard.access import default_course
from dashboard.models import Course, Membership, Regrade, RegradeResult
from drafts.models import Preference
from submissions.models import Submission

pytestmark = pytest.mark.django_db
STATIC = Path(settings.BASE_DIR) / "static" / "js"

VERDICT: dict[str, Any] = {
    "outcome": "failed", "passed": False, "score": 0.0, "max_score": 1.0,
    "message": {"en": "A note", "zh-hans": "一条说明"},
    "error": {"type": "NameError", "line": 2, "diagnostic": "name-error",
              "message": "name 'troch' is not defined",
              "messages": {"en": "Line 2: `troch` is not defined; did you mean `torch`?",
                           "zh-hans": "第 2 行：`troch` 未定义；你是想写 `torch` 吗？"}},
    "checks": [{"name": "c", "passed": False, "points": 0, "max_points": 1,
                "diagnostic": "wrong-value", "message": "`c` is [2, 3] but should be [3, 4]",
                "messages": {"en": "`c` is [2, 3] but should be [3, 4]",
                             "zh-hans": "`c` 是 [2, 3]，应为 [3, 4]"},
                "expected": "tensor([3, 4])", "actual": "tensor([2, 3])"}],
    "stdout": "printed\n",
}


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def graded(user: User, code: str, verdict: dict[str, Any] | None = None) -> Submission:
    exercise = Exercise.objects.get(slug="tensor-broadcast")
    verdict = verdict or VERDICT
    return Submission.objects.create(
        user=user, exercise=exercise, version=exercise.current_version, code=code,
        status=Submission.Status.GRADED, outcome=verdict["outcome"], score=verdict["score"],
        max_score=verdict["max_score"], verdict=verdict,
    )


def json_script(html: str, element_id: str) -> Any:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>',
                      html, re.S)
    assert match, element_id
    return json.loads(match.group(1))


# --------------------------------------------------------------------------- the API's `code`


def test_the_owner_reads_the_code_of_an_attempt(course, alice):
    sub = graded(alice, "x = 1\nc = troch.ones(2)")
    data = login(alice).get(f"/api/submissions/{sub.pk}").json()
    assert data["code"] == "x = 1\nc = troch.ones(2)"
    assert data["checks"][0]["expected"] == "tensor([3, 4])"  # the whole verdict, as before


def test_course_staff_read_the_code_and_nobody_else_does(course, alice, bob, teacher):
    sub = graded(alice, "c = a * b  # alice's")
    assert login(teacher).get(f"/api/submissions/{sub.pk}").json()["code"] == \
        "c = a * b  # alice's"
    response = login(bob).get(f"/api/submissions/{sub.pk}")
    assert response.status_code == 404 and "alice's" not in response.content.decode()
    # The instructor of another course is staff, but not of alice's course.
    other = User.objects.create_user("other-teacher", password="other-teacher-pass-1")
    Membership.objects.create(course=Course.objects.create(slug="other", title="Other"),
                              user=other, role=Membership.Role.INSTRUCTOR)
    response = login(other).get(f"/api/submissions/{sub.pk}")
    assert response.status_code == 404 and "alice's" not in response.content.decode()


# --------------------------------------------------------------------------- the lesson page


def test_the_lesson_page_loads_verdicts_from_the_api(course, alice):
    sub = graded(alice, "c = a * b")
    html = login(alice).get("/lessons/tensors/").content.decode()
    # Where the script reads a verdict, and where the progress line it updates is.
    assert 'data-submission-url="/api/submissions/0"' in html
    assert 'data-role="lesson-progress"' in html
    assert f'"id": {sub.pk}' in html  # the attempt's summary names the submission to load
    assert "`c` is [2, 3]" not in html  # the verdict itself is not in the page
    # The shared component loads before the lesson script that uses it.
    assert html.index("/static/js/feedback.js") < html.index("/static/js/lesson.js")


def test_every_string_the_scripts_ask_for_exists():
    """feedback.js and lesson.js look their texts up by key; a missing key would show the key."""

    def keys(name: str) -> set[str]:
        source = (STATIC / name).read_text()
        return set(re.findall(r'\bt\("([a-z_]+)"', source))

    component, lesson = keys("feedback.js"), keys("lesson.js")
    assert {"output", "line", "checks", "traceback"} <= component  # the pattern works
    # Keys it reaches through a variable: the two sides of a comparison, every outcome.
    component |= {"expected", "actual", "passed", "failed", "error", "timeout",
                  "memory_limit", "output_limit", "rejected", "queue_unavailable",
                  "internal_error"}
    assert component - set(feedback_strings()) == set()
    assert lesson - set(ui_strings()) == set()
    # The lesson page hands the component exactly the dashboard's strings (and its own).
    assert feedback_strings().items() <= ui_strings().items()


def test_new_lesson_strings_are_translated(course, alice):
    Preference.objects.create(user=alice, language="zh-hans")
    html = login(alice).get("/lessons/tensors/").content.decode()
    ui = json_script(html, "lesson-ui")
    assert ui["draft_too_large"] == "草稿太大，服务器无法保存：只保存在此浏览器中。"
    # The live "x of n" reads as the server-rendered one does.
    assert ui["progress"] == "已通过 %(done)s / %(total)s 道练习"
    assert "not yet on the server" not in ui["draft_too_large"]


# --------------------------------------------------------------------------- the dashboard


def submission_page(client: Client, sub: Submission) -> str:
    response = client.get(reverse("dashboard:submission", args=["pytorch", sub.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_dashboard_draws_the_students_verdict_json(course, alice, teacher):
    sub = graded(alice, "x = 1\nc = troch.ones(2)")
    html = submission_page(login(teacher), sub)
    shown = json_script(html, "verdict-json")
    api = login(alice).get(f"/api/submissions/{sub.pk}").json()
    api.pop("code")
    assert shown == api  # the very JSON the student's page reads
    # The component's strings, the same the lesson page hands it.
    lesson_ui = json_script(login(alice).get("/lessons/tensors/").content.decode(), "lesson-ui")
    ui = json_script(html, "feedback-ui")
    assert ui == feedback_strings() and ui.items() <= lesson_ui.items()
    assert 'data-verdict-source="verdict-json"' in html and 'data-lang="en"' in html
    assert html.index("/static/js/feedback.js") > html.index("<h1>")
    # The code, one numbered line per span, so the component can mark the verdict's line.
    assert '<span class="code-line" data-line="2">c = troch.ones(2)</span>' in html
    # No inline script: the verdict travels as JSON data only.
    assert html.count("<script") == html.count('<script src="/static/') + 2


def test_the_dashboard_speaks_the_teachers_language(course, alice, teacher):
    Preference.objects.create(user=teacher, language="zh-hans")
    sub = graded(alice, "c = a * b")
    html = submission_page(login(teacher), sub)
    assert 'data-lang="zh-hans"' in html
    ui = json_script(html, "feedback-ui")
    assert ui["expected"] == "期望值" and ui["actual"] == "你的值"
    assert ui["failed"] == "未通过" and ui["passed"] == "通过"
    assert "学生看到的反馈" in html


def test_a_regrade_is_drawn_with_the_same_component(course, alice, teacher):
    sub = graded(alice, "c = a + b")
    exercise = sub.exercise
    regrade = Regrade.objects.create(course=default_course(),
                                     exercise=exercise, version=exercise.current_version,
                                     total=1, status=Regrade.Status.DONE)
    after = {**VERDICT, "outcome": "passed", "passed": True, "score": 1.0, "error": None,
             "checks": [{"name": "c", "passed": True, "points": 1, "max_points": 1,
                         "message": "`c` is right"}]}
    RegradeResult.objects.create(regrade=regrade, submission=sub,
                                 version=exercise.current_version,
                                 status=RegradeResult.Status.DONE, outcome="passed", score=1.0,
                                 max_score=1.0, verdict=after, finished_at=timezone.now())
    html = submission_page(login(teacher), sub)
    shown = json_script(html, "regrade-json")
    assert (shown["outcome"], shown["score"], shown["status"]) == ("passed", 1.0, "graded")
    assert shown["checks"][0]["message"] == "`c` is right"
    assert json_script(html, "verdict-json")["outcome"] == "failed"  # what the student saw
    number = exercise.current_version.number
    assert f"The latest regrade (v{number}): what the student sees now" in html


def test_the_diff_is_not_double_spaced(course, alice, teacher):
    graded(alice, "a = 1\nb = 2\nc = a * b\n")
    later = graded(alice, "a = 1\nb = 2\nc = a + b\n")
    html = submission_page(login(teacher), later)
    diff = re.search(r'<pre class="diff" id="diff">(.*?)</pre>', html, re.S).group(1)
    # Every line is a block of its own (dashboard.css): a newline between them would add
    # an empty line after each.
    assert "\n" not in diff
    lines = re.findall(r'<span class="d-(\w+)">(.*?)</span>', diff)
    assert ("del", "-c = a * b") in lines and ("add", "+c = a + b") in lines
    assert diff == "".join(f'<span class="d-{k}">{t}</span>' for k, t in lines)


def test_the_dashboard_applies_the_score_rule_to_an_old_row(course, alice, teacher):
    """A row graded before the score rule (an error with full marks) is shown as it counts
    now: 0 points, its checks not counted, the rule's sentence on it."""
    crashed = {"outcome": "error", "passed": False, "score": 2.0, "max_score": 2.0,
               "error": {"type": "RuntimeError", "message": "backward twice"},
               "checks": [{"name": "x.grad", "passed": True, "points": 2, "max_points": 2}]}
    sub = graded(alice, "y.backward()\ny.backward()", crashed)
    shown = json_script(submission_page(login(teacher), sub), "verdict-json")
    assert shown["score"] == 0
    assert shown["checks"][0]["points"] == 0 and shown["checks"][0]["counted"] is False
    assert shown["message"]["en"] and shown["message"]["zh-hans"]
