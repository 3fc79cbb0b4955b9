"""A student trains a real model in Chromium: the multilayer perceptron on handwritten digits,
graded by a real worker within the default limits, measured on digits the run never sees.
First without the ReLU (the structure diff names it), then the reference way (Passed)."""

from __future__ import annotations

import pytest
from browser_support import ARTIFACTS, log_in
from test_lesson_browser import submit_and_wait

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SLUG = "mlp-digits"


@pytest.fixture
def training_only(transactional_db):
    """The course with the training lesson only (syncing every lesson costs seconds)."""
    from django.conf import settings

    from courses.loader import load_lesson
    from courses.services import SyncReport, lesson_upsert
    from dashboard.access import default_course

    lesson_upsert(load_lesson(settings.LESSONS_DIR / "training"), SyncReport())
    return default_course()


def test_student_trains_an_mlp_on_digits(browser_page, live_server, training_only, alice,
                                         cpu_worker):
    from courses.models import Exercise

    page, watch = browser_page
    solution = Exercise.objects.get(slug=SLUG).spec.solution.strip()
    assert "nn.ReLU()" in solution
    log_in(page, live_server.url, "alice", "alice-pass-123")
    page.goto(f"{live_server.url}/lessons/training/#exercise-{SLUG}")

    # A plausible mistake: the two Linear layers without the ReLU between them.
    outcome = submit_and_wait(page, solution.replace(" nn.ReLU(),", ""), SLUG)
    assert outcome.startswith("Failed"), outcome
    feedback = page.locator(f"#exercise-{SLUG} [data-role=feedback]").inner_text()
    assert "ReLU" in feedback and "missing" in feedback, feedback

    outcome = submit_and_wait(page, solution, SLUG)
    assert outcome.startswith("Passed"), outcome
    feedback = page.locator(f"#exercise-{SLUG} [data-role=feedback]").inner_text()
    assert "held-out" in feedback, feedback
    page.locator(f"#exercise-{SLUG}").screenshot(path=str(ARTIFACTS / "20-mlp-digits-passed.png"))
    watch.assert_clean()
