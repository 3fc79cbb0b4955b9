"""LTI_FRAME_ANCESTORS (docs/lti.md, "Inside an iframe"): the LMS origins may frame the
site, and in production the session and CSRF cookies become SameSite=None; Secure."""

from __future__ import annotations

import json
import subprocess
import sys

from django.conf import settings

PRINT = (
    "import sys, json; sys.path.insert(0, 'platform'); import django, os; "
    "os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; django.setup(); "
    "from django.conf import settings as s; from config.security import csp_header; "
    "print(json.dumps([s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE, "
    "s.SESSION_COOKIE_SECURE, s.X_FRAME_OPTIONS, csp_header()]))"
)


def _settings(**env: str) -> list:
    base = {"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "k" * 50,
            "DJANGO_ALLOWED_HOSTS": "learn.example.edu", "DJANGO_ALLOW_SQLITE": "1",
            "DATABASE_URL": "sqlite:////tmp/lti-settings-test.sqlite3",
            "REDIS_URL": "redis://127.0.0.1:6379/5"}
    result = subprocess.run([sys.executable, "-c", PRINT], cwd=settings.BASE_DIR,
                            env={**base, **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_it_nothing_may_frame_the_site():
    samesite, csrf, secure, xfo, csp = _settings()
    assert (samesite, csrf, secure, xfo) == ("Lax", "Lax", True, "DENY")
    assert "frame-ancestors 'none'" in csp


def test_with_it_the_lms_may_frame_the_site_and_cookies_cross_sites():
    samesite, csrf, secure, xfo, csp = _settings(
        LTI_FRAME_ANCESTORS="https://moodle.example.edu,https://canvas.example.edu")
    assert (samesite, csrf, secure) == ("None", "None", True)
    assert xfo == "SAMEORIGIN"
    assert ("frame-ancestors 'self' https://moodle.example.edu https://canvas.example.edu"
            in csp)
