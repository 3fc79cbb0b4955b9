"""The process's Redis clients are made once, even when threads ask for one at once.

Two clients made for one purpose is a fault, not waste: a client from `Redis.from_url`
owns its pool, and the one a race drops disconnected, as it went, a connection another
thread was using (a 500 under load; config/redisclients.py)."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from accounts import ratelimit
from submissions import workers

GETTERS = [ratelimit._client, workers.redis_client, workers.redis_waiting_client]


@pytest.mark.parametrize("get", GETTERS, ids=lambda get: get.__name__)
def test_threads_racing_for_a_client_all_get_the_same_one(get, monkeypatch) -> None:
    real = redis.Redis.from_url

    def slow(*args, **kwargs):
        time.sleep(0.05)  # long enough for the other threads to ask as well
        return real(*args, **kwargs)

    monkeypatch.setattr(redis.Redis, "from_url", slow)
    get.cache_clear()
    barrier = threading.Barrier(8)
    got: list[redis.Redis] = []

    def ask() -> None:
        barrier.wait()
        got.append(get())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8
    assert len({id(client) for client in got}) == 1, "threads got different clients"
    # Should one ever be dropped, it leaves the pool's connections to their threads.
    assert got[0].auto_close_connection_pool is False
    got[0].ping()  # a real client, on the test's Redis
