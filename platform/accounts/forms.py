"""Forms: Django's own sign-up and password-reset forms, each with one small change."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.utils.translation import gettext_lazy as _


class SignupForm(UserCreationForm):
    """Django's UserCreationForm ("Username", "Password", "Password confirmation") plus an
    optional e-mail address, which is what makes "Forgot your password?" work later."""

    email = forms.EmailField(
        label=_("E-mail address (optional)"), required=False,
        help_text=_("Only used to send you a link if you forget your password."),
    )

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]  # stubs lack Meta
        fields = ("username", "email")


class ResetForm(PasswordResetForm):
    """Django's form, which also reaches accounts that never had a password: students
    imported without one claim their account this way if their set-password link is lost."""

    def get_users(self, email: str) -> Iterator[Any]:
        field = get_user_model().get_email_field_name()
        users = get_user_model()._default_manager.filter(
            **{f"{field}__iexact": email, "is_active": True}
        )
        # As Django does: the database's case-insensitive match may be looser than Unicode's.
        return (u for u in users if _same(email, getattr(u, field)))


def _same(a: str, b: str) -> bool:
    return unicodedata.normalize("NFKC", a).casefold() == unicodedata.normalize(
        "NFKC", b).casefold()


class JoinCodeForm(forms.Form):
    link = forms.CharField(label=_("Join link or code"), max_length=300)

    def code(self) -> str:
        """The code from a pasted link (…/join/<code>/) or the bare code."""
        text = self.cleaned_data["link"].strip().rstrip("/")
        return text.rsplit("/join/", 1)[-1].rsplit("/", 1)[-1]
