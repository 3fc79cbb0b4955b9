"""A student works through `tensor-broadcast` in Chromium, keyboard only, against the real
stack: live Django server, real Redis, a real Celery worker grading in the sandbox."""

from __future__ import annotations

import json
import re

import pytest
from browser_support import ARTIFACTS, log_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CELL = "#exercise-tensor-broadcast"
# The exercise (issue 13): predict the shape of a + b, repair a silent broadcast.
RIGHT = "shape_ab = (2, 3, 4)\nerr = y_hat.reshape(-1) - y"
WRONG = "shape_ab = (2, 3, 4)\nerr = y - y_hat.reshape(-1)"  # the sign flipped: wrong values
GRADE_TIMEOUT = 90_000


def editor(page, slug: str = "tensor-broadcast"):
    # Its accessible name is translated ("Code for x" / "x 的代码"): match either.
    return page.get_by_role("textbox", name=re.compile(rf"^(Code for {slug}|{slug} 的代码)$"))


def replace_code(page, code: str, slug: str = "tensor-broadcast") -> None:
    box = editor(page, slug)
    box.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    # CodeMirror auto-indents and closes brackets; type line by line, resetting the indent.
    for i, line in enumerate(code.split("\n")):
        if i:
            page.keyboard.press("Enter")
            page.keyboard.press("Home")
            page.keyboard.press("Shift+Home")
            page.keyboard.press("Delete")
        page.keyboard.insert_text(line)
    # CodeMirror reads DOM input asynchronously: wait until its document holds the code.
    page.wait_for_function(
        "([s, code]) => Array.from(document.querySelectorAll(`#exercise-${s} .cm-line`),"
        " (l) => l.textContent).join('\\n') === code",
        arg=[slug, code],
    )


def submit_and_wait(page, code: str, slug: str) -> str:
    """Type `code` into an exercise, Submit, and return the outcome line once graded."""
    cell = f"#exercise-{slug}"
    replace_code(page, code, slug)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "(sel) => document.querySelector(sel + ' [data-role=feedback]').dataset.count"
        " && !document.querySelector(sel + ' [data-kind=submit]').disabled",
        arg=cell, timeout=GRADE_TIMEOUT,
    )
    return page.locator(f"{cell} [data-role=feedback] .outcome").inner_text()


def editor_text(page, slug: str = "tensor-broadcast") -> str:
    return page.evaluate(
        "(s) => Array.from(document.querySelectorAll(`#exercise-${s} .cm-line`),"
        " (l) => l.textContent).join('\\n')",
        slug,
    )


def record_busy_button(page) -> None:
    """Remember whether the Submit button was ever disabled (it must be while in flight)."""
    page.evaluate(
        """() => {
          const b = document.querySelector('#exercise-tensor-broadcast [data-kind=submit]');
          window.__wasDisabled = false;
          new MutationObserver(() => { if (b.disabled) window.__wasDisabled = true; })
            .observe(b, {attributes: true});
        }"""
    )


def wait_verdict(page, previous: int) -> str:
    """Wait for a new verdict in the panel; return its outcome word."""
    page.wait_for_function(
        """([sel, n]) => {
          const p = document.querySelector(sel + ' [data-role=feedback]');
          return p.dataset.count && Number(p.dataset.count) > n
            && !document.querySelector(sel + ' [data-kind=submit]').disabled;
        }""",
        arg=[CELL, previous],
        timeout=GRADE_TIMEOUT,
    )
    return page.locator(f"{CELL} [data-role=feedback] .outcome-word, "
                        f"{CELL} [data-role=feedback] .run-title").first.inner_text()


def verdicts(page) -> int:
    return int(page.locator(f"{CELL} [data-role=feedback]").get_attribute("data-count") or 0)


