"""`make run` end to end: scripts/run.sh serves with gunicorn, WhiteNoise and DEBUG off, a
student logs in over plain HTTP and gets a verdict, and Ctrl-C stops every process.

Starts the real script (its own SQLite file, this test run's Redis database, loopback only).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


class Browser:
    """Cookies, no automatic redirects: enough of a browser for a few requests."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(self, path: str, data: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as response:
                body = response.read().decode(errors="replace")
                return response.status, dict(response.headers), body
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode(errors="replace")

    def cookie(self, name: str) -> str:
        return next(c.value for c in self.jar if c.name == name)


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, int, Path, Path]]:
    port = _free_port()
    database = tmp_path / "db.sqlite3"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "DATABASE_", "WEB_"))}
    env.update({
        "PORT": str(port), "HOST": "127.0.0.1", "REDIS_URL": settings.REDIS_URL,
        "DATABASE_URL": f"sqlite:///{database}", "SANDBOX_SIZE": "1", "PYTHONUNBUFFERED": "1",
        "WEB_PROCESSES": "1", "WEB_THREADS": "8",
    })
    log = tmp_path / "make-run.log"
    # Its own session: Ctrl-C in a terminal signals the whole foreground process group.
    proc = subprocess.Popen(["bash", "scripts/run.sh"], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make run did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.3)
        yield proc, port, log, database
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_run_serves_a_class_and_ctrl_c_stops_everything(make_run):
    proc, port, log, database = make_run
    browser = Browser(f"http://127.0.0.1:{port}")

    status, headers, html = browser.request("/accounts/login/")
    assert status == 200 and headers.get("Server", "").startswith("gunicorn")
    banner = log.read_text()
    assert f"http://127.0.0.1:{port}/" in banner and "DEBUG off" in banner
    assert "student / learn-torch-1" in banner and "Ctrl-C stops everything" in banner

    # WhiteNoise serves the hashed, compressed copies, cached for a long time.
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', html)
    assert css, "the stylesheet's URL is not hashed: DEBUG is on or collectstatic did not run"
    status, headers, _ = browser.request(css.group(1), headers={"Accept-Encoding": "gzip"})
    assert status == 200 and "max-age=315360000" in headers.get("Cache-Control", "")
    assert headers.get("Content-Encoding") == "gzip"
    status, headers, body = browser.request("/favicon.ico")
    assert status == 200 and headers["Content-Type"] == "image/svg+xml" and "<svg" in body

    # DEBUG off: the styled 404, no URL patterns.
    status, _, html = browser.request("/no-such-page")
    assert status == 404 and 'class="topbar"' in html and "URLconf" not in html

    # A student logs in over plain HTTP (cookies not marked Secure) and gets a verdict.
    _, _, html = browser.request("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token
    form = f"username=student&password=learn-torch-1&csrfmiddlewaretoken={token.group(1)}".encode()
    status, headers, _ = browser.request("/accounts/login/", form)
    assert status == 302, "login failed"
    status, _, html = browser.request("/")
    assert status == 200 and "student" in html
    solution = next(ROOT.glob("lessons/*/exercises/tensor-broadcast/solution.py")).read_text()
    status, _, body = browser.request(
        "/api/exercises/tensor-broadcast/submissions?wait=25",
        json.dumps({"code": solution}).encode(),
        {"Content-Type": "application/json", "X-CSRFToken": browser.cookie("csrftoken")},
    )
    verdict = json.loads(body)
    assert status == 202 and verdict["status"] == "graded", verdict
    assert verdict["outcome"] == "passed", verdict

    # SQLite in WAL mode, as a fresh database should be.
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    # Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(60)
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _group_alive(proc.pid), "a process of make run outlived Ctrl-C"
