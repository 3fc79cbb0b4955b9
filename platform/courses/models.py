"""The course as the database holds it: lessons, exercises and their graded versions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.db import models

from grading.spec import ExerciseSpec


def pick_language(texts: dict[str, str], lang: str) -> str:
    """Return the text in `lang`, falling back to English."""
    return texts.get(lang) or texts.get("en") or ""


class Lesson(models.Model):
    slug = models.SlugField(unique=True)
    order = models.PositiveIntegerField(default=0)
    title = models.JSONField(default=dict)  # {"en": ..., "zh-hans": ...}
    summary = models.JSONField(default=dict)
    prose = models.JSONField(default=dict)  # language -> Markdown with `::: exercise <slug>` lines
    # lesson.yaml `due` (a Submit after it is late) and `opens` (hidden from students before).
    due = models.DateTimeField(null=True, blank=True)
    opens = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self) -> str:
        return self.slug


class Exercise(models.Model):
    slug = models.SlugField(unique=True)
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="exercises")
    order = models.PositiveIntegerField(default=0)
    current_version = models.ForeignKey(
        "ExerciseVersion", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # exercise.yaml: its own deadline (else the lesson's), optional (counts in no total),
    # weight (its grade's factor in the totals). How it counts, not how it is graded.
    due = models.DateTimeField(null=True, blank=True)
    optional = models.BooleanField(default=False)
    weight = models.FloatField(default=1.0)

    class Meta:
        ordering = ["lesson__order", "order"]

    def __str__(self) -> str:
        return self.slug

    @property
    def deadline(self) -> Any:
        """The exercise's own `due`, else its lesson's (None: no deadline)."""
        return self.due or self.lesson.due

    @property
    def spec(self) -> ExerciseSpec:
        assert self.current_version is not None
        return self.current_version.spec

    def public_data(self, lang: str) -> dict[str, Any]:
        """What the browser may see: never the solution, never hidden inputs."""
        spec = self.spec
        return {
            "slug": self.slug,
            "title": pick_language(spec.title, lang),
            "prompt": pick_language(spec.prompt, lang),
            "setup": spec.setup,
            "starter": spec.starter,
            "queue": spec.queue,
            "max_score": spec.max_score,
            "hint_count": len(spec.hints),
        }


class ExerciseVersion(models.Model):
    """One graded form of an exercise; a submission keeps the version it was graded against."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    fingerprint = models.CharField(max_length=32)
    data = models.JSONField()  # ExerciseSpec.to_dict(), solution included: server-side only
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["exercise", "number"]
        constraints = [
            models.UniqueConstraint(fields=["exercise", "number"], name="unique_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.exercise.slug} v{self.number}"

    @property
    def spec(self) -> ExerciseSpec:
        # The version is part of the worker's reference-cache key.
        return replace(
            ExerciseSpec.from_dict(self.data), version=f"{self.number}-{self.fingerprint}"
        )
