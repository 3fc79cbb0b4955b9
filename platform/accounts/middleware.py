"""`Authorization: Token <key>` authentication for the HTTP API.

A token request to the API (`/api/…`) carries no cookie, so it goes past the cookie
machinery (sessions, their authentication, messages): the subclasses below stand for
those middlewares in settings.MIDDLEWARE. Every other request, a token one to a page included,
goes through all of them as before.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponse, JsonResponse

from accounts.models import ApiToken

API_PREFIX = "/api/"


def is_token_api_request(request: HttpRequest) -> bool:
    return (request.META.get("HTTP_AUTHORIZATION", "").startswith("Token ")
            and request.path_info.startswith(API_PREFIX))


class TokenAuthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if header.startswith("Token "):
            user = ApiToken.objects.user_for(header.removeprefix("Token ").strip())
            if user is None:
                return JsonResponse({"error": "Invalid API token."}, status=401)
            request.user = user
            # A token is not a cookie, so a cross-site page cannot send it: no CSRF risk.
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)


# Subclasses (the admin's system checks look for these classes), each skipping its work
# for a token request to the API.


class SessionMiddleware(sessions.SessionMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not is_token_api_request(request):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not hasattr(request, "session"):
            return response
        return super().process_response(request, response)


class AuthenticationMiddleware(auth.AuthenticationMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not is_token_api_request(request):
            super().process_request(request)


class MessageMiddleware(messages.MessageMiddleware):
    def process_request(self, request: HttpRequest) -> None:
        if not is_token_api_request(request):
            super().process_request(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if not hasattr(request, "_messages"):
            return response
        return super().process_response(request, response)
