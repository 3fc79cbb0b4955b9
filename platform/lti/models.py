"""LTI 1.3 (docs/lti.md): the platforms (LMSs) this tool trusts, the tool's own key pair,
who is who on each platform, and the grades sent back (Assignment and Grade Services).

The launch itself (OIDC, JWT checks) is pylti1p3's; these rows are what it is configured
from (lti/tool.py) and what a launch leaves behind (lti/services.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Platform(models.Model):
    """One registration of this tool in an LMS: an issuer and the client id it gave us."""

    name = models.CharField(max_length=200)
    issuer = models.URLField(max_length=500)  # the `iss` of its id_tokens
    client_id = models.CharField(max_length=200)
    auth_login_url = models.URLField(max_length=500)  # its OIDC authorisation endpoint
    auth_token_url = models.URLField(max_length=500)  # its OAuth2 token endpoint (AGS)
    auth_audience = models.CharField(max_length=500, blank=True, default="")  # if not the token URL
    key_set_url = models.URLField(max_length=500)  # its public keys (JWKS)
    deployment_ids = models.JSONField(default=list)  # the deployments it may launch from
    # Where a launch from a context (an LMS course) this tool has not seen yet lands.
    course = models.ForeignKey("dashboard.Course", on_delete=models.CASCADE,
                               related_name="lti_platforms")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_one_registration")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer}, client {self.client_id})"


class ToolKey(models.Model):
    """The tool's RSA key pair: the LMS checks our token requests with the public half
    (served at the JWKS URL). The private half never leaves the database."""

    kid = models.CharField(max_length=64, unique=True)
    private_key_pem = models.TextField()
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"tool key {self.kid}"


class Context(models.Model):
    """An LMS course (the LTI context) and the course of this platform it maps to."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="contexts")
    context_id = models.CharField(max_length=255)
    title = models.CharField(max_length=255, blank=True, default="")
    course = models.ForeignKey("dashboard.Course", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "context_id"], name="lti_one_context")
        ]

    def __str__(self) -> str:
        return f"{self.platform.name}: {self.title or self.context_id} -> {self.course}"


class Identity(models.Model):
    """A platform's user (`sub`) and the account it is here."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="identities")
    sub = models.CharField(max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="lti_identities")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["platform", "sub"], name="lti_one_identity")
        ]

    def __str__(self) -> str:
        return f"{self.platform.name} {self.sub} = {self.user}"


class LineItem(models.Model):
    """A gradebook column in the LMS, fed by one lesson (or one exercise) here."""

    context = models.ForeignKey(Context, on_delete=models.CASCADE, related_name="line_items")
    resource_link_id = models.CharField(max_length=255)
    lesson = models.ForeignKey("courses.Lesson", on_delete=models.CASCADE, related_name="+")
    # Set when the link names one exercise (custom parameter `exercise`): its grade only.
    exercise = models.ForeignKey("courses.Exercise", null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=1000, blank=True, default="")  # the line item's own URL
    lineitems_url = models.URLField(max_length=1000, blank=True, default="")
    scopes = models.JSONField(default=list)  # AGS scopes the platform granted
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["context", "resource_link_id"],
                                    name="lti_one_line_item_per_link")
        ]

    def __str__(self) -> str:
        return f"{self.context}: {self.exercise or self.lesson}"


class Passback(models.Model):
    """The grade of one student in one line item: what was last sent, and how that went."""

    class Status(models.TextChoices):
        IDLE = "idle"  # launched, nothing graded yet
        PENDING = "pending"  # a task is on its way
        SENT = "sent"
        FAILED = "failed"  # out of retries: the dashboard shows it, with a Retry button

    line_item = models.ForeignKey(LineItem, on_delete=models.CASCADE, related_name="passbacks")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="+")
    sub = models.CharField(max_length=255)  # the platform's id of the student
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.IDLE)
    attempts = models.PositiveIntegerField(default=0)  # tries of the current passback
    last_error = models.TextField(blank=True, default="")
    score_given = models.FloatField(null=True, blank=True)  # last score sent (or tried)
    score_maximum = models.FloatField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["line_item", "user"], name="lti_one_passback")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.line_item}: {self.status}"
