"""`make run` as a classroom server: error pages, favicon, SQLite in WAL, DEBUG off settings.

The whole script (gunicorn, worker, Ctrl-C) is exercised in test_run_script.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import OperationalError, connection
from django.db.backends.sqlite3.base import DatabaseWrapper
from django.test import Client
from django.urls import path

import config.urls
from config import local_server
from config.security import production_problems

ROOT = Path(__file__).resolve().parents[2]


# A URL that fails the way a broken database does, served with the real error handlers.
def _boom(request):
    raise OperationalError("database is locked (simulated)")


urlpatterns = [path("boom", _boom), path("api/boom", _boom), *config.urls.urlpatterns]
handler403 = config.urls.handler403
handler404 = config.urls.handler404
handler500 = config.urls.handler500


@pytest.fixture
def debug_off(settings):
    settings.DEBUG = False
    return settings


def _is_site_page(html: str) -> bool:
    """The site's layout: header, brand link, language switcher, stylesheet, favicon."""
    return all(part in html for part in (
        'class="topbar"', 'class="brand"', 'id="language-select"', "css/site.css",
        'rel="icon"',
    ))


# --- Error pages ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_404_is_a_site_page_and_lists_no_url_patterns(debug_off, course, alice):
    client = Client()
    client.force_login(alice)
    response = client.get("/no/such/<script>page")
    assert response.status_code == 404
    html = response.content.decode()
    assert _is_site_page(html) and "Page not found" in html
    assert "My grades" in html  # the navigation of a logged-in student
    assert "URLconf" not in html and "dashboard/" not in html.split("</header>")[1]
    assert "<script>page" not in html  # the path is escaped


@pytest.mark.django_db
def test_a_student_opening_the_dashboard_gets_a_styled_403(debug_off, course, alice):
    client = Client()
    client.force_login(alice)
    response = client.get("/dashboard/pytorch/gradebook/")
    assert response.status_code == 403
    html = response.content.decode()
    assert _is_site_page(html) and "This page is not for your account" in html
    assert "alice" in html  # still logged in, with the usual header


@pytest.mark.django_db
def test_error_pages_speak_chinese(debug_off, course, alice):
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(alice)
    html = client.get("/nope").content.decode()
    assert "找不到页面" in html and "返回课程" in html and "Page not found" not in html
    html = client.get("/dashboard/pytorch/gradebook/").content.decode()
    assert "你的账户不能打开此页面" in html


@pytest.mark.django_db
def test_an_expired_form_gets_a_styled_403(debug_off):
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "x", "password": "y"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert _is_site_page(html) and "This form has expired" in html


@pytest.mark.django_db
def test_api_errors_stay_json(debug_off, alice_token):
    response = Client().get("/api/nope", HTTP_AUTHORIZATION=f"Token {alice_token}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Not found."}


# No django_db mark: pytest-django makes every database query raise here, so the page
# proves it never touches the database (the session cookie would make a user lookup try).
def test_the_500_page_renders_without_a_database(debug_off):
    debug_off.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="en")
    client.cookies["sessionid"] = "a-session-that-would-need-the-database"
    response = client.get("/boom")
    assert response.status_code == 500
    html = response.content.decode()
    assert _is_site_page(html) and "Something went wrong on our side" in html
    assert "database is locked" not in html and "Traceback" not in html
    api = client.get("/api/boom")
    assert api.status_code == 500 and api.json() == {"error": "Internal server error."}


def test_the_500_page_in_chinese_without_a_database(debug_off):
    debug_off.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = client.get("/boom").content.decode()
    assert "服务器出了问题" in html and "Something went wrong" not in html


# --- Favicon -------------------------------------------------------------------------------


def test_the_favicon_exists_and_browsers_asking_for_favicon_ico_find_it(debug_off):
    from django.contrib.staticfiles import finders

    icon = finders.find("favicon.svg")
    assert icon and Path(icon).read_text().lstrip().startswith("<svg")
    response = Client().get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert response.content == Path(icon).read_bytes()


@pytest.mark.django_db
def test_every_page_links_the_favicon(course, alice):
    client = Client()
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg"' in html


# --- SQLite --------------------------------------------------------------------------------


def test_a_fresh_sqlite_database_comes_up_in_wal(tmp_path, django_db_blocker):
    name = tmp_path / "fresh.sqlite3"
    wrapper = DatabaseWrapper({
        **settings.DATABASES["default"], "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(name), "OPTIONS": dict(settings.SQLITE_OPTIONS), "TEST": {},
    }, alias="fresh")
    try:
        with django_db_blocker.unblock(), wrapper.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x)")
            assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert cursor.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
            assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    finally:
        wrapper.close()
    # WAL is a property of the file: any later connection (a worker, sqlite3) sees it too.
    with sqlite3.connect(name) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.django_db
def test_the_project_database_runs_in_wal_with_immediate_transactions():
    if connection.vendor != "sqlite":
        assert "init_command" not in settings.DATABASES["default"].get("OPTIONS", {})
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
    assert connection.transaction_mode == "IMMEDIATE"


