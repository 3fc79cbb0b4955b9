"""The instructor's side: course membership, regrades, overrides, drafts and validations.

The platform holds one course today (every lesson); `Course` exists so that staff are
scoped: an instructor of one course sees nothing of another. See docs/instructors.md.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

DEFAULT_COURSE_SLUG = "pytorch"


class Course(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    # The default course holds every lesson; another course holds only the lessons listed.
    is_default = models.BooleanField(default=False)
    lessons = models.ManyToManyField("courses.Lesson", blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class LatePolicy(models.TextChoices):
        ACCEPT = "accept"  # a late attempt counts in full
        PENALTY = "penalty"  # a late attempt counts times (1 - late_penalty)
        NO_CREDIT = "no_credit"  # a late attempt counts 0 (still graded and shown)

    # What a Submit after its deadline earns (dashboard/grades.py applies it, nowhere else).
    late_policy = models.CharField(
        max_length=12, choices=LatePolicy.choices, default=LatePolicy.ACCEPT
    )
    late_penalty = models.FloatField(default=0.0)  # fraction taken off, 0..1 (PENALTY)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    class Role(models.TextChoices):
        INSTRUCTOR = "instructor"
        TA = "ta"
        STUDENT = "student"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="course_memberships"
    )
    role = models.CharField(max_length=12, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "user"], name="one_role_per_course")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.course}"


class Extension(models.Model):
    """A later deadline for one student on one lesson (its exercises' own `due` included)."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="extensions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    lesson = models.ForeignKey("courses.Lesson", on_delete=models.CASCADE, related_name="+")
    due = models.DateTimeField()
    comment = models.TextField(blank=True, default="")
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["lesson__order", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "user", "lesson"], name="one_extension_per_lesson"
            )
        ]

    def __str__(self) -> str:
        return f"extension to {self.due} for {self.user} on {self.lesson}"


class Regrade(models.Model):
    """A background job: grade the stored code of past submissions against a version."""

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="regrades")
    exercise = models.ForeignKey(
        "courses.Exercise", on_delete=models.CASCADE, related_name="regrades"
    )
    version = models.ForeignKey(
        "courses.ExerciseVersion", on_delete=models.PROTECT, related_name="+"
    )
    student = models.ForeignKey(  # null: every student of the course
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Best score per student (user id as text) just before the regrade: the gradebook
    # compares it with the best score now to show what changed.
    before = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"regrade #{self.pk} of {self.exercise} ({self.done}/{self.total})"

    @property
    def finished(self) -> bool:
        return self.status == self.Status.DONE


class RegradeResult(models.Model):
    """One submission graded again. The original Submission row is never modified: the
    latest finished result of a submission is its effective grade."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    regrade = models.ForeignKey(Regrade, on_delete=models.CASCADE, related_name="results")
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="regrade_results"
    )
    version = models.ForeignKey(
        "courses.ExerciseVersion", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    outcome = models.CharField(max_length=20, blank=True, default="")
    score = models.FloatField(null=True, blank=True)
    max_score = models.FloatField(default=0)
    verdict = models.JSONField(null=True, blank=True)
    previous_outcome = models.CharField(max_length=20, blank=True, default="")
    previous_score = models.FloatField(null=True, blank=True)
    tries = models.PositiveSmallIntegerField(default=0)  # claims (submissions.jobs)
    worker = models.CharField(max_length=200, blank=True, default="")  # who holds the claim
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["submission", "status"])]

    def __str__(self) -> str:
        return f"regrade of submission {self.submission_id} ({self.status})"


class Override(models.Model):
    """A score set by hand; it wins over every graded result, regrades included."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    exercise = models.ForeignKey("courses.Exercise", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    comment = models.TextField(blank=True, default="")
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course", "user", "exercise"], name="one_override_per_cell"
            )
        ]

    def __str__(self) -> str:
        return f"override {self.score} for {self.user} on {self.exercise}"


class ExerciseDraft(models.Model):
    """An exercise being edited in the browser; students see it only once published."""

    slug = models.SlugField(unique=True)
    lesson = models.ForeignKey("courses.Lesson", on_delete=models.CASCADE, related_name="+")
    # The form's fields as typed (checks kept as the YAML text the author wrote).
    fields = models.JSONField(default=dict)
    # ExerciseSpec.to_dict() of the last save that passed the format checks, else null.
    spec = models.JSONField(null=True, blank=True)
    problems = models.JSONField(default=list)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"draft of {self.slug}"


class Validation(models.Model):
    """check_lessons for one exercise spec, run by a worker through the queue."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"

    slug = models.SlugField()
    spec = models.JSONField()  # the exact spec validated
    spec_hash = models.CharField(max_length=64)
    queue = models.CharField(max_length=8, default="cpu")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    passed = models.BooleanField(null=True)
    report = models.JSONField(default=dict)
    tries = models.PositiveSmallIntegerField(default=0)  # claims (submissions.jobs)
    worker = models.CharField(max_length=200, blank=True, default="")  # who holds the claim
    requeues = models.PositiveSmallIntegerField(default=0)  # times the sweeper re-published it
    queued_at = models.DateTimeField(null=True, blank=True)  # last (re)publication
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"validation #{self.pk} of {self.slug} ({self.status})"
