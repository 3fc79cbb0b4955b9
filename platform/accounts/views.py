"""Login with a limit on failed attempts, per username and per client address."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import ratelimit


def client_address(request: HttpRequest) -> str:
    # Behind a proxy set DJANGO_TRUSTED_PROXY_HEADER (docs/deploy.md); never trust it blindly.
    header = getattr(settings, "TRUSTED_PROXY_HEADER", "")
    if header:
        forwarded = request.META.get(header, "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


class RateLimitedLoginView(auth_views.LoginView):
    """Django's LoginView; after too many failures, a 429 page that says when to retry."""

    def _limits(self, request: HttpRequest) -> list[tuple[str, str, ratelimit.Rate]]:
        username = (request.POST.get("username") or "").strip().lower()
        return [
            ("login-user", username, ratelimit.Rate.parse(settings.LOGIN_RATE_LIMIT_USER)),
            ("login-ip", client_address(request),
             ratelimit.Rate.parse(settings.LOGIN_RATE_LIMIT_IP)),
        ]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limits = self._limits(request)
        for scope, ident, rate in limits:
            decision = ratelimit.peek(scope, ident, rate)
            if not decision.allowed:
                return self._limited(request, decision.retry_after)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            ratelimit.reset(*limits[0])  # a success forgets this username's failures
        else:
            for scope, ident, rate in limits:
                ratelimit.hit(scope, ident, rate)
        return response

    def _limited(self, request: HttpRequest, retry_after: int) -> HttpResponse:
        minutes = max(1, (retry_after + 59) // 60)
        response = render(
            request, "accounts/login_limited.html",
            {"retry_after": retry_after, "minutes": minutes}, status=429,
        )
        response["Retry-After"] = str(retry_after)
        return response