def shot(page, name: str, full: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def shot_cell(page, name: str) -> None:
    page.locator(CELL).screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_student_works_through_broadcasting(browser_page, live_server, course, alice,
                                            cpu_worker):
    page, watch = browser_page
    base = live_server.url
    log_in(page, base, "alice", "alice-pass-123")
    page.goto(f"{base}/lessons/tensors/")
    # Math typeset by KaTeX from static/, the editor mounted, the TOC present.
    page.wait_for_selector(".prose .katex")
    assert editor(page).get_attribute("aria-label") == "Code for tensor-broadcast"
    assert page.locator(".toc a[href='#exercise-tensor-broadcast']").count() == 1
    shot(page, "01-lesson-page")

    # A wrong answer, submitted with the keyboard: told it failed, and why.
    replace_code(page, WRONG)
    record_busy_button(page)
    page.keyboard.press("Control+Enter")
    assert wait_verdict(page, 0) == "Failed"
    assert page.evaluate("window.__wasDisabled")
    feedback = page.locator(f"{CELL} [data-role=feedback]")
    assert feedback.get_attribute("role") == "status"
    assert "should be" in feedback.inner_text()
    assert feedback.locator(".checks .bad").count() == 1
    assert feedback.locator(".diagnostic").first.inner_text() == "wrong-value"
    page.locator(CELL).scroll_into_view_if_needed()
    shot_cell(page, "02-failed-en")

    # An error: the message names the line, and the editor highlights it.
    replace_code(page, "x = 1\nc = troch.ones(2)")
    page.keyboard.press("Control+Enter")
    assert wait_verdict(page, 1) == "Error"
    assert "torch" in feedback.locator(".error-message").inner_text()
    highlighted = page.locator(f"{CELL} .cm-error-line")
    assert highlighted.count() == 1 and "troch" in highlighted.inner_text()
    shot_cell(page, "03-error-line-en")

    # Run (Shift-Enter): output and the names' values, no grade.
    replace_code(page, "print(a.shape)\nshape_ab = (2, 3, 4)")
    page.keyboard.press("Shift+Enter")
    assert wait_verdict(page, 2) == "Run result (not graded)"
    assert "torch.Size([2, 1, 4])" in feedback.locator(".stdout").inner_text()
    assert "(2, 3, 4)" in feedback.locator(".values").inner_text()
    shot_cell(page, "04-run-en")

    # The right answer: Passed, full score, the exercise marked passed on the page.
    replace_code(page, RIGHT)
    page.keyboard.press("Control+Enter")
    assert wait_verdict(page, 3) == "Passed"
    assert "2 / 2" in feedback.locator(".score").inner_text()
    assert page.locator(f"{CELL} [data-role=passed-badge]").is_visible()
    assert page.locator("[data-toc-for='exercise-tensor-broadcast']").inner_text() == "✓"
    assert page.locator("[data-role=lesson-progress]").inner_text() == "1 of 8 exercises passed"
    shot_cell(page, "05-passed-en")

    # A hint, one at a time.
    page.locator(f"{CELL} [data-role=hint-button]").click()
    page.wait_for_selector(f"{CELL} .hint")
    assert "(3, 1)" in page.locator(f"{CELL} .hint").first.inner_text()
    page.locator(f"{CELL} [data-role=hint-button]").click()  # the second and last
    page.wait_for_function(f"() => document.querySelectorAll('{CELL} .hint').length === 2")
    assert "reshape(-1)" in page.locator(f"{CELL} .hint").nth(1).inner_text()
    assert page.locator(f"{CELL} [data-role=hint-button]").is_disabled()

    # The draft: typed, not submitted, autosaved; a reload brings it back.
    replace_code(page, "c = a + b  # my draft")
    page.wait_for_function(
        "() => document.querySelector('#exercise-tensor-broadcast [data-role=save-state]')"
        ".textContent === 'Draft saved'"
    )
    page.reload()
    page.wait_for_selector(f"{CELL} .cm-line")
    assert editor_text(page) == "c = a + b  # my draft"
    # ...and the last verdict is still on the page (read from the API, not a new Submit).
    page.wait_for_selector(f"{CELL} [data-role=feedback][data-loaded=latest]")
    assert feedback.locator(".outcome-word").inner_text() == "Passed"

    # The server unreachable while typing: the browser's copy survives a reload.
    page.route("**/api/exercises/tensor-broadcast/draft", lambda route: route.abort())
    replace_code(page, "c = a + b  # typed offline")
    page.wait_for_function(
        "() => document.querySelector('#exercise-tensor-broadcast [data-role=save-state]')"
        ".classList.contains('unsaved')"
    )
    page.unroute("**/api/exercises/tensor-broadcast/draft")
    page.reload()
    page.wait_for_selector(f"{CELL} .cm-line")
    assert editor_text(page) == "c = a + b  # typed offline"

    # The history lists every attempt (newest first) and restores one into the editor.
    history = page.locator(f"{CELL} [data-role=history]")
    history.locator("summary").click()
    rows = history.locator(".attempt")
    assert rows.count() == 3
    words = [rows.nth(i).locator(".outcome-word").inner_text() for i in range(3)]
    assert words == ["Passed", "Error", "Failed"]
    rows.nth(2).get_by_role("button", name=re.compile("^Restore")).click()
    assert editor_text(page) == WRONG
    shot_cell(page, "06-history-restored")

    # Switch to Chinese: interface and lesson text change, and a verdict reads in Chinese.
    page.select_option("#language-select", "zh-hans")
    page.locator("#language-submit").click()
    page.wait_for_selector("html[lang='zh-hans']")
    assert "数据操作" in page.locator("h1").inner_text()
    assert page.locator(f"{CELL} [data-kind=submit]").inner_text().startswith("提交")
    shot(page, "07-lesson-page-zh")
    replace_code(page, WRONG)
    page.keyboard.press("Control+Enter")
    assert wait_verdict(page, 0) == "未通过"
    assert "应为" in feedback.inner_text()
    shot_cell(page, "08-failed-zh")
    replace_code(page, RIGHT)
    page.keyboard.press("Control+Enter")
    assert wait_verdict(page, 1) == "通过"
    shot_cell(page, "09-passed-zh")

    # The course page shows the progress, and it survives a later failure.
    page.goto(f"{base}/")
    row = page.locator("[data-lesson='tensors']")
    assert re.search(r"1\D+8", row.locator(".progress-text").inner_text())
    shot(page, "10-course-index-zh")
    watch.assert_clean()


def test_keyboard_only_and_phone_layout(chromium, live_server, course, alice):
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                   has_touch=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice", "alice-pass-123")
        page.goto(f"{live_server.url}/lessons/tensors/")
        page.wait_for_selector(".cm-editor")
        # Nothing wider than the phone's screen.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the screen"
        shot(page, "11-phone")
        # Tab reaches the first editor; Escape then Tab leaves it for the Run button.
        page.keyboard.press("Tab")
        for _ in range(80):
            label = page.evaluate("document.activeElement.getAttribute('aria-label')")
            if label == "Code for tensor-arange":
                break
            page.keyboard.press("Tab")
        else:
            pytest.fail("Tab never reached the first editor")
        page.keyboard.press("Escape")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.dataset.kind") == "run"
        # No worker in this test: a submission waits in the queue, and the page says so,
        # with its place in the queue, both buttons disabled until it is graded.
        editor(page, "tensor-arange").click()
        page.keyboard.press("Control+Enter")
        status = page.locator("#exercise-tensor-arange [data-role=status]")
        page.wait_for_function(
            "(el) => el.textContent.startsWith('Queued, position 1')", arg=status.element_handle()
        )
        assert page.locator("#exercise-tensor-arange [data-kind=submit]").is_disabled()
        assert page.locator("#exercise-tensor-arange [data-kind=run]").is_disabled()
        page.locator("#exercise-tensor-arange").scroll_into_view_if_needed()
        shot(page, "12-phone-queued")
        # Stop polling and let the server's last long poll (2 s) end before the test
        # database goes away.
        page.goto("about:blank")
        page.wait_for_timeout(2500)
    finally:
        context.close()


def test_verdict_rendering_escapes_student_data(browser_page, live_server, course, alice):
    """The feedback panel writes student output as text, and shows expected vs actual side
    by side when a verdict carries them (the API answers are stubbed: no worker here)."""
    page, watch = browser_page
    evil = '<img src=x id=pwned onerror="window.__pwned=1">'
    verdict = {
        "id": 999, "exercise": "tensor-broadcast", "kind": "submit", "status": "graded",
        "outcome": "failed", "passed": False, "score": 0.5, "max_score": 1.0, "queue": "cpu",
        "stdout": f"printed {evil}\n", "output_truncated": True,
        "error": {"type": "ValueError", "message": evil, "line": 2, "diagnostic": None,
                  "messages": {"en": f"Line 2: {evil}", "zh-hans": f"第 2 行：{evil}"}},
        "checks": [
            {"name": "c", "passed": False, "points": 0, "max_points": 0.5,
             "diagnostic": "wrong-value", "message": f"`c` is wrong {evil}",
             "messages": {"en": f"`c` is wrong {evil}"},
             "expected": "tensor([[0, 1], [1, 2]])", "actual": f"tensor([[0, 0]]) {evil}"},
            {"name": "d", "passed": True, "points": 0.5, "max_points": 0.5, "hidden": True,
             "message": "ok", "messages": {"en": "ok"}},
        ],
    }

    def submissions(route) -> None:
        if route.request.method == "POST":
            body = {"id": 999, "status": "queued", "url": "/api/submissions/999"}
            route.fulfill(status=202, content_type="application/json", body=json.dumps(body))
        else:
            route.continue_()

    page.route("**/api/exercises/tensor-broadcast/submissions*", submissions)
    page.route("**/api/submissions/999*", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(verdict)))
    log_in(page, live_server.url, "alice", "alice-pass-123")
    page.goto(f"{live_server.url}/lessons/tensors/")
    replace_code(page, f"x = 1\nc = '{evil}'")
    page.keyboard.press("Control+Enter")
    assert wait_verdict(page, 0) == "Failed"
    panel = page.locator(f"{CELL} [data-role=feedback]")
    assert evil in panel.locator(".stdout").inner_text()
    assert evil in panel.locator(".error-message").inner_text()
    compare = panel.locator(".compare pre")
    assert compare.count() == 2
    assert compare.nth(0).inner_text() == "tensor([[0, 1], [1, 2]])"
    assert evil in compare.nth(1).inner_text()
    assert panel.locator(".hidden-check").count() == 1
    assert panel.locator(".note").count() == 1  # output was cut
    assert page.locator("#pwned").count() == 0 and not page.evaluate("window.__pwned")
    assert "c = '<img" in page.locator(f"{CELL} .cm-error-line").inner_text()
    page.locator(CELL).scroll_into_view_if_needed()
    shot_cell(page, "13-escaped-verdict")
    watch.assert_clean()


