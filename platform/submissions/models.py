"""A submission is a row before it is a task: the database is the source of truth."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from courses.models import Exercise, ExerciseVersion
from grading.verdict import stored_json


class Submission(models.Model):
    class Kind(models.TextChoices):
        SUBMIT = "submit"  # graded
        RUN = "run"  # executed for display only, never graded

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        GRADED = "graded"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="submissions")
    version = models.ForeignKey(ExerciseVersion, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SUBMIT)
    code = models.TextField()
    queue = models.CharField(max_length=8, default="cpu")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    outcome = models.CharField(max_length=20, blank=True, default="")
    score = models.FloatField(null=True, blank=True)
    max_score = models.FloatField(default=0)
    verdict = models.JSONField(null=True, blank=True)  # grading.verdict: Verdict / RunView
    tries = models.PositiveSmallIntegerField(default=0)  # times a worker claimed it
    requeues = models.PositiveSmallIntegerField(default=0)  # times the sweeper re-published it
    queued_at = models.DateTimeField(null=True, blank=True)  # last (re)publication to the queue
    worker = models.CharField(max_length=200, blank=True, default="")  # who graded it
    # Sandbox time charged to the student's budget when the run finished (docs/deploy.md,
    # "Fairness"): wall time, and CPU time where the sandbox measured it.
    sandbox_ms = models.PositiveIntegerField(default=0)
    cpu_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "exercise", "-created_at"]),
            models.Index(fields=["status", "created_at"]),
            # The one-in-flight rule and the sandbox budget read a student's recent rows.
            models.Index(fields=["user", "status"], name="submission_user_status"),
            models.Index(fields=["user", "finished_at"], name="submission_user_finished"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.exercise.slug} by {self.user} ({self.status})"

    def to_json(self) -> dict[str, Any]:
        """The verdict JSON of docs/contract.md: `outcome` and the rest appear once graded
        (built by grading.verdict, the one builder)."""
        return stored_json(
            self.verdict, graded=self.status == self.Status.GRADED, id=self.pk,
            exercise=self.exercise.slug, kind=self.kind, status=self.status, queue=self.queue,
            version=self.version.number, created_at=self.created_at.isoformat(),
            outcome=self.outcome,
        )
