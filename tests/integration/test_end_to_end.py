"""Submit through real HTTP, graded by a real Celery worker through real Redis."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from accounts.models import ApiToken

pytestmark = pytest.mark.integration


def call(url: str, token: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method="POST" if body is not None else "GET",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def submit_and_wait(base: str, token: str, slug: str, code: str, timeout: float = 60) -> dict:
    created = call(f"{base}/api/exercises/{slug}/submissions", token, {"code": code})
    assert created["status"] in {"queued", "graded"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        verdict = call(base + created["url"], token)
        if verdict["status"] == "graded":
            return verdict
        time.sleep(0.05)
    pytest.fail(f"submission {created['id']} was not graded within {timeout}s")


def test_a_submission_is_graded_by_a_real_worker(live_server, course, alice, cpu_worker):
    token = ApiToken.objects.issue(alice)
    right = submit_and_wait(live_server.url, token, "linalg-cumsum", "cs = A.cumsum(axis=0)")
    assert right["outcome"] == "passed", right
    assert right["score"] == right["max_score"] > 0
    assert right["queue"] == "cpu"

    wrong = submit_and_wait(live_server.url, token, "linalg-cumsum", "cs = A.cumsum(axis=1)")
    assert wrong["outcome"] == "failed", wrong
    failed = [c for c in wrong["checks"] if not c["passed"]]
    assert failed and failed[0]["name"] == "cs" and failed[0]["message"]
