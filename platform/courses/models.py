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

    class Meta:
        ordering = ["lesson__order", "order"]

    def __str__(self) -> str:
        return self.slug

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
