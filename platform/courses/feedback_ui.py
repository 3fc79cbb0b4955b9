"""The texts of the feedback component (static/js/feedback.js), in the active language.

The lesson page and the dashboard's submission page both draw a verdict with that one
component; both hand it these strings (through json_script), so a student and a teacher read
the same words, each in their own language.
"""

from __future__ import annotations

from django.utils.translation import gettext as _


def feedback_strings() -> dict[str, str]:
    """Outcome words and the labels of a verdict (keys are what feedback.js asks for)."""
    return {
        "passed": _("Passed"),
        "failed": _("Failed"),
        "error": _("Error"),
        "timeout": _("Time limit"),
        "memory_limit": _("Memory limit"),
        "output_limit": _("Output limit"),
        "rejected": _("Rejected"),
        "queue_unavailable": _("No worker available"),
        "internal_error": _("Internal error"),
        "ran": _("Ran"),
        "score": _("Score"),
        "checks": _("Checks"),
        "expected": _("Expected"),
        "actual": _("Your value"),
        "output": _("Output"),
        "no_output": _("(no output)"),
        "values": _("Values"),
        "traceback": _("Traceback"),
        "hidden_check": _("hidden test"),
        "not_counted": _("not counted"),
        "output_cut": _("The output was cut: it went over the size limit."),
        "line": _("Line %(line)s"),
        "run_result": _("Run result (not graded)"),
        "shape": _("shape"),
        "dtype": _("dtype"),
    }
