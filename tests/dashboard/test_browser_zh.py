"""In Chromium, under the strict CSP: what static/dashboard/dashboard.js writes into a
dashboard page (the queue summary) is in 简体中文 when the interface is, and in English
otherwise (issue #14 §5)."""

from __future__ import annotations

import pytest
from tests.dashboard.test_browser import page, shot  # noqa: F401  (the Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _login(page, live_server, language: str) -> str:  # noqa: F811
    base = f"{live_server.url}/dashboard/pytorch"
    page.context.add_cookies([{"name": "django_language", "value": language,
                               "url": live_server.url}])
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/pytorch/")
    page.fill("#id_username", "teacher")
    page.fill("#id_password", "teacher-pass-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")
    return base


def test_queue_summary_in_chinese_and_english(seeded, live_server, page):  # noqa: F811
    _login(page, live_server, "zh-hans")
    page.wait_for_selector("#queue-summary .queue-line")
    line = page.inner_text("#queue-summary .queue-line")
    assert "个等待中" in line and "出结果用时中位数" in line, line
    assert "waiting" not in line and "worker(s)" not in line, line
    shot(page, "zh-01-overview")

    page.context.add_cookies([{"name": "django_language", "value": "en",
                               "url": live_server.url}])
    page.reload()
    page.wait_for_selector("#queue-summary .queue-line")
    line = page.inner_text("#queue-summary .queue-line")
    assert "waiting" in line and "median time to verdict" in line, line
    assert page.watch.problems == []
