"""The interface language, remembered per user (not only per browser cookie)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language

from drafts.models import Preference

_CODES = {code for code, _ in settings.LANGUAGES}


def page_language() -> str:
    """The active language as lesson content knows it: "en" or "zh-hans"."""
    return "zh-hans" if (translation.get_language() or "en").startswith("zh") else "en"


def preferred_language(user: Any) -> str:
    if not user.is_authenticated:
        return ""
    pref = Preference.objects.filter(user=user).only("language").first()
    return pref.language if pref and pref.language in _CODES else ""


def use_preferred_language(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Render in the user's saved language and put it in the cookie, so a new browser
    (or a new device) shows the language the user chose last time."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wanted = preferred_language(request.user)
        if not wanted or wanted == translation.get_language():
            return view(request, *args, **kwargs)
        with translation.override(wanted):
            request.LANGUAGE_CODE = wanted
            response = view(request, *args, **kwargs)
            if hasattr(response, "render") and callable(response.render):
                response.render()
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, wanted,
            max_age=settings.LANGUAGE_COOKIE_AGE, path=settings.LANGUAGE_COOKIE_PATH,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE or "Lax",
        )
        response.headers["Content-Language"] = wanted
        return response

    return wrapped


@require_POST
def set_language_view(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie + redirect), plus the choice saved for the user."""
    response = set_language(request)
    code = request.POST.get("language", "")
    if request.user.is_authenticated and code in _CODES:
        Preference.objects.update_or_create(user=request.user, defaults={"language": code})
    return response
