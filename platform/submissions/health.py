"""GET /healthz: 200 only when the database, Redis and a cpu worker answer."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse

from submissions import workers


def healthz(request: HttpRequest) -> JsonResponse:
    parts: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        parts["database"] = "ok"
    except Exception as exc:
        parts["database"] = f"down: {type(exc).__name__}"
    try:
        workers.redis_client().ping()
        parts["redis"] = "ok"
        live = workers.online()
        for queue, count in live.items():
            parts[f"workers_{queue}"] = str(count)
        if not live["cpu"]:
            parts["worker_cpu"] = "down: no cpu worker has reported in"
    except Exception as exc:
        parts["redis"] = f"down: {type(exc).__name__}"
        parts["worker_cpu"] = "unknown: Redis is down"
    healthy = parts["database"] == "ok" and parts["redis"] == "ok" and "worker_cpu" not in parts
    return JsonResponse({"ok": healthy, **parts}, status=200 if healthy else 503)
