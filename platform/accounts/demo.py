"""Demo accounts printed by `make run`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.models import INSTRUCTORS, STUDENTS

DEMO_ACCOUNTS = [
    ("student", "learn-torch-1", STUDENTS),
    ("student2", "learn-torch-2", STUDENTS),
    ("teacher", "teach-torch-1", INSTRUCTORS),
]


def ensure_demo_accounts() -> list[tuple[str, str, str]]:
    User = get_user_model()
    for name in (STUDENTS, INSTRUCTORS):
        Group.objects.get_or_create(name=name)
    for username, password, group in DEMO_ACCOUNTS:
        user, created = User.objects.get_or_create(username=username)
        if created or not user.check_password(password):
            user.set_password(password)
            user.save()
        user.groups.add(Group.objects.get(name=group))
    return DEMO_ACCOUNTS
