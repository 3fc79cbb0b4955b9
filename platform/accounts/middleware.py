"""`Authorization: Token <key>` authentication for the HTTP API."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from accounts.models import ApiToken


class TokenAuthMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if header.startswith("Token "):
            user = ApiToken.objects.user_for(header.removeprefix("Token ").strip())
            if user is None:
                return JsonResponse({"error": "Invalid API token."}, status=401)
            request.user = user
            # A token is not a cookie, so a cross-site page cannot send it: no CSRF risk.
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)
