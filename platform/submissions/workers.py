"""Which queues have a live worker: heartbeats in Redis with a short time-to-live."""

from __future__ import annotations

import logging
import socket
import threading
from functools import cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)
QUEUES = ("cpu", "gpu")
_PREFIX = "pdl:worker:"


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )


def beat(queues: list[str], hostname: str) -> None:
    ttl = settings.WORKER_HEARTBEAT_SECONDS * 3
    pipe = redis_client().pipeline()
    for queue in queues:
        pipe.set(f"{_PREFIX}{queue}:{hostname}", "1", ex=ttl)
    pipe.execute()


def online() -> dict[str, int]:
    """Return the number of live workers per queue (raises redis errors)."""
    counts = dict.fromkeys(QUEUES, 0)
    for key in redis_client().scan_iter(f"{_PREFIX}*", count=200):
        queue = key.removeprefix(_PREFIX).split(":", 1)[0]
        counts[queue] = counts.get(queue, 0) + 1
    return counts


def start_heartbeat(queues: list[str], hostname: str | None = None) -> threading.Event:
    """Beat every few seconds from a daemon thread; set the returned event to stop."""
    name = hostname or socket.gethostname()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                beat(queues, name)
            except redis.RedisError as exc:  # Redis restarting: keep trying
                log.warning("heartbeat failed: %s", exc)
            stop.wait(settings.WORKER_HEARTBEAT_SECONDS)

    threading.Thread(target=loop, name="worker-heartbeat", daemon=True).start()
    return stop
