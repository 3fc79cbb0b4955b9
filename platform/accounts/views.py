"""Login with a limit on attempts, per username and per client address.

The same limiter guards `/accounts/login/` and `/admin/login/`, with shared counters: an
attacker gets one allowance per username, not one per login form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from accounts import ratelimit

Limit = tuple[str, str, ratelimit.Rate]
_SUCCEEDED = "_login_limiter_succeeded"


def _mark_success(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # "The password was right" comes from login() itself, not from request.user: a visitor
    # who is already logged in must not reset the counter of a username they guess at.
    if request is not None:
        setattr(request, _SUCCEEDED, True)


user_logged_in.connect(_mark_success, dispatch_uid="accounts.login_limiter")


def client_address(request: HttpRequest) -> str:
    # Behind a proxy set DJANGO_TRUSTED_PROXY_HEADER (docs/deploy.md); never trust it blindly.
    header = getattr(settings, "TRUSTED_PROXY_HEADER", "")
    if header:
        forwarded = request.META.get(header, "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")


def login_limits(request: HttpRequest) -> tuple[Limit, Limit]:
    """(per username, per address). The username is keyed as Django will look it up."""
    username = ratelimit.normalize_username(request.POST.get("username") or "")
    return (
        ("login-user", username, ratelimit.Rate.parse(settings.LOGIN_RATE_LIMIT_USER)),
        ("login-ip", client_address(request), ratelimit.Rate.parse(settings.LOGIN_RATE_LIMIT_IP)),
    )


def limited_login(request: HttpRequest, check: Callable[[], HttpResponse]) -> HttpResponse:
    """Count the attempt, then (if within both limits) let `check` verify the password.

    Counting first is what makes the limit hold under a parallel burst: every request takes
    its number atomically before any password is checked, so at most the allowance of them
    ever reaches the password check. A success takes its attempt back (the address counts
    failures only) and forgets the username's failures.
    """
    user_limit, ip_limit = login_limits(request)
    decisions = [ratelimit.hit(*user_limit), ratelimit.hit(*ip_limit)]
    refused = [d for d in decisions if not d.allowed]
    if refused:
        return _limited(request, max(d.retry_after for d in refused))
    response = check()
    if getattr(request, _SUCCEEDED, False):
        ratelimit.reset(*user_limit)
        ratelimit.undo(*ip_limit)
    return response


def _limited(request: HttpRequest, retry_after: int) -> HttpResponse:
    minutes = max(1, (retry_after + 59) // 60)
    response = render(
        request, "accounts/login_limited.html",
        {"retry_after": retry_after, "minutes": minutes}, status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


class RateLimitedLoginView(auth_views.LoginView):
    """Django's LoginView; after too many attempts, a 429 page that says when to retry."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return limited_login(request, lambda: super(RateLimitedLoginView, self).post(
            request, *args, **kwargs))


@sensitive_post_parameters()
@csrf_protect
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's own login view, behind the same limiter (its POSTs only)."""
    if request.method != "POST":
        return admin.site.login(request)
    return limited_login(request, lambda: admin.site.login(request))
