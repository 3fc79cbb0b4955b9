"""Small template helpers for the dashboard."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def dictkey(mapping: dict[Any, Any], key: Any) -> Any:
    """`{{ row.cells|dictkey:exercise.pk }}`: Django templates cannot index by a variable."""
    return mapping.get(key) if mapping else None
