"""LTI fixtures: a test LMS (its own key pair, JWKS and AGS endpoints on a local HTTP
server thread) registered for the default course, which holds the tensors lesson."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_lms import FakeLMS, login_params, state_and_nonce

__all__ = ["begin", "launch", "login_params"]


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


def begin(client, lms: FakeLMS, **extra: str) -> tuple[str, str]:
    """OIDC login initiation; returns the (state, nonce) the tool sent to the LMS."""
    response = client.get("/lti/login/", login_params(lms, **extra))
    assert response.status_code == 302, response.content[:500]
    assert response["Location"].startswith(lms.base + "/auth?")
    return state_and_nonce(response["Location"])


def launch(client, lms: FakeLMS, **claims):
    """A full launch: login initiation, then the signed id_token posted back."""
    state, nonce = begin(client, lms)
    return client.post("/lti/launch/", {"id_token": lms.id_token(nonce, **claims),
                                        "state": state})
