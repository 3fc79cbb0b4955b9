"""Registering an LMS (a `Platform`): one form for the dashboard and `manage.py lti_platform`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from lti.models import Platform


def _field(field: Any, **kwargs: Any) -> Any:
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"  # an LMS address typed without its scheme
    return field.formfield(**kwargs)


class PlatformForm(forms.ModelForm):
    deployment_ids_text = forms.CharField(
        label=_("Deployment ids"), required=True,
        help_text=_("The deployment id(s) the LMS shows for this tool, separated by commas."),
    )

    class Meta:
        model = Platform
        formfield_callback = _field
        fields = ["name", "issuer", "client_id", "auth_login_url", "auth_token_url",
                  "key_set_url", "auth_audience"]
        labels = {
            "name": _("LMS name"),
            "issuer": _("Issuer (platform id)"),
            "client_id": _("Client id"),
            "auth_login_url": _("Authentication request URL (OIDC)"),
            "auth_token_url": _("Access token URL"),
            "key_set_url": _("Public keyset URL (JWKS)"),
            "auth_audience": _("Token audience (if not the access token URL)"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["deployment_ids_text"].initial = ", ".join(self.instance.deployment_ids)

    def clean_deployment_ids_text(self) -> list[str]:
        ids = [d.strip() for d in self.cleaned_data["deployment_ids_text"].split(",")]
        ids = [d for d in ids if d]
        if not ids:
            raise forms.ValidationError(_("Give at least one deployment id."))
        return ids

    def save(self, commit: bool = True) -> Platform:
        platform = super().save(commit=False)
        platform.deployment_ids = self.cleaned_data["deployment_ids_text"]
        if commit:
            platform.save()
        return platform


def register(data: dict[str, Any], course: Any) -> Platform:
    """Validate and save a registration for `course`; ValueError lists what is wrong."""
    instance = Platform(course=course)
    form = PlatformForm(data, instance=instance)
    if not form.is_valid():
        problems = [f"{name}: {' '.join(str(e) for e in errors)}"
                    for name, errors in form.errors.items()]
        raise ValueError("; ".join(problems))
    return form.save()
