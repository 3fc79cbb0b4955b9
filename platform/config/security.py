"""Security headers Django 5.2 does not set itself: Content-Security-Policy and friends.

The policy allows scripts only from our own origin: no inline <script>, no inline event
handlers (onclick=...), no eval. Styles allow 'unsafe-inline' on purpose: KaTeX writes
inline style="..." attributes on every formula, and CodeMirror 6 injects <style> elements at
run time. A nonce would cover CodeMirror's elements but never KaTeX's attributes, and CSS
cannot run code; the XSS defence is escaping plus the strict script-src. (docs/deploy.md)
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

DEFAULT_CSP: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",  # KaTeX and CodeMirror use a few data: URIs
    "font-src": "'self' data:",  # KaTeX fonts are served from /static
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def csp_header() -> str:
    policy = {**DEFAULT_CSP, **getattr(settings, "CONTENT_SECURITY_POLICY", {})}
    return "; ".join(f"{name} {value}".strip() for name, value in policy.items() if value)


class SecurityHeadersMiddleware:
    """Adds CSP (unless a view set its own), Permissions-Policy and COOP on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.csp = csp_header()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.csp)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"
        )
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        # Verdicts and drafts are private: shared caches must not keep them.
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response


def production_problems() -> list[str]:
    """What production settings lack, read straight from the environment (no Django yet)."""
    import os

    problems = []
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if not key:
        problems.append(
            "DJANGO_SECRET_KEY is not set (make one: python -c \"import secrets; "
            "print(secrets.token_urlsafe(50))\")"
        )
    elif len(key) < 32 or key.startswith("dev-only"):
        problems.append("DJANGO_SECRET_KEY is too short or a development key (need ≥ 32 chars)")
    if not os.environ.get("DJANGO_ALLOWED_HOSTS"):
        problems.append("DJANGO_ALLOWED_HOSTS is not set (the host names the site answers to)")
    db = os.environ.get("DATABASE_URL", "")
    if not db:
        problems.append("DATABASE_URL is not set (postgres://user:password@host:5432/name)")
    elif db.startswith("sqlite") and os.environ.get("DJANGO_ALLOW_SQLITE") != "1":
        problems.append(
            "DATABASE_URL points at SQLite; production needs PostgreSQL "
            "(DJANGO_ALLOW_SQLITE=1 for a single-machine install)"
        )
    if not os.environ.get("REDIS_URL"):
        problems.append("REDIS_URL is not set (redis://host:6379/0, shared by web and workers)")
    return problems
