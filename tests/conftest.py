"""Shared fixtures: three users (alice and bob study, teacher teaches) and the synced course."""

from __future__ import annotations

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
