"""CPU of publishing one grading task: Celery's `apply_async` against `submissions.jobs.send`
(the web's publish since the ninth round of issue #15), in one process, interleaved.

    .venv/bin/python benchmarks/publish_cpu.py [--rounds 30] [--batch 100]
        [--redis-url redis://127.0.0.1:6379/9]

Both send the same message (tests/integration/test_broker_transport.py compares them) to a
throw-away queue on a Redis database of its own, which is emptied after each batch. Batches
of each alternate, so the VM's minute-to-minute drift falls on both alike; the figure is the
calling thread's CPU (`time.thread_time`) per publish, the Redis round trip's client side
included.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    args = ap.parse_args()
    os.environ["REDIS_URL"] = args.redis_url  # settings read it: broker and clients alike
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT / "platform"))
    import django

    django.setup()
    import redis

    from submissions import jobs
    from submissions.tasks import grade_submission

    queue = f"publish-bench-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(args.redis_url)
    ways = {
        "apply_async": lambda: grade_submission.apply_async(
            (1,), queue=queue, retry=True, retry_policy=jobs.PUBLISH_RETRY),
        "jobs.send": lambda: jobs.send(grade_submission, 1, queue),
    }
    spent = dict.fromkeys(ways, 0.0)
    for way in ways.values():  # connections, pools, the first imports
        for _ in range(args.batch):
            way()
    client.delete(queue)
    for _ in range(args.rounds):
        for name, way in ways.items():
            start = time.thread_time()
            for _ in range(args.batch):
                way()
            spent[name] += time.thread_time() - start
            client.delete(queue)
    count = args.rounds * args.batch
    print("publish_cpu: " + "  ".join(
        f"{name} {seconds / count * 1e6:.0f} us" for name, seconds in spent.items())
        + f" per publish ({count} each, interleaved)")


if __name__ == "__main__":
    main()
