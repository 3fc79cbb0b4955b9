"""Celery's Redis transport, keeping one Redis client per channel.

kombu's Redis channel builds a new `redis.Redis` for every publish, every delivery (the
unacked bookkeeping) and every ack: ~0.1–0.2 ms of CPU each, three per submission
(benchmarks/RESULTS.md, seventh round). The client holds no connection of its own (commands
take one from the channel's pool, which it already shared), and redis-py clients are safe to
share between threads, so one per channel does the same work. Only for plain `redis://`
URLs (`transport_for`): `rediss://` keeps kombu's own transport and its TLS checks."""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _sync_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._sync_client
        # A new pool after a reconnect or a fork (kombu drops the old one): a new client.
        if client is None or client.connection_pool is not self.pool:
            client = self._sync_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel


def transport_for(broker_url: str) -> str | None:
    """The `broker_transport` setting for this URL (None: kombu's choice, by the scheme)."""
    return "config.broker:Transport" if broker_url.startswith("redis://") else None
