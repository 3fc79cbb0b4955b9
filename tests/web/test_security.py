"""Web security: headers, CSRF, cookies, login limits, passwords, and who may read what."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import ratelimit
from submissions.models import Submission

pytestmark = pytest.mark.django_db

SOLUTION_MARKER = "SOLUTION_MARKER_7f3a"
HIDDEN_MARKER = "HIDDEN_ARG_MARKER_91"
ALICE_MARKER = "ALICE_PRIVATE_CODE_5e1"

PROBE_YAML = f"""\
slug: secret-probe
title:
  en: Probe
  zh-hans: 探针
prompt:
  en: |
    Define a function `f`.
  zh-hans: |
    定义函数 `f`。
hints:
  - en: |
      Multiply.
    zh-hans: |
      乘。
queue: cpu
checks:
  - call: f
    args: ["torch.tensor([4242.0]) + 0 * len('{HIDDEN_MARKER}')"]
    hidden: true
  - name: y
"""


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("submissions.services.enqueue") as enqueue, mock.patch(
        "submissions.services.workers.online", return_value={"cpu": 1, "gpu": 0}
    ):
        yield enqueue


@pytest.fixture
def probe_course(db, tmp_path):
    """The tensors lesson plus an exercise whose solution and hidden inputs carry markers."""
    from courses.services import course_sync

    root = tmp_path / "lessons"
    shutil.copytree(Path(settings.LESSONS_DIR) / "tensors", root / "tensors")
    probe = root / "tensors" / "exercises" / "secret-probe"
    probe.mkdir()
    (probe / "exercise.yaml").write_text(PROBE_YAML)
    (probe / "setup.py").write_text("import torch\n")
    (probe / "starter.py").write_text("def f(t):\n    return t\n\ny = 0\n")
    (probe / "solution.py").write_text(
        f"def f(t):\n    return t * 2  # {SOLUTION_MARKER}\n\ny = 1  # {SOLUTION_MARKER}\n"
    )
    for lang in ["en", "zh-hans"]:
        prose = root / "tensors" / f"{lang}.md"
        prose.write_text(prose.read_text() + "\n::: exercise secret-probe\n")
    return course_sync(root)


@pytest.fixture
def clear_limits():
    ratelimit._client().delete(*(ratelimit._client().keys("pdl:rl:*") or ["-"]))
    yield
    ratelimit._client().delete(*(ratelimit._client().keys("pdl:rl:*") or ["-"]))


def _student(name: str) -> User:
    from django.contrib.auth.models import Group

    from accounts.models import STUDENTS

    user = User.objects.create_user(name, password=f"{name}-Pass-9371x")
    user.groups.add(Group.objects.get_or_create(name=STUDENTS)[0])
    return user


# --- Headers and cookies ------------------------------------------------------------------


def test_security_headers_on_pages_and_api(course, alice):
    client = Client()
    client.force_login(alice)
    for url in ["/", "/accounts/login/", "/api/exercises/tensor-broadcast/submissions"]:
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'self'"
        assert "unsafe-inline" not in directives["script-src"]
        assert "unsafe-eval" not in directives["script-src"]
        assert directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
    api = client.get("/api/exercises/tensor-broadcast/submissions")
    assert "no-store" in api.headers["Cache-Control"]


def test_pages_have_no_inline_scripts_or_handlers(course, alice):
    """The CSP forbids inline scripts; a page that relies on one would silently break."""
    client = Client()
    client.force_login(alice)
    pages = ["/", "/lessons/tensors/", "/accounts/login/"]
    for url in pages:
        html = client.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
        for tag in re.findall(r"<[a-zA-Z][^>]*>", html):
            assert not re.search(r"\son[a-z]+\s*=", tag, flags=re.I), (url, tag)
            assert "javascript:" not in tag.lower(), (url, tag)


def test_session_and_csrf_cookie_flags(course, alice):
    assert settings.SESSION_COOKIE_HTTPONLY is True
    assert settings.SESSION_COOKIE_SAMESITE in {"Lax", "Strict"}
    assert settings.CSRF_COOKIE_SAMESITE in {"Lax", "Strict"}
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "alice-pass-123"}
    )
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


def test_every_form_carries_a_csrf_token(course, alice):
    client = Client()
    client.force_login(alice)
    for url in ["/", "/lessons/tensors/", "/accounts/login/"]:
        html = client.get(url).content.decode()
        forms = re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S | re.I)
        for form in forms:
            if re.search(r'method="post"', form, flags=re.I):
                assert "csrfmiddlewaretoken" in form, (url, form[:200])


def test_session_posts_without_csrf_are_refused_everywhere(course, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    for url in ["/api/exercises/tensor-broadcast/submissions", "/accounts/logout/",
                "/api/exercises/tensor-broadcast/draft"]:
        response = client.post(url, data=b"{}", content_type="application/json")
        assert response.status_code == 403, url


def test_production_settings_refuse_to_start_without_secrets(monkeypatch):
    from config.security import production_problems

    for name in ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"]:
        monkeypatch.delenv(name, raising=False)
    problems = "\n".join(production_problems())
    for name in ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"]:
        assert name in problems
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 50)
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "example.org")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/pdl")
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    assert production_problems() == []
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    assert "SQLite" in "".join(production_problems())


def test_settings_module_fails_loudly_with_debug_off():
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "0"}
    result = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, 'platform'); "
         "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; "
         "django.setup()"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "docs/deploy.md" in result.stderr


# --- Logins and passwords -----------------------------------------------------------------


def test_login_is_rate_limited_per_username(course, alice, clear_limits):
    client = Client()
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200
    blocked = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed log-in attempts" in blocked.content.decode()
    # Even the right password waits: otherwise the limit would not slow a guesser down.
    right = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"})
    assert right.status_code == 429
    # Another user is not locked out by attacks on alice.
    ok = client.post("/accounts/login/", {"username": "bob", "password": "bob-pass-123"})
    assert ok.status_code == 302 or User.objects.filter(username="bob").count() == 0


def test_login_is_rate_limited_per_address(course, clear_limits, settings):
    settings.LOGIN_RATE_LIMIT_IP = "3/300"
    client = Client()
    for i in range(3):
        client.post("/accounts/login/", {"username": f"nobody{i}", "password": "x"})
    blocked = client.post("/accounts/login/", {"username": "someone-else", "password": "x"})
    assert blocked.status_code == 429


def test_a_successful_login_is_not_limited(course, alice, clear_limits):
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    ok = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"})
    assert ok.status_code == 302


@pytest.mark.parametrize(
    "password", ["short1", "password123", "12345678901", "alice-student", "qwertyuiop"]
)
def test_weak_passwords_are_refused(password):
    user = User(username="alice-student", email="alice@example.org")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_strong_password_is_accepted():
    validate_password("Tensor-Broadcast-42!", User(username="alice"))


# --- Submission rate limit and fairness ---------------------------------------------------


def test_submissions_are_rate_limited_with_retry_after(course, alice, settings, clear_limits):
    settings.SUBMISSION_RATE_LIMIT = "3/60"
    client = Client()
    client.force_login(alice)
    url = "/api/exercises/tensor-broadcast/submissions"
    for _ in range(3):
        response = client.post(url, data=json.dumps({"code": "c = a + b"}),
                               content_type="application/json")
        assert response.status_code == 202
    limited = client.post(url, data=json.dumps({"code": "c = a + b"}),
                          content_type="application/json")
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    data = limited.json()
    assert data["retry_after"] == int(limited.headers["Retry-After"])
    assert "try again in" in data["error"]
    assert Submission.objects.filter(user=alice).count() == 3  # nothing stored for the 4th


def test_a_newer_submission_supersedes_an_older_queued_one(course, alice, bob, clear_limits):
    client = Client()
    client.force_login(alice)
    url = "/api/exercises/tensor-broadcast/submissions"

    def submit(c: Client) -> dict:
        return c.post(url, data=json.dumps({"code": "c = a + b"}),
                      content_type="application/json").json()

    first = submit(client)
    bob_client = Client()
    bob_client.force_login(bob)
    bobs = submit(bob_client)
    second = submit(client)
    old = client.get(f"/api/submissions/{first['id']}").json()
    assert old["status"] == "graded" and old["outcome"] == "rejected"
    assert old["error"]["type"] == "superseded"
    assert old["superseded_by"] == second["id"]
    assert f"#{second['id']}" in old["error"]["message"]
    assert client.get(f"/api/submissions/{second['id']}").json()["status"] == "queued"
    # Bob's submission for the same exercise is untouched.
    assert bob_client.get(f"/api/submissions/{bobs['id']}").json()["status"] == "queued"


def test_a_running_submission_is_not_superseded(course, alice, clear_limits):
    client = Client()
    client.force_login(alice)
    url = "/api/exercises/tensor-broadcast/submissions"
    body = json.dumps({"code": "c = a + b"})
    first = client.post(url, data=body, content_type="application/json").json()
    Submission.objects.filter(pk=first["id"]).update(status="running")
    client.post(url, data=body, content_type="application/json")
    assert Submission.objects.get(pk=first["id"]).status == "running"


# --- Authorization: nobody reads another student's work or the course's secrets ----------


def _course_slug() -> str:
    """The dashboard's default course, if the dashboard app is installed."""
    try:
        from dashboard.models import DEFAULT_COURSE_SLUG
    except ImportError:
        return "1"
    return DEFAULT_COURSE_SLUG