@pytest.mark.django_db(transaction=True)
def test_a_waiting_long_poll_holds_no_write_lock(course, alice, alice_token):
    """While a request waits for a verdict (?wait=), a writer (the worker storing that very
    verdict) gets the write lock at once: the wait holds no transaction."""
    import threading
    import time

    from courses.models import Exercise
    from submissions.models import Submission

    exercise = Exercise.objects.get(slug="tensor-broadcast")
    sub = Submission.objects.create(user=alice, exercise=exercise,
                                    version=exercise.current_version, code="c = a + b")
    answers: list[int] = []

    def poll() -> None:
        client = Client(HTTP_AUTHORIZATION=f"Token {alice_token}")
        answers.append(client.get(f"/api/submissions/{sub.pk}?wait=3").status_code)
        connection.close()  # this thread's connection

    waiter = threading.Thread(target=poll)
    started = time.monotonic()
    waiter.start()
    time.sleep(0.8)  # the request is in its wait by now
    assert waiter.is_alive(), "the long poll answered before it could be tested"
    if connection.vendor == "sqlite":
        # A plain connection with a short busy timeout: it fails if anyone holds the lock.
        writer = sqlite3.connect(connection.settings_dict["NAME"], timeout=0.2,
                                 isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute(f"UPDATE {Submission._meta.db_table} SET code = 'x' WHERE id = ?",
                           (sub.pk,))
            writer.execute("COMMIT")
        finally:
            writer.close()
    else:
        Submission.objects.filter(pk=sub.pk).update(code="x")
    assert time.monotonic() - started < 2.5  # written while the poll still waited
    waiter.join(10)
    assert answers == [200]


# --- make run's environment ----------------------------------------------------------------


def test_the_secret_key_is_made_once_private_and_kept(tmp_path):
    key = local_server.secret_key(tmp_path)
    path = tmp_path / "secret_key"
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_server.secret_key(tmp_path) == key
    path.chmod(0o644)  # e.g. copied around with a careless umask
    assert local_server.secret_key(tmp_path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("short\n")  # too short to be a key: replaced
    assert local_server.secret_key(tmp_path) not in (key, "short")


def test_lan_hosts_name_this_machine_and_loopback():
    import socket

    hosts = local_server.lan_hosts()
    assert hosts[:3] == ["localhost", "127.0.0.1", "[::1]"]
    assert socket.gethostname().lower() in hosts
    assert not [h for h in hosts if h.startswith("127.") and h != "127.0.0.1"]
    assert len(hosts) == len(set(hosts))


def test_banner_urls_put_lan_addresses_first_and_skip_patterns():
    urls = local_server.banner_urls(
        ["localhost", "127.0.0.1", "[::1]", "class-pc", "10.0.0.7", ".example.org", "*"], 8000
    )
    assert urls == ["http://10.0.0.7:8000/", "http://class-pc:8000/",
                    "http://localhost:8000/", "http://127.0.0.1:8000/", "http://[::1]:8000/"]


def test_the_classroom_environment_passes_the_production_check(tmp_path, monkeypatch):
    env = local_server.classroom_env(tmp_path, environ={})
    assert env["DJANGO_DEBUG"] == "0" and env["DJANGO_SECURE_COOKIES"] == "0"
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path.resolve() / 'db.sqlite3'}"
    for name in list(os.environ):
        if name.startswith(("DJANGO_", "DATABASE_", "REDIS_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert production_problems() == []


def test_what_the_environment_says_wins(tmp_path):
    env = local_server.classroom_env(tmp_path, environ={
        "DJANGO_ALLOWED_HOSTS": "learn.example.org", "DJANGO_SECRET_KEY": "k" * 40,
        "REDIS_URL": "redis://10.0.0.2:6379/3", "DJANGO_SECURE_COOKIES": "1",
    })
    assert env["DJANGO_ALLOWED_HOSTS"] == "learn.example.org"
    assert env["DJANGO_SECRET_KEY"] == "k" * 40 and not (tmp_path / "secret_key").exists()
    assert env["REDIS_URL"] == "redis://10.0.0.2:6379/3" and env["DJANGO_SECURE_COOKIES"] == "1"


def test_settings_load_with_debug_off_from_the_classroom_environment(tmp_path):
    """What `make run` exports is enough for the settings to load, with DEBUG off."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "platform" / "config" / "local_server.py"), "env",
         str(tmp_path)],
        env={k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "DATABASE_"))},
        capture_output=True, text=True, check=True,
    ).stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    script = out + (
        "\nexec python -c 'import json, django; django.setup(); from django.conf import "
        "settings as s; print(json.dumps([s.DEBUG, s.ALLOWED_HOSTS, s.SESSION_COOKIE_SECURE,"
        " s.STORAGES[\"staticfiles\"][\"BACKEND\"], s.DATABASES[\"default\"]]))'"
    )
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT / "platform")
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    debug, hosts, secure, storage, database = json.loads(
        result.stdout.strip().splitlines()[-1])
    assert debug is False and secure is False
    assert "localhost" in hosts and "127.0.0.1" in hosts
    assert storage.startswith("whitenoise.")
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert database["CONN_MAX_AGE"] == 60  # a web thread keeps its SQLite connection
