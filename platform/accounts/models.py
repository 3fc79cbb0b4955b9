"""Roles are Django groups; API tokens let scripts use the HTTP API.

Who may read another user's work is decided per course, in one place:
`dashboard.access.may_read_submission` (there is deliberately no course-blind
"is this user an instructor" helper here).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import secrets
import threading
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import User
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

log = logging.getLogger(__name__)

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


# A token's user, remembered per process for a minute: a script polling a verdict every
# 50 ms, or a student submitting every few seconds, would otherwise pay a query per
# request for the same answer. Issuing, replacing or deleting a token, and saving or
# deleting a user (deactivation), sets a new random generation in Redis once the change
# is committed (announced earlier, another process could read the old rows again and keep
# them a minute); every process reads it at most once per TOKEN_GENERATION_CHECK_SECONDS
# and forgets its cache when it moved, so a replaced token or a deactivated user stops
# working everywhere within that time (at once in the process that made the change). The
# value is random, not a counter: a Redis restarted empty cannot count back to a value a
# process saw before. With Redis away every look fails and forgets the cache, and an
# announcement that failed is sent again at this process's next look; the expiry is only a
# backstop (a change made without the ORM's signals).
# It was 5 s: under load_students.py (a submission per student every ~4.5 s, spread over
# 2 web processes) nearly every request missed and paid the query (issue #15).
TOKEN_CACHE_SECONDS = 60.0
TOKEN_GENERATION_CHECK_SECONDS = 1.0
TOKEN_GENERATION_KEY = "pdl:apitoken:generation"
_cache: dict[str, tuple[float, Any]] = {}  # digest -> (expires, user or None)
# [checked at, value seen, times the cache was cleared, an announcement still to send]
_generation: list[Any] = [float("-inf"), None, 0, False]
_lock = threading.Lock()


def _clear() -> None:
    """Empty the cache (caller holds _lock). The count lets a reader that queried before a
    clear see that its answer may be older than the clear, and not store it."""
    _cache.clear()
    _generation[2] += 1


def forget_cached_tokens() -> None:
    """Drop this process's cache (tests, and after a token is issued here)."""
    with _lock:
        _clear()
        _generation[0] = float("-inf")


def _bump_generation() -> None:
    """Tell the other processes to forget their caches; on failure, again at the next look."""
    from accounts import ratelimit

    try:
        ratelimit.client().set(TOKEN_GENERATION_KEY, secrets.token_hex(8))
        _generation[3] = False
    except Exception as exc:  # Redis away: the others forget at each look meanwhile
        _generation[3] = True
        log.warning("could not announce a changed API token (retried): %s", exc)


def _changed_and_committed() -> None:
    forget_cached_tokens()
    _bump_generation()


def _check_generation(now: float) -> None:
    """Forget the cache if any process changed a token or a user since the last look."""
    if now - _generation[0] < TOKEN_GENERATION_CHECK_SECONDS:
        return
    from accounts import ratelimit

    if _generation[3]:
        _bump_generation()
    value: Any
    try:
        value = ratelimit.client().get(TOKEN_GENERATION_KEY)
    except Exception:  # cannot tell: trust only the database until Redis answers
        value = object()
    with _lock:
        if value != _generation[1]:
            _clear()
        _generation[0], _generation[1] = now, value


class ApiTokenManager(models.Manager["ApiToken"]):
    def issue(self, user: AbstractBaseUser) -> str:
        """Create (or replace) the user's token and return it; only its hash is stored."""
        token = secrets.token_urlsafe(32)
        self.update_or_create(user=user, defaults={"key_hash": _digest(token)})
        return token  # the post_save signal below forgets the cached tokens

    def user_for(self, token: str) -> Any:
        """The active user this token belongs to, or None (cached, see TOKEN_CACHE_SECONDS).

        Each caller gets its own copy of the user: request threads never share an object."""
        digest = _digest(token)
        now = time.monotonic()
        _check_generation(now)
        hit = _cache.get(digest)
        if hit is not None and hit[0] > now:
            return copy.copy(hit[1]) if hit[1] is not None else None
        clears = _generation[2]  # read before the query: see _clear
        row = self.select_related("user").filter(key_hash=digest).first()
        user = row.user if row and row.user.is_active else None
        if user is not None:  # unknown tokens are not cached: guesses cannot fill memory
            with _lock:
                if len(_cache) > 10_000:
                    _clear()
                if _generation[2] == clears:
                    _cache[digest] = (now + TOKEN_CACHE_SECONDS, user)
        return copy.copy(user) if user is not None else None


class ApiToken(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now=True)

    objects = ApiTokenManager()

    def __str__(self) -> str:
        return f"API token of {self.user}"


@receiver(post_save, sender=ApiToken)
@receiver(post_delete, sender=ApiToken)
@receiver(post_save, sender=User)  # deactivated (or otherwise changed): look again
@receiver(post_delete, sender=User)
def _tokens_changed(update_fields: Any = None, using: str | None = None,
                    **kwargs: Any) -> None:
    if update_fields is not None and set(update_fields) == {"last_login"}:
        return  # a login (update_last_login): nothing a cached answer rests on changed
    forget_cached_tokens()  # at once here, and again once committed, then everywhere
    transaction.on_commit(_changed_and_committed, using=using)


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
