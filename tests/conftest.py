"""Shared fixtures: three users (alice and bob study, teacher teaches) and the synced course."""

from __future__ import annotations

import sys

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from accounts.models import INSTRUCTORS, STUDENTS, ApiToken


@pytest.fixture
def course(db):
    from courses.services import course_sync

    return course_sync(settings.LESSONS_DIR)


def _user(name: str, group: str) -> User:
    user = User.objects.create_user(name, password=f"{name}-pass-123")
    user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def alice(db) -> User:
    return _user("alice", STUDENTS)


@pytest.fixture
def bob(db) -> User:
    return _user("bob", STUDENTS)


@pytest.fixture
def teacher(db) -> User:
    return _user("teacher", INSTRUCTORS)


@pytest.fixture
def alice_token(alice) -> str:
    return ApiToken.objects.issue(alice)


@pytest.fixture(autouse=True)
def _fresh_worker_census():
    """Each test starts with no remembered worker census (submissions.services keeps one
    for two seconds), so a test's own mock of workers.online is the one routing sees."""
    services = sys.modules.get("submissions.services")
    if services is not None:
        services._online_cache = (float("-inf"), {})
    hooks = sys.modules.get("lti.hooks")  # and no remembered "is an LMS registered?"
    if hooks is not None:
        hooks._in_use = (float("-inf"), False)
