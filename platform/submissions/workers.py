"""Which queues have a live worker: heartbeats in Redis with a short time-to-live."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import redis
from django.conf import settings

from config import redisclients

log = logging.getLogger(__name__)
QUEUES = ("cpu", "gpu")
# Regrades wait behind students on these (settings.BULK_QUEUE_SUFFIX).
BULK_QUEUES = ("cpu-bulk", "gpu-bulk")
_PREFIX = "pdl:worker:"


@redisclients.once
def redis_client() -> redis.Redis:
    return redisclients.make(
        settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
    )


@redisclients.once
def redis_waiting_client() -> redis.Redis:
    """For blocking reads (BLPOP up to 25 s): a socket timeout above the longest wait."""
    return redisclients.make(
        settings.REDIS_URL, socket_timeout=35, socket_connect_timeout=2, decode_responses=True
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


def alive_hostnames() -> set[str]:
    """Hostnames of workers whose heartbeat is live (raises redis errors)."""
    return {
        key.removeprefix(_PREFIX).split(":", 1)[1]
        for key in redis_client().scan_iter(f"{_PREFIX}*", count=200)
    }


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


SWEEP_LOCK = "pdl:sweeper-lock"


def start_sweeper(sweep: Callable[[], object], interval: float) -> threading.Event:
    """Run `sweep` every `interval` s in this worker, on whichever worker holds the lock.

    Every worker runs the timer (no Celery beat process to deploy or lose); a Redis lock
    that expires after one interval makes at most one of them sweep per interval.
    """
    stop = threading.Event()

    def loop() -> None:
        from django.db import close_old_connections, connection

        while not stop.wait(interval):
            try:
                if not redis_client().set(SWEEP_LOCK, "1", nx=True, ex=max(1, int(interval))):
                    continue
                report = sweep()
                log.info("sweep: %s", report)
            except Exception as exc:  # database or Redis away: the next tick tries again
                log.warning("sweep failed: %s", exc)
                connection.close()
            finally:
                close_old_connections()

    threading.Thread(target=loop, name="submission-sweeper", daemon=True).start()
    return stop
