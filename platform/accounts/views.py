"""Login with a limit on attempts, per username and per client address; joining a course
(the join link and sign-up), the account page, password reset with a limit per address.

The same limiter guards `/accounts/login/` and `/admin/login/`, with shared counters: an
attacker gets one allowance per username, not one per login form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_logged_in
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from accounts import ratelimit, services
from accounts.forms import JoinCodeForm, ResetForm, SignupForm
from accounts.selectors import my_courses

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


# --------------------------------------------------------------------------- joining a course


def _too_many(request: HttpRequest, retry_after: int, what: str) -> HttpResponse:
    minutes = max(1, (retry_after + 59) // 60)
    response = render(request, "accounts/too_many.html",
                      {"minutes": minutes, "what": what}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, code: str) -> HttpResponse:
    """`/join/<code>`: a logged-in user joins at once; a visitor signs up (when the course
    allows it) or logs in and comes back. Either way they land on the first lesson."""
    link = services.link_for_code(code)
    if link is None:
        return render(request, "accounts/join_invalid.html", status=404)
    course = link.course
    if request.user.is_authenticated:
        services.enrol(request.user, course)
        return redirect(services.first_lesson_url(course))
    form = SignupForm(request.POST or None) if link.signup_open else None
    if request.method == "POST" and form is not None and form.is_valid():
        decision = ratelimit.hit("signup-ip", client_address(request),
                                 ratelimit.Rate.parse(settings.SIGNUP_RATE_LIMIT_IP))
        if not decision.allowed:
            return _too_many(request, decision.retry_after, "signup")
        try:
            user = services.sign_up(form, course)
        except IntegrityError:  # the same username taken a moment ago
            form.add_error("username", _("A user with that username already exists."))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(services.first_lesson_url(course))
    return render(request, "accounts/join.html", {
        "course": course, "form": form, "code": link.code,
        "login_url": f"{reverse('login')}?{urlencode({'next': request.path})}",
    })


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """`/accounts/signup/`: sign-up goes through a course's join link; paste it here."""
    form = JoinCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        link = services.link_for_code(form.code())
        if link is not None:
            return redirect(reverse("join", args=[link.code]))
        form.add_error("link", _("This join link is not valid. Ask your instructor for the "
                                 "current one."))
    return render(request, "accounts/signup.html", {"form": form})


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """`/accounts/`: the user's courses (with their role) and their password."""
    courses = [
        {"course": m.course, "role": m.role, "is_staff": m.is_staff,
         "start": services.first_lesson_url(m.course)}
        for m in my_courses(request.user)
    ]
    response = render(request, "accounts/account.html", {"courses": courses})
    response["Cache-Control"] = "private, no-store"
    return response


class RateLimitedResetView(auth_views.PasswordResetView):
    """Django's password-reset view; each request sends an e-mail, so an address may ask
    only so often (the answer never says whether the address has an account)."""

    form_class = ResetForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        decision = ratelimit.hit("reset-ip", client_address(request),
                                 ratelimit.Rate.parse(settings.PASSWORD_RESET_RATE_LIMIT_IP))
        if not decision.allowed:
            return _too_many(request, decision.retry_after, "reset")
        return super().post(request, *args, **kwargs)
