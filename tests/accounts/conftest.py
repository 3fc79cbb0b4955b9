"""The dashboard's seeded class (course "pytorch" with the tensors lesson, staff, students,
and course "other"), reused for joining, importing and resetting passwords."""

from __future__ import annotations

import pytest
from tests.dashboard.conftest import (  # noqa: F401  (fixtures)
    _fast_passwords,
    make_user,
    seeded,
    tensors,
)


@pytest.fixture(autouse=True)
def _no_rate_limit_leftovers():
    """Each test starts with empty sign-up and reset counters (Redis outlives the database)."""
    from accounts import ratelimit

    client = ratelimit._client()
    for key in client.scan_iter(f"{ratelimit._PREFIX}*"):
        client.delete(key)
    yield


@pytest.fixture(autouse=True)
def _english_first():
    """Each test starts in English: a zh-hans request leaves its language on the thread."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.deactivate()
