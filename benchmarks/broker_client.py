"""kombu's Redis transport against `config.broker`'s (one Redis client per channel): CPU per
publish and per delivery + ack, in process, against the local Redis (issue #15).

    .venv/bin/python benchmarks/broker_client.py [--messages 3000] [--pairs 3] [--redis URL]

Each side runs in a fresh interpreter (so neither warms the other's caches): publish
`--messages` task-sized JSON messages to a private queue, then consume and ack them all,
with the visibility bookkeeping Celery's settings ask for. The figure is the process CPU
(`time.process_time`) per message. Sides alternate.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def side(transport: str | None, url: str, messages: int) -> str:
    sys.path.insert(0, str(ROOT / "platform"))
    from kombu import Connection, Consumer, Exchange, Producer, Queue

    name = f"bench-broker-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    kwargs = {"transport": transport} if transport else {}
    with Connection(url, transport_options={"visibility_timeout": 300}, **kwargs) as conn:
        channel = conn.channel()
        queue(channel).declare()
        try:
            producer = Producer(channel)
            body = {"id": 1, "args": [12345], "kwargs": {}, "pad": "x" * 200}
            started = time.process_time()
            for _ in range(messages):
                producer.publish(body, exchange=queue.exchange, routing_key=name,
                                 serializer="json")
            publish = (time.process_time() - started) / messages * 1000
            got = [0]

            def on_message(body: object, message: object) -> None:
                message.ack()  # type: ignore[attr-defined]
                got[0] += 1

            Consumer(channel, queues=[queue], callbacks=[on_message], prefetch_count=1).consume()
            started = time.process_time()
            while got[0] < messages:
                conn.drain_events(timeout=5)
            consume = (time.process_time() - started) / messages * 1000
        finally:
            queue(channel).delete()
    label = transport or "kombu's own"
    return f"{label:24s} publish {publish:.3f} ms  delivery + ack {consume:.3f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side is not None:
        print(side(args.side or None, args.redis, args.messages), flush=True)
        return
    for _ in range(args.pairs):
        for transport in ("", "config.broker:Transport"):
            subprocess.run([sys.executable, __file__, "--side", transport, "--redis", args.redis,
                            "--messages", str(args.messages)], check=True)


if __name__ == "__main__":
    main()
