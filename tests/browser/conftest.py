"""Browser tests: Playwright driving Debian's Chromium against the real stack."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ROOT, PageWatch

# Reuse the real-worker fixtures of the integration suite (Celery worker + real Redis).
# Its conftest imports helpers that sit beside it, so its folder goes on the path first.
_INTEGRATION = ROOT / "tests" / "integration"
if str(_INTEGRATION) not in sys.path:
    sys.path.insert(0, str(_INTEGRATION))
_spec = importlib.util.spec_from_file_location(
    "integration_fixtures", _INTEGRATION / "conftest.py"
)
assert _spec and _spec.loader
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
cpu_worker = _integration.cpu_worker


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch) -> None:
    """Playwright's sync API keeps an event loop running in this thread while it is started;
    the ORM calls of the fixtures are still plain synchronous calls, so Django's async-safety
    guard must stand aside, for these tests only (set up first, undone last)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def chromium() -> Iterator[object]:
    """One browser per test: Playwright stopped at the end leaves no event loop behind for
    the tests that follow."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium "
            "(make test does this)"
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium, live_server) -> Iterator[tuple[object, PageWatch]]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    watch = PageWatch(live_server.url)
    watch.attach(page)
    try:
        yield page, watch
    finally:
        context.close()
