"""Deadlines in Chromium against the real stack (live server, Redis, a Celery worker): a
student submits after the lesson's deadline, the submission is graded and Passed, and the
instructor's gradebook shows it marked late with the course's late policy applied."""

from __future__ import annotations

from datetime import timedelta

import pytest
from browser_support import ARTIFACTS, log_in
from test_lesson_browser import GRADE_TIMEOUT, replace_code

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def late_tensors(transactional_db):
    """The tensors lesson, due an hour ago; the course takes half off late work."""
    from django.conf import settings
    from django.utils import timezone

    from courses.loader import load_lesson
    from courses.models import Lesson
    from courses.services import SyncReport, lesson_upsert
    from dashboard import services
    from dashboard.access import default_course

    lesson_upsert(load_lesson(settings.LESSONS_DIR / "tensors"), SyncReport())
    Lesson.objects.filter(slug="tensors").update(due=timezone.now() - timedelta(hours=1))
    course = default_course()
    services.late_policy_set(course=course, kind="penalty", penalty=0.5)
    return course


def test_a_late_submission_is_marked_late_in_the_gradebook(browser_page, chromium, live_server,
                                                           late_tensors, cpu_worker):
    from tests.dashboard.conftest import make_user

    from accounts.models import INSTRUCTORS, STUDENTS
    from courses.models import Exercise

    make_user("lena", STUDENTS)
    make_user("teacher", INSTRUCTORS)
    exercise = Exercise.objects.filter(lesson__slug="tensors").order_by("order").first()
    cell = f"#exercise-{exercise.slug}"
    page, watch = browser_page
    log_in(page, live_server.url, "lena", "lena-pass-123")
    page.goto(f"{live_server.url}/lessons/tensors/")
    assert "Due" in page.locator(f"{cell} .exercise-terms").inner_text()
    replace_code(page, exercise.spec.solution.strip(), exercise.slug)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "(sel) => document.querySelector(sel + ' [data-role=feedback]').dataset.count"
        " && !document.querySelector(sel + ' [data-kind=submit]').disabled",
        arg=cell, timeout=GRADE_TIMEOUT,
    )
    outcome = page.locator(f"{cell} [data-role=feedback] .outcome").inner_text()
    assert outcome.startswith("Passed"), outcome  # late work is still graded
    watch.assert_clean()

    teacher = chromium.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    try:
        tpage = teacher.new_page()
        log_in(tpage, live_server.url, "teacher", "teacher-pass-123")
        tpage.goto(f"{live_server.url}/dashboard/pytorch/gradebook/")
        td = tpage.locator(f"td[data-exercise='{exercise.slug}'][data-student='lena']")
        assert td.locator(".late").inner_text() == "late"
        full = exercise.spec.max_score
        assert float(td.locator(".score").inner_text()) == full * 0.5  # half off
        assert "50% off after the deadline" in tpage.locator("[data-testid=late-policy]"
                                                             ).inner_text()
        tpage.screenshot(path=str(ARTIFACTS / "30-gradebook-late.png"), full_page=True)
    finally:
        teacher.close()
