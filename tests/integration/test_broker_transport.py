"""config.broker: Celery's Redis transport keeping one Redis client per channel, against
real Redis (the worker tests use it end to end)."""

from __future__ import annotations

import uuid

from kombu import Consumer, Exchange, Producer, Queue

from config import broker
from config.celery import app


def test_plain_redis_urls_get_the_transport_and_rediss_keeps_kombus() -> None:
    assert broker.transport_for("redis://127.0.0.1:6379/0") == "config.broker:Transport"
    assert broker.transport_for("rediss://redis.example:6380/0") is None  # its TLS checks
    assert app.connection_for_write().transport_cls == "config.broker:Transport"


def test_one_client_per_channel_and_the_unacked_bookkeeping_still_works() -> None:
    name = f"broker-test-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with app.connection_for_write() as conn:
        channel = conn.channel()
        assert isinstance(channel, broker.Channel)
        first = channel._create_client()
        assert channel._create_client() is first  # kombu's own makes one per call
        received: list[dict] = []
        try:
            queue(channel).declare()
            consumer = Consumer(channel, queues=[queue], prefetch_count=1,
                                callbacks=[lambda body, message: received.append(body)])
            consumer.consume()
            for round_ in range(2):
                Producer(channel).publish({"n": round_}, exchange=queue.exchange,
                                          routing_key=name, serializer="json")
                conn.drain_events(timeout=5)
                assert received[-1] == {"n": round_}
                tag = next(iter(channel.qos._delivered))
                assert first.hexists(channel.unacked_key, tag)  # delivery recorded
                channel.qos._delivered[tag].ack()
                assert not first.hexists(channel.unacked_key, tag)  # and removed on ack
                # A reconnect drops kombu's connection pool: the client follows the new one.
                channel._disconnect_pools()
                assert channel._create_client() is not first
                first = channel._create_client()
                assert first.connection_pool is channel.pool
        finally:
            queue(channel).delete()
