"""A student's unsent work and settings: the cell's text, hints seen, interface language."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from courses.models import Exercise


class Draft(models.Model):
    """The latest text of one student's cell, saved as they type (a reload loses nothing)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drafts"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="drafts")
    code = models.TextField(blank=True, default="")
    hints_shown = models.PositiveSmallIntegerField(default=0)  # hints revealed so far, in order
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "exercise"], name="one_draft_per_cell")
        ]

    def __str__(self) -> str:
        return f"draft of {self.exercise.slug} by {self.user}"


class Preference(models.Model):
    """Per-user interface settings that follow the user across browsers."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    language = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return f"preferences of {self.user}"
