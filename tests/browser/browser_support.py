"""Shared pieces of the browser tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# The policy the reliability engineer serves; the page must work under it.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


class PageWatch:
    """Collects what must never happen on a page: errors, CSP violations, off-site requests."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.problems: list[str] = []

    def attach(self, page) -> None:
        self.page = page
        # Every CSP violation of every page load, kept in the page for assert_clean().
        page.add_init_script(
            "window.__csp = [];"
            "document.addEventListener('securitypolicyviolation', (e) =>"
            " window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on(
            "console",
            lambda m: self.problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text
            else None,
        )

        def route(route) -> None:
            url = route.request.url
            if not url.startswith(self.base):
                self.problems.append(f"external request: {url}")
                route.abort()
                return
            try:
                response = route.fetch(max_redirects=0)  # the browser follows redirects itself
                headers = {**response.headers, "content-security-policy": STRICT_CSP}
                route.fulfill(response=response, headers=headers)
            except PlaywrightError as exc:
                # The page went away mid-request (a reload, or the test ending): nobody is
                # waiting for this answer any more.
                if "disposed" not in str(exc) and "closed" not in str(exc):
                    raise

        page.route("**/*", route)

    def assert_clean(self) -> None:
        violations = self.page.evaluate("window.__csp || []")
        assert not violations, f"CSP violations: {violations}"
        assert not self.problems, "\n".join(self.problems)



def log_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")
