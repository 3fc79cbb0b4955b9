"""Template context: the user's courses, computed only if a template asks for them."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.http import HttpRequest


def my_courses(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"my_courses": ()}

    @cache
    def courses() -> list[Any]:
        from accounts.selectors import my_courses as select

        return select(user)

    # A template calls a callable variable; most pages never touch it, so no query for them.
    return {"my_courses": courses}
