"""Fixed-window counters in Redis, shared by every web process (login and submission limits).

Redis rather than Django's cache: the default cache is per process, and several gunicorn
processes on several hosts must see the same counts. When Redis is down the limiter fails
open (logs, allows): refusing every login or submission would be worse than no limit.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)
_PREFIX = "pdl:rl:"


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """'20/60' → 20 events per 60 seconds."""
        count, _, seconds = text.partition("/")
        return cls(int(count), int(seconds or 60))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # seconds until the window resets (0 when allowed)
    used: int


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, decode_responses=True
    )


def _key(scope: str, ident: str, rate: Rate) -> str:
    digest = hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return f"{_PREFIX}{scope}:{rate.seconds}:{digest}"


def hit(scope: str, ident: str, rate: Rate) -> Decision:
    """Count one event; say whether it is within the rate.

    The window opens at the first event and lasts `rate.seconds` (the key's time to live),
    so Retry-After is exact and there is no burst at a clock-aligned window edge.
    """
    key = _key(scope, ident, rate)
    try:
        pipe = _client().pipeline()  # MULTI/EXEC: the three commands run as one
        pipe.set(key, 0, ex=rate.seconds, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, used, ttl = pipe.execute()
    except redis.RedisError as exc:
        log.warning("rate limiter unavailable (%s): allowing", exc)
        return Decision(True, 0, 0)
    if int(used) > rate.count:
        return Decision(False, max(1, int(ttl)), int(used))
    return Decision(True, 0, int(used))


def peek(scope: str, ident: str, rate: Rate) -> Decision:
    """Whether the next event would still be allowed, without counting one."""
    key = _key(scope, ident, rate)
    try:
        pipe = _client().pipeline()
        pipe.get(key)
        pipe.ttl(key)
        used, ttl = pipe.execute()
    except redis.RedisError as exc:
        log.warning("rate limiter unavailable (%s): allowing", exc)
        return Decision(True, 0, 0)
    if int(used or 0) >= rate.count:
        return Decision(False, max(1, int(ttl)), int(used))
    return Decision(True, 0, int(used or 0))


def reset(scope: str, ident: str, rate: Rate) -> None:
    with contextlib.suppress(redis.RedisError):
        _client().delete(_key(scope, ident, rate))
