"""Counters in Redis, shared by every web process: fixed-window rate limits (logins,
submissions) and concurrency slots (open long polls).

Redis rather than Django's cache: the default cache is per process, and several gunicorn
processes on several hosts must see the same counts. When Redis is down the rate limiter
fails open (logs, allows): refusing every login or submission would be worse than no limit.
A slot fails closed instead: without one the caller just does not wait, which costs nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from django.conf import settings

from config import redisclients

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


@redisclients.once
def _client() -> redis.Redis:
    return redisclients.make(
        settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1, decode_responses=True
    )


def client() -> redis.Redis:
    """The limiter's Redis client (short timeouts), for other small counters."""
    return _client()


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


# DECR only a live key: DECR on an expired one would create a key with no time to live.
_UNDO = """
if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


def undo(scope: str, ident: str, rate: Rate) -> None:
    """Take back one event counted by `hit` (an attempt that turned out to be legitimate)."""
    with contextlib.suppress(redis.RedisError):
        _client().eval(_UNDO, 1, _key(scope, ident, rate))


def normalize_username(username: str) -> str:
    """The form a username is limited under: NFKC, case-folded, trimmed.

    Django's login form NFKC-normalises the username before it looks it up, so 'ｓtudent'
    (fullwidth) and '𝐬tudent' (mathematical bold) log in as 'student': they must share its
    counter, or each spelling would get a fresh allowance of guesses.
    """
    return unicodedata.normalize("NFKC", username).casefold().strip()


# --- Concurrency slots --------------------------------------------------------------------

_SLOT_PREFIX = "pdl:slot:"
# A sorted set per holder: member = one slot, score = when it expires (Redis clock). Expired
# slots are dropped before counting, so a request killed before it released its slot
# (crash, OOM kill, timeout) frees it after `ttl` instead of leaking it forever.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
local keep = math.ceil(tonumber(ARGV[2])) + 1
if redis.call('TTL', KEYS[1]) < keep then
  redis.call('EXPIRE', KEYS[1], keep)
end
return 1
"""


def slot_key(scope: str, ident: str) -> str:
    digest = hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return f"{_SLOT_PREFIX}{scope}:{digest}"


@contextlib.contextmanager
def slot(scope: str, ident: str, limit: int, ttl: float) -> Iterator[bool]:
    """Hold one of `limit` concurrent slots of (scope, ident) for the block; yield whether
    one was free. Each slot frees itself after `ttl` seconds at the latest."""
    key = slot_key(scope, ident)
    token = secrets.token_hex(8)
    try:
        held = bool(_client().eval(_ACQUIRE, 1, key, int(limit), float(ttl), token))
    except redis.RedisError as exc:
        log.warning("slot counter unavailable (%s): no slot", exc)
        held = False
    with held_slot(scope, ident, token if held else None) as got:
        yield got


@contextlib.contextmanager
def held_slot(scope: str, ident: str, token: str | None) -> Iterator[bool]:
    """Release, when the block ends, a slot taken by `hit_and_slot` (None: none was free)."""
    try:
        yield token is not None
    finally:
        if token is not None:
            with contextlib.suppress(redis.RedisError):
                _client().zrem(slot_key(scope, ident), token)


def hit_and_slot(scope: str, ident: str, rate: Rate, slot_scope: str, slot_ident: str,
                 limit: int, ttl: float) -> tuple[Decision, str | None]:
    """`hit` and the acquisition of a `slot` in one round trip (a submit that will wait
    for its verdict needs both). Returns the decision and the slot's token, or None when
    no slot was free; hand the token to `held_slot` so that it is released. Redis away:
    allowed (as `hit`), no slot (as `slot`)."""
    key = _key(scope, ident, rate)
    token = secrets.token_hex(8)
    try:
        pipe = _client().pipeline()  # MULTI/EXEC, as in `hit`
        pipe.set(key, 0, ex=rate.seconds, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        pipe.eval(_ACQUIRE, 1, slot_key(slot_scope, slot_ident), int(limit), float(ttl), token)
        _, used, left, got = pipe.execute()
    except redis.RedisError as exc:
        log.warning("rate limiter unavailable (%s): allowing, no slot", exc)
        return Decision(True, 0, 0), None
    held = token if got else None
    if int(used) > rate.count:
        return Decision(False, max(1, int(left)), int(used)), held
    return Decision(True, 0, int(used)), held
