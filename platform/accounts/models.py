"""Roles are Django groups; API tokens let scripts use the HTTP API.

Who may read another user's work is decided per course, in one place:
`dashboard.access.may_read_submission` (there is deliberately no course-blind
"is this user an instructor" helper here).
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.db import models
from django.http import HttpRequest

STUDENTS = "students"
INSTRUCTORS = "instructors"


def current_user(request: HttpRequest) -> User:
    """The logged-in user of a view that requires a login (its decorator made sure)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionError("this view requires a logged-in user")
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenManager(models.Manager["ApiToken"]):
    def issue(self, user: AbstractBaseUser) -> str:
        """Create (or replace) the user's token and return it; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        self.update_or_create(user=user, defaults={"key_hash": _digest(token)})
        return token

    def user_for(self, token: str):
        row = self.select_related("user").filter(key_hash=_digest(token)).first()
        return row.user if row and row.user.is_active else None


class ApiToken(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now=True)

    objects = ApiTokenManager()

    def __str__(self) -> str:
        return f"API token of {self.user}"


def new_join_code() -> str:
    """An unguessable code (128 bits): knowing the link is what lets a visitor in."""
    return secrets.token_urlsafe(16)


class JoinLink(models.Model):
    """A course's join link `/join/<code>`: whoever holds it may sign up (when `signup_open`)
    or, logged in, join the course as a student. Rotating the code kills the old link."""

    course = models.OneToOneField(
        "dashboard.Course", on_delete=models.CASCADE, related_name="join_link"
    )
    code = models.CharField(max_length=64, unique=True, default=new_join_code)
    signup_open = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"join link of {self.course}"
