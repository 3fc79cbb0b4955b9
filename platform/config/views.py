"""Error pages (handler403/404/500 in config.urls) and the favicon.

Pages get the site's layout (templates/403.html, 404.html, 500.html); the HTTP API gets
JSON like every other API answer ({"error": ...}, docs/contract.md). The 500 page is
rendered without the database: the error may be the database.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.middleware.csrf import get_token
from django.template import loader
from django.views import defaults

log = logging.getLogger(__name__)

FAVICON = "favicon.svg"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "You may not do this."}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Not found."}, status=404)
    # Django's view: 404.html with the request (navigation) and the escaped path; with DEBUG
    # off it never lists the URL patterns.
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": "Internal server error."}, status=500)
    # No RequestContext: its context processors read the user and the session, i.e. the
    # database, which may be what failed. The layout shows a logged-out header instead.
    context = {"request": request, "csrf_token": get_token(request)}
    try:
        body = loader.get_template("500.html").render(context)
    except Exception:  # a broken 500 page must not hide the first error
        log.exception("the 500 page failed to render")
        body = "<!doctype html><title>Server error</title><h1>Server error (500)</h1>"
    return HttpResponseServerError(body)


def favicon(request: HttpRequest) -> HttpResponse:
    """`/favicon.ico`, asked for by browsers whatever the page says: the site's icon itself
    (an SVG; browsers go by the Content-Type, not the name)."""
    response = HttpResponse(_favicon_bytes(), content_type="image/svg+xml")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@lru_cache(maxsize=1)
def _favicon_bytes() -> bytes:
    return (Path(settings.BASE_DIR) / "static" / FAVICON).read_bytes()