def _fill(pattern: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), pattern)


def _all_get_urls(values: dict[str, str]) -> list[str]:
    """Every URL the project routes, with its parameters filled in with real ids/slugs."""
    urls: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("^") or "(?P" in route:
                    continue  # admin's regex routes: covered by the admin's own staff check
                urls.append("/" + _fill(route, values))

    walk(get_resolver().url_patterns, "")
    return sorted(set(urls))


def test_no_url_shows_a_student_another_students_work_or_course_secrets(
    probe_course, clear_limits
):
    alice, bob = _student("alice"), _student("bob")
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    code = f"def f(t):\n    return t * 2  # {ALICE_MARKER}\n\ny = 1\n"
    for slug in ["secret-probe", "tensor-broadcast"]:
        alice_client.put(f"/api/exercises/{slug}/draft", data=json.dumps({"code": code}),
                         content_type="application/json")
        sub = alice_client.post(f"/api/exercises/{slug}/submissions",
                                data=json.dumps({"code": code}),
                                content_type="application/json").json()
    # Give alice's submission a graded verdict as the grader would store it.
    Submission.objects.filter(pk=sub["id"]).update(
        status="graded", outcome="passed",
        verdict={"outcome": "passed", "stdout": ALICE_MARKER, "checks": []},
    )
    assert ALICE_MARKER in alice_client.get(f"/api/submissions/{sub['id']}").content.decode()

    values = {"slug": "secret-probe", "pk": str(sub["id"]), "id": str(sub["id"]),
              "submission_id": str(sub["id"]), "user_id": str(alice.pk),
              "username": "alice", "lesson": "tensors", "course": _course_slug()}
    urls = _all_get_urls(values) + _all_get_urls({**values, "slug": "tensors"}) + [
        f"/api/submissions/{sub['id']}?wait=0.1",
        "/api/exercises/secret-probe/submissions",
        "/api/exercises/tensor-broadcast/submissions",
        "/lessons/tensors/",
    ]
    seen = 0
    for url in urls:
        response = bob_client.get(url, follow=True)
        body = response.content.decode(errors="replace")
        seen += response.status_code == 200
        assert ALICE_MARKER not in body, url
        assert SOLUTION_MARKER not in body, url
        assert HIDDEN_MARKER not in body, url
    assert seen >= 3  # the walk really fetched pages (lesson page, lists, drafts)
    # Alice herself never sees the reference solution or hidden inputs either.
    for url in urls:
        body = alice_client.get(url, follow=True).content.decode(errors="replace")
        assert SOLUTION_MARKER not in body, url
        assert HIDDEN_MARKER not in body, url


