"""LTI fixtures: a test LMS (its own key pair, JWKS and AGS endpoints on a local HTTP
server thread) registered for the default course, which holds the tensors lesson."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_lms import FakeLMS


@pytest.fixture
def tensors(db):
    from django.conf import settings

    from courses.loader import load_lesson
    from courses.services import SyncReport, lesson_upsert

    return lesson_upsert(load_lesson(settings.LESSONS_DIR / "tensors"), SyncReport())


@pytest.fixture
def lms(db, tensors) -> Iterator[FakeLMS]:
    from dashboard.access import default_course

    fake = FakeLMS().start()
    fake.platform = fake.register(default_course())  # type: ignore[attr-defined]
    try:
        yield fake
    finally:
        fake.stop()
