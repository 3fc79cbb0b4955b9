"""An instructor, in Chromium against the real stack (live server, Redis, a Celery worker
grading in the sandbox): looks at the dashboard, edits a check, validates through the
queue, publishes, regrades, sees the pass rate and top diagnostics change, downloads CSV.

Screenshots land in test-artifacts/dashboard/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # ORM calls beside Playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# The strict policy a production proxy may serve: no inline script or style at all.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
WORKER_TIMEOUT = 120_000

pytestmark = [pytest.mark.browser, pytest.mark.integration]


class Watch:
    """Page errors, CSP violations and off-site requests: none may happen."""

    def __init__(self, base: str) -> None:
        self.base, self.problems = base, []

    def attach(self, page) -> None:
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("console", lambda m: self.problems.append(f"console: {m.text}")
                if m.type == "error" and "Failed to load resource" not in m.text else None)

        def route(route) -> None:
            if not route.request.url.startswith(self.base):
                self.problems.append(f"external request: {route.request.url}")
                route.abort()
                return
            response = route.fetch(max_redirects=0)
            route.fulfill(response=response,
                          headers={**response.headers, "content-security-policy": STRICT_CSP})

        page.route("**/*", route)


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                      accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(30_000)
        watch = Watch(live_server.url)
        watch.attach(page)
        page.watch = watch
        yield page
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_instructor_edits_validates_publishes_regrades(seeded, cpu_worker, live_server, page):
    base = f"{live_server.url}/dashboard/pytorch"
    page.goto(f"{live_server.url}/accounts/login/?next=/dashboard/pytorch/")
    page.fill("#id_username", "teacher")
    page.fill("#id_password", "teacher-pass-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")
    page.wait_for_selector("#queue-summary .queue-line")
    assert "cpu:" in page.inner_text("#queue-summary")
    shot(page, "01-overview")

    page.goto(f"{base}/gradebook/")
    rows = page.locator("#gradebook tbody tr")
    assert rows.count() == 3
    shot(page, "02-gradebook")

    page.goto(f"{base}/exercises/tensor-broadcast/")
    page.wait_for_selector("#chart-diagnostics svg rect.bar")
    assert page.inner_text("#pass-rate") == "67%"
    assert "shape-mismatch" in page.inner_text("#diagnostics-table")
    shot(page, "03-exercise-before")

    # Edit the check and the reference: c must now be float32.
    page.goto(f"{base}/author/exercises/tensor-broadcast/")
    page.fill("textarea[name=solution]", "c = (a + b).float()\n")
    page.fill("#checks", "- name: c\n  label: c, as float32\n")
    page.fill("input[name=title_en]", "Broadcasting <to float>")
    page.wait_for_function(
        "() => document.querySelector('#preview h3')?.textContent.includes('<to float>')")
    assert page.locator("#publish-button").is_disabled()
    page.click("#validate-button")
    page.wait_for_selector("#validation-body .outcome.passed", timeout=WORKER_TIMEOUT)
    assert "Reference" in page.inner_text("#validation-body")
    page.wait_for_function("() => !document.querySelector('#publish-button').disabled")
    shot(page, "04-validated")

    page.click("#publish-button")
    page.wait_for_url(f"{base}/exercises/tensor-broadcast/")
    assert "as version 2" in page.inner_text(".messages")

    page.click("#regrade-button")
    page.wait_for_selector("#changes", timeout=WORKER_TIMEOUT)  # the page reloads when done
    changes = page.inner_text("#changes")
    assert "alice" in changes and "bob" in changes  # passed before, int64 now fails
    shot(page, "05-regrade-done")

    page.goto(f"{base}/exercises/tensor-broadcast/")
    page.wait_for_selector("#chart-diagnostics svg rect.bar")
    assert page.inner_text("#pass-rate") == "0%"
    assert "dtype-mismatch" in page.inner_text("#diagnostics-table")
    shot(page, "06-exercise-after")

    page.goto(f"{base}/gradebook/")
    alice = page.locator('td[data-student="alice"][data-exercise="tensor-broadcast"]')
    assert "▼" in alice.inner_text()
    shot(page, "07-gradebook-after")
    with page.expect_download() as info:
        page.click("text=Download CSV")
    raw = Path(info.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"tensor-broadcast" in raw
    (ARTIFACTS / "gradebook.csv").write_bytes(raw)

    assert not page.watch.problems, page.watch.problems
