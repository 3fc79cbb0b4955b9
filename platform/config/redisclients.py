"""The process's Redis clients: each made once, even when threads race for it.

`functools.cache` is not enough for them. Two threads that call a cold cached function both
run it, and the later result replaces the earlier one in the cache. A client made by
`Redis.from_url` owns its connection pool (`auto_close_connection_pool`), and when the
replaced client is dropped its `__del__` disconnects every connection of that pool,
including one that another thread holds at that moment: that thread's command fails (a 500
seen under load as a web process started, benchmarks/RESULTS.md, tenth round).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import redis

T = TypeVar("T")


def once(factory: Callable[[], T]) -> Callable[[], T]:
    """`factory()` made once per process, under a lock; `.cache_clear()` forgets it."""
    lock = threading.Lock()
    made: list[T] = []

    @functools.wraps(factory)
    def get() -> T:
        if not made:
            with lock:
                if not made:
                    made.append(factory())
        return made[0]

    get.cache_clear = made.clear  # type: ignore[attr-defined]
    return get


def make(url: str, **options: Any) -> redis.Redis:
    """A client for `url` whose end never disconnects connections other threads hold."""
    client = redis.Redis.from_url(url, **options)
    client.auto_close_connection_pool = False
    return client
