"""Stored state words (outcome, status, kind, role) shown in the reader's language.

The database keeps "passed", "running", "submit"…; pages show `{{ value|state_label }}`, so a
teacher reading in 简体中文 sees 通过 / 运行中 / 提交 while filters and URLs keep the codes."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from courses.feedback_ui import feedback_strings

register = template.Library()


def _states() -> dict[str, str]:
    outcomes = feedback_strings()
    return {
        **{k: outcomes[k] for k in ("passed", "failed", "error", "timeout", "memory_limit",
                                    "output_limit", "rejected", "queue_unavailable",
                                    "internal_error")},
        "queued": pgettext("state", "queued"),
        "running": pgettext("state", "running"),
        "graded": pgettext("state", "graded"),
        "pending": pgettext("state", "pending"),
        "done": pgettext("state", "done"),
        "submit": _("Submit"),
        "run": _("Run"),
        "instructor": _("instructor"),
        "ta": _("teaching assistant"),
        "student": _("student"),
    }


@register.filter
def state_label(value: object) -> str:
    """The translated word for a stored code; an unknown code is shown as it is."""
    code = "" if value is None else str(value)
    return _states().get(code, code)


@register.filter
def duration(seconds: float | None) -> str:
    """A median time in the reader's language (selectors.humanize_seconds, translated)."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 90:
        return _("%(n)s s") % {"n": seconds}
    if seconds < 90 * 60:
        return _("%(n)s min") % {"n": seconds // 60}
    if seconds < 48 * 3600:
        return _("%(n).1f h") % {"n": seconds / 3600}
    return _("%(n).1f days") % {"n": seconds / 86400}