def test_the_whole_tensors_lesson_can_be_completed(browser_page, live_server, course, alice,
                                                   cpu_worker):
    """Done when: a student completes `tensors` in the browser, told "Passed" each time."""
    from courses.models import Exercise

    page, watch = browser_page
    log_in(page, live_server.url, "alice", "alice-pass-123")
    page.goto(f"{live_server.url}/lessons/tensors/")
    exercises = list(Exercise.objects.filter(lesson__slug="tensors").order_by("order"))
    assert len(exercises) == 8
    submits: list[str] = []
    polls: list[str] = []

    def record(request) -> None:
        if request.method == "POST" and request.url.split("?")[0].endswith("/submissions"):
            submits.append(request.url)
        elif re.search(r"/api/submissions/\d+(\?|$)", request.url):
            polls.append(request.url)

    page.on("request", record)
    for exercise in exercises:
        outcome = submit_and_wait(page, exercise.spec.solution.strip(), exercise.slug)
        assert outcome.startswith("Passed"), f"{exercise.slug}: {outcome}"
    assert page.locator(".toc-mark.passed").count() == 8
    # The submit waits for its verdict (POST …?wait=1): a quick run's verdict comes with it,
    # one request instead of a submit and a poll (issue #15).
    assert len(submits) == 8 and all(url.endswith("?wait=1") for url in submits), submits
    assert len(polls) < len(submits), polls
    page.goto(f"{live_server.url}/")
    row = page.locator("[data-lesson='tensors']")
    assert "8 of 8 exercises passed" in row.inner_text() and "Completed" in row.inner_text()
    shot(page, "14-tensors-completed")
    watch.assert_clean()
