"""One verdict view, in Chromium against the live server (no worker needed: the attempts are
stored verdicts). A reload shows the student's last verdict; a click on an old attempt opens
its feedback and its code; the teacher's submission page shows the same feedback component
with the same texts; a draft the server refuses says so; the lesson's "x of n" updates live."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from browser_support import ARTIFACTS, log_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CELL = "#exercise-tensor-broadcast"
PANEL = f"{CELL} [data-role=feedback]"

OLD = {  # the first attempt: an error on line 2
    "outcome": "error", "passed": False, "score": 0.0, "max_score": 1.0, "checks": [],
    "stdout": "before the error\n",
    "error": {"type": "NameError", "line": 2, "diagnostic": "name-error",
              "message": "name 'troch' is not defined",
              "messages": {"en": "Line 2: `troch` is not defined; did you mean `torch`?",
                           "zh-hans": "第 2 行：`troch` 未定义；你是想写 `torch` 吗？"}},
}
LATEST = {  # the last attempt: a wrong value, with Expected / Your value and output
    "outcome": "failed", "passed": False, "score": 0.0, "max_score": 1.0, "error": None,
    "checks": [{"name": "c", "passed": False, "points": 0, "max_points": 1,
                "diagnostic": "wrong-value",
                "message": "`c` is [[0, 0]] but should be [[0, 1]]",
                "messages": {"en": "`c` is [[0, 0]] but should be [[0, 1]]",
                             "zh-hans": "`c` 是 [[0, 0]]，应为 [[0, 1]]"},
                "expected": "tensor([[0, 1]])", "actual": "tensor([[0, 0]])"}],
    "stdout": "shape torch.Size([3, 2])\n",
}


def store(user: Any, code: str, verdict: dict[str, Any], minutes_ago: int) -> Any:
    from django.utils import timezone

    from courses.models import Exercise
    from submissions.models import Submission

    exercise = Exercise.objects.get(slug="tensor-broadcast")
    sub = Submission.objects.create(
        user=user, exercise=exercise, version=exercise.current_version, code=code,
        status=Submission.Status.GRADED, outcome=verdict["outcome"], score=verdict["score"],
        max_score=verdict["max_score"], verdict=verdict,
    )
    # created_at is auto_now_add: set the order of the attempts afterwards.
    Submission.objects.filter(pk=sub.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return sub


def panel_text(locator) -> str:
    return locator.inner_text().strip()


def test_reload_keeps_the_verdict_and_old_attempts_open_read_only(
        browser_page, live_server, course, alice, teacher):
    page, watch = browser_page
    base = live_server.url
    old = store(alice, "x = 1\nc = troch.ones(2)", OLD, 10)
    latest = store(alice, "c = a * b", LATEST, 1)
    log_in(page, base, "alice", "alice-pass-123")
    page.goto(f"{base}/lessons/tensors/")

    # The last verdict is there on load, in full, without a new Submit.
    panel = page.locator(PANEL)
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.loaded === 'latest'",
                           arg=PANEL)
    assert panel.get_attribute("data-submission") == str(latest.pk)
    assert panel.locator(".outcome-word").inner_text() == "Failed"
    assert panel.locator(".message code").first.inner_text() == "c"  # backticks → code
    assert "`" not in panel.locator(".checks").inner_text()
    sides = panel.locator(".compare pre")
    assert [sides.nth(0).inner_text(), sides.nth(1).inner_text()] == \
        ["tensor([[0, 1]])", "tensor([[0, 0]])"]
    assert "shape torch.Size([3, 2])" in panel.locator(".stdout").inner_text()
    assert panel.get_attribute("data-count") is None  # not mistaken for a new verdict
    student_sees = panel.locator(".outcome, .checks, .stdout").all_inner_texts()

    # A reload: still there.
    page.reload()
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.loaded === 'latest'",
                           arg=PANEL)
    assert panel.locator(".outcome, .checks, .stdout").all_inner_texts() == student_sees
    page.locator(CELL).scroll_into_view_if_needed()
    page.locator(CELL).screenshot(path=str(ARTIFACTS / "20-reload-keeps-verdict.png"))

    # A click on the older attempt opens its feedback and its code, read-only.
    history = page.locator(f"{CELL} [data-role=history]")
    history.locator("summary").click()
    rows = history.locator(".attempt")
    assert rows.count() == 2
    rows.nth(1).locator("time").click()
    view = page.locator(f"{CELL} [data-role=attempt-view]")
    page.wait_for_function(
        "([sel, id]) => document.querySelector(sel).dataset.rendered === String(id)",
        arg=[f"{CELL} [data-role=attempt-view]", old.pk])
    assert rows.nth(1).locator(".attempt-open").get_attribute("aria-expanded") == "true"
    assert view.locator(".outcome-word").inner_text() == "Error"
    assert "is not defined; did you mean torch?" in view.locator(".error-message").inner_text()
    assert view.locator(".error-message code").all_inner_texts() == ["troch", "torch"]
    assert view.locator(".code-line").all_inner_texts() == ["x = 1", "c = troch.ones(2)"]
    marked = view.locator(".code-line.error-line")
    assert marked.count() == 1 and marked.inner_text() == "c = troch.ones(2)"
    assert "before the error" in view.locator(".stdout").inner_text()
    assert view.locator("textarea, [contenteditable=true]").count() == 0  # read-only
    # The live panel still shows the last verdict; the editor was not touched.
    assert panel.get_attribute("data-submission") == str(latest.pk)
    view.scroll_into_view_if_needed()
    page.locator(CELL).screenshot(path=str(ARTIFACTS / "21-old-attempt-open.png"))
    # Its Restore button still puts that code in the editor.
    rows.nth(1).get_by_role("button", name="Restore").click()
    page.wait_for_function(
        "(s) => Array.from(document.querySelectorAll(s + ' .cm-line'), (l) => l.textContent)"
        ".join('\\n') === 'x = 1\\nc = troch.ones(2)'", arg=CELL)
    # The same row again closes it.
    rows.nth(1).locator(".attempt-open").click()
    assert view.is_hidden()
    watch.assert_clean()

    # The teacher's submission page: the same component, the same texts.
    page.context.clear_cookies()
    log_in(page, base, "teacher", "teacher-pass-123")
    page.goto(f"{base}/dashboard/pytorch/submissions/{latest.pk}/")
    teacher_panel = page.locator("#verdict")
    page.wait_for_selector("#verdict[data-rendered=true]")
    assert teacher_panel.locator(".outcome, .checks, .stdout").all_inner_texts() == student_sees
    assert teacher_panel.locator(".compare-title").all_inner_texts() == \
        ["Expected", "Your value"]
    # The diff to the attempt before: one line per line, no empty line between them.
    tops = page.eval_on_selector_all(
        "#diff span", "(spans) => spans.map((s) => [s.getBoundingClientRect().top,"
        " s.getBoundingClientRect().bottom])")
    assert len(tops) >= 4
    assert all(abs(tops[i + 1][0] - tops[i][1]) < 1 for i in range(len(tops) - 1)), tops
    page.screenshot(path=str(ARTIFACTS / "22-dashboard-same-feedback.png"), full_page=True)

    # The older attempt on the dashboard: its error line marked in the student's code.
    page.goto(f"{base}/dashboard/pytorch/submissions/{old.pk}/")
    page.wait_for_selector("#verdict[data-rendered=true]")
    assert page.locator("#student-code .error-line").inner_text() == "c = troch.ones(2)"
    assert "Line 2" in page.locator("#verdict .error-message").inner_text()
    assert page.locator("#verdict .error-message code").all_inner_texts() == ["troch", "torch"]
    watch.assert_clean()


def test_the_teacher_reads_the_verdict_in_chinese(browser_page, live_server, course, alice,
                                                  teacher):
    from drafts.models import Preference

    page, watch = browser_page
    sub = store(alice, "c = a * b", LATEST, 1)
    Preference.objects.create(user=teacher, language="zh-hans")
    log_in(page, live_server.url, "teacher", "teacher-pass-123")
    page.goto(f"{live_server.url}/dashboard/pytorch/submissions/{sub.pk}/")
    page.wait_for_selector("#verdict[data-rendered=true]")
    verdict = page.locator("#verdict")
    assert verdict.locator(".outcome-word").inner_text() == "未通过"
    assert "应为" in verdict.locator(".checks .message").inner_text()
    assert verdict.locator(".compare-title").all_inner_texts() == ["期望值", "你的值"]
    watch.assert_clean()


def test_a_refused_draft_stays_in_the_browser_and_says_why(browser_page, live_server, course,
                                                           alice):
    from django.conf import settings

    page, watch = browser_page
    log_in(page, live_server.url, "alice", "alice-pass-123")
    page.goto(f"{live_server.url}/lessons/tensors/")
    box = page.get_by_role("textbox", name="Code for tensor-broadcast")
    box.click()
    page.keyboard.press("Control+a")
    big = "# " + "x" * (settings.MAX_CODE_BYTES + 10)
    page.keyboard.insert_text(big)
    state = page.locator(f"{CELL} [data-role=save-state]")
    page.wait_for_function(
        "(el) => el.classList.contains('unsaved') && el.textContent.length > 0",
        arg=state.element_handle(), timeout=15_000)
    text = state.inner_text()
    assert text == "Too large to save on the server: kept in this browser only."
    assert "not yet on the server" not in text
    kept = page.evaluate(
        "(key) => JSON.parse(localStorage.getItem(key))",
        f"lessonpage:draft:{alice.pk}:tensor-broadcast")
    assert kept["code"] == big and kept["dirty"] is True
    # No endless retries: the refusal is final until the text changes.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/draft" in r.url else None)
    page.wait_for_timeout(6000)
    assert requests == []
    watch.assert_clean()


def test_progress_updates_after_a_pass(browser_page, live_server, course, alice):
    """The lesson's "x of n exercises passed" follows a pass at once (the API is stubbed:
    the grading path has its own tests)."""
    page, watch = browser_page
    passed = {"id": 999, "exercise": "tensor-broadcast", "kind": "submit",
              "status": "graded", "outcome": "passed", "passed": True, "score": 1.0,
              "max_score": 1.0, "queue": "cpu", "checks": [], "stdout": "", "error": None,
              "url": "/api/submissions/999"}

    def submissions(route) -> None:
        if route.request.method == "POST":
            route.fulfill(status=202, content_type="application/json", body=json.dumps(passed))
        else:
            route.continue_()

    page.route("**/api/exercises/tensor-broadcast/submissions*", submissions)
    log_in(page, live_server.url, "alice", "alice-pass-123")
    page.goto(f"{live_server.url}/lessons/tensors/")
    progress = page.locator("[data-role=lesson-progress]")
    assert progress.inner_text() == "0 of 8 exercises passed"
    page.get_by_role("textbox", name="Code for tensor-broadcast").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function("(sel) => document.querySelector(sel).dataset.count === '1'",
                           arg=PANEL)
    assert progress.inner_text() == "1 of 8 exercises passed"
    assert page.locator("[data-toc-for='exercise-tensor-broadcast']").inner_text() == "✓"
    watch.assert_clean()
