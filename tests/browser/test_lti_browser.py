"""LTI 1.3 in Chromium against the real stack (live server, Redis, a Celery worker): a test
LMS launches a learner and an instructor into the course (each lands on the lesson with
their role), and the learner's Submit -> Passed reaches the LMS as a grade (AGS).

The LMS's keys, JWKS, token and score endpoints are tests/lti/fake_lms.py (a thread). Its
authorisation page, which answers the tool's OIDC redirect with the signed id_token in an
auto-submitted form, is on that thread too, addressed as `localhost` like the live server:
the same site, so the browser sends the tool its state cookie on the form's POST. A real
LMS is another site; that needs HTTPS (SameSite=None cookies), see docs/lti.md."""

from __future__ import annotations

import sys
import time

import pytest
from browser_support import ARTIFACTS, ROOT
from test_lesson_browser import submit_and_wait

sys.path.insert(0, str(ROOT / "tests" / "lti"))
from fake_lms import INSTRUCTOR, LEARNER, FakeLMS, login_params

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def lms(transactional_db, live_server):
    from django.conf import settings

    from courses.loader import load_lesson
    from courses.services import SyncReport, lesson_upsert
    from dashboard.access import default_course

    lesson_upsert(load_lesson(settings.LESSONS_DIR / "tensors"), SyncReport())
    fake = FakeLMS().start()
    platform = fake.register(default_course())
    # On the tool's site (localhost, another port): see the module's docstring.
    platform.auth_login_url = f"http://localhost:{fake.server.server_address[1]}/auth"
    platform.save()
    try:
        yield fake
    finally:
        fake.stop()


def launch(page, lms: FakeLMS, base: str, **claims) -> None:
    """The LMS's launch: login initiation, its authorisation page (fake_lms.py) answering
    with the signed id_token, then the tool's redirect to the lesson."""
    lms.launch_claims = claims
    query = "&".join(f"{k}={v}" for k, v in login_params(lms).items())
    page.goto(f"{base}/lti/login/?{query}")
    page.wait_for_url(f"{base}/lessons/tensors/")


def lesson_total(user) -> tuple[float, float]:
    """The tensors lesson's total as the effective grade has it (dashboard/grades.py)."""
    from courses.models import Exercise
    from dashboard.access import default_course
    from dashboard.grades import effective_grades, weight_of

    exercises = list(Exercise.objects.filter(lesson__slug="tensors",
                                             current_version__isnull=False))
    cells = effective_grades(exercises, [user.pk], course=default_course())
    given = sum((cells[(user.pk, e.pk)].grade or 0) * weight_of(e)
                for e in exercises if (user.pk, e.pk) in cells)
    return given, sum(e.spec.max_score * weight_of(e) for e in exercises)


def test_lti_launch_lands_on_the_lesson_and_passback_records_the_score(
        browser_page, chromium, live_server, lms, cpu_worker):
    from courses.models import Exercise
    from dashboard.access import default_course, role_of
    from lti.models import Identity, Passback

    base = live_server.url
    page, watch = browser_page
    launch(page, lms, base, sub="learner-1", roles=[LEARNER])
    student = Identity.objects.get(sub="learner-1").user
    assert role_of(student, default_course()) == "student"
    assert page.locator("a[href='/dashboard/']").count() == 0  # no dashboard for students
    page.screenshot(path=str(ARTIFACTS / "40-lti-learner-lesson.png"), full_page=False)

    # An instructor's launch (another browser) lands on the lesson too, and may open the
    # dashboard, whose LMS page lists the learner's passback.
    teacher = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        tpage = teacher.new_page()
        launch(tpage, lms, base, sub="teacher-1", roles=[INSTRUCTOR])
        assert role_of(Identity.objects.get(sub="teacher-1").user, default_course()) \
            == "instructor"
        tpage.goto(f"{base}/dashboard/pytorch/lti/")
        assert tpage.locator(f"[data-passback] >> text={student.username}").count() == 1
    finally:
        teacher.close()

    # Submit -> Passed, then the grade arrives at the LMS (a Celery task, not the request).
    exercise = Exercise.objects.filter(lesson__slug="tensors").order_by("order").first()
    outcome = submit_and_wait(page, exercise.spec.solution.strip(), exercise.slug)
    assert outcome.startswith("Passed"), outcome
    deadline = time.monotonic() + 60
    while not lms.scores and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lms.scores, Passback.objects.values()
    given, maximum = lesson_total(student)
    assert given > 0
    score = lms.scores[-1]
    assert (score["scoreGiven"], score["scoreMaximum"]) == (given, maximum)
    assert score["userId"] == "learner-1"
    assert Passback.objects.get(user=student).status == "sent"
    watch.assert_clean()