def test_submission_ids_reveal_nothing(course, alice, bob):
    client = Client()
    client.force_login(bob)
    missing = client.get("/api/submissions/999999")
    alice_client = Client()
    alice_client.force_login(alice)
    sub_id = alice_client.post("/api/exercises/tensor-broadcast/submissions",
                               data=json.dumps({"code": "c = a + b"}),
                               content_type="application/json").json()["id"]
    other = client.get(f"/api/submissions/{sub_id}")
    assert missing.status_code == other.status_code == 404
    assert set(missing.json()) == set(other.json()) == {"error"}


HOSTILE = '<script>alert("pwned")</script><img src=x onerror="alert(1)">'


def test_student_code_and_output_are_escaped_wherever_they_are_shown(probe_course, teacher):
    """Code and output are shown to the student (lesson page, API) and to instructors
    (dashboard): everywhere as text, never as markup."""
    alice = _student("alice")
    client = Client()
    client.force_login(alice)
    code = f"c = a + b  # {HOSTILE}"
    client.put("/api/exercises/tensor-broadcast/draft", data=json.dumps({"code": code}),
               content_type="application/json")
    sub_id = client.post("/api/exercises/tensor-broadcast/submissions",
                         data=json.dumps({"code": code}),
                         content_type="application/json").json()["id"]
    Submission.objects.filter(pk=sub_id).update(
        status="graded", outcome="failed", score=0.0,
        verdict={"outcome": "failed", "passed": False, "score": 0.0, "max_score": 1.0,
                 "stdout": HOSTILE, "checks": [{"name": "c", "passed": False, "points": 0,
                                                "max_points": 1, "message": HOSTILE}],
                 "error": {"type": "ValueError", "message": HOSTILE}},
    )
    teacher_client = Client()
    teacher_client.force_login(teacher)
    course = _course_slug()
    pages = [
        (client, "/lessons/tensors/"),
        (teacher_client, f"/dashboard/{course}/submissions/{sub_id}/"),
        (teacher_client, f"/dashboard/{course}/submissions/"),
        (teacher_client, f"/dashboard/{course}/exercises/tensor-broadcast/"),
    ]
    shown = 0
    for who, url in pages:
        response = who.get(url)
        if response.status_code == 404 and url.startswith("/dashboard"):
            continue  # the dashboard is not installed in this checkout
        assert response.status_code == 200, (url, response.status_code)
        html = response.content.decode()
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url
        shown += "&lt;script&gt;alert" in html or "\\u003Cscript" in html
    assert shown >= 1  # the hostile text really was on a page, escaped
    # JSON answers are not markup, but are served as JSON with nosniff.
    api = client.get(f"/api/submissions/{sub_id}")
    assert api.headers["Content-Type"].startswith("application/json")
    assert api.headers["X-Content-Type-Options"] == "nosniff"
