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


def test_jobs_send_puts_on_the_queue_what_apply_async_would() -> None:
    """submissions.jobs.send builds the task message itself (issue #15): the worker must
    get the same envelope, headers, body and routing as from Celery's apply_async."""
    import json

    import redis

    from submissions import jobs
    from submissions.tasks import grade_submission

    names = [f"send-test-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    client = redis.Redis.from_url(app.conf.broker_url)
    try:
        grade_submission.apply_async((42,), queue=names[0], retry=True,
                                     retry_policy=jobs.PUBLISH_RETRY)
        jobs.send(grade_submission, 42, names[1])
        ours, celerys = ([json.loads(raw) for raw in client.lrange(name, 0, -1)]
                         for name in reversed(names))
    finally:
        client.delete(*names)
    assert len(ours) == len(celerys) == 1
    ours, celerys = ours[0], celerys[0]
    assert ours.keys() == celerys.keys()
    assert ours["body"] == celerys["body"]  # base64 of [[42], {}, {callbacks…}]
    own = {"id", "root_id"}  # a task id each
    assert ours["headers"]["id"] == ours["headers"]["root_id"] != celerys["headers"]["id"]
    assert ({k: v for k, v in ours["headers"].items() if k not in own}
            == {k: v for k, v in celerys["headers"].items() if k not in own})
    assert ours["headers"]["task"] == "submissions.tasks.grade_submission"
    assert ours["headers"]["argsrepr"] == celerys["headers"]["argsrepr"] == "(42,)"
    tagged = {"correlation_id", "delivery_tag", "delivery_info"}  # the last: the queue
    assert ({k: v for k, v in ours["properties"].items() if k not in tagged}
            == {k: v for k, v in celerys["properties"].items() if k not in tagged})
    assert ours["properties"]["correlation_id"] == ours["headers"]["id"]
    assert ours["properties"]["delivery_info"]["routing_key"] == names[1]
    assert celerys["properties"]["delivery_info"]["routing_key"] == names[0]
    for key in ("content-type", "content-encoding"):
        assert ours[key] == celerys[key]
