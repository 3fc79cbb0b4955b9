"""Passwords: students change their own; reset through Django's views and e-mail; an
instructor issues a reset link for a student of their course only; EMAIL_URL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.email_url import CONSOLE, FILE, SMTP, email_settings
from dashboard.models import Membership


def test_student_changes_their_own_password(client, seeded):
    client.force_login(seeded.alice)
    page = client.get(reverse("password_change"))
    assert page.status_code == 200 and "id_old_password" in page.content.decode()
    response = client.post(reverse("password_change"), {
        "old_password": "alice-pass-123", "new_password1": "new-secret-4471",
        "new_password2": "new-secret-4471"})
    assert response["Location"] == reverse("password_change_done")
    seeded.alice.refresh_from_db()
    assert seeded.alice.check_password("new-secret-4471")
    wrong = client.post(reverse("password_change"), {
        "old_password": "nope", "new_password1": "x-secret-4471", "new_password2": "x-secret-4471"})
    assert wrong.status_code == 200
    seeded.alice.refresh_from_db()
    assert seeded.alice.check_password("new-secret-4471")


def _link(body: str) -> str:
    return re.search(r"https?://\S+/accounts/reset/\S+/", body).group(0)


def test_password_reset_by_email(client, seeded):
    seeded.alice.email = "alice@example.org"
    seeded.alice.save()
    response = client.post(reverse("password_reset"), {"email": "ALICE@example.org"})
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.org"]
    assert "alice" in mail.outbox[0].body
    link = _link(mail.outbox[0].body)
    form = client.get(link, follow=True)
    assert "id_new_password1" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "reset-pass-5512",
                                                    "new_password2": "reset-pass-5512"})
    assert done["Location"] == reverse("password_reset_complete")
    seeded.alice.refresh_from_db()
    assert seeded.alice.check_password("reset-pass-5512")
    # Used once: the same link no longer works.
    again = client.get(link, follow=True)
    assert "does not work" in again.content.decode()


def test_reset_reaches_accounts_without_a_password(client, seeded):
    user = User.objects.create_user("imported", email="imp@example.org")
    user.set_unusable_password()
    user.save()
    client.post(reverse("password_reset"), {"email": "imp@example.org"})
    assert len(mail.outbox) == 1


def test_unknown_address_sends_nothing_and_says_the_same(client, seeded):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_reset_email_is_in_the_users_language(client, seeded):
    seeded.alice.email = "alice@example.org"
    seeded.alice.save()
    client.post(reverse("password_reset"), {"email": "alice@example.org"},
                HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "新密码" in mail.outbox[0].subject and "打开此链接" in mail.outbox[0].body


def test_reset_requests_are_rate_limited(client, seeded, settings):
    settings.PASSWORD_RESET_RATE_LIMIT_IP = "2/3600"
    for _ in range(2):
        client.post(reverse("password_reset"), {"email": "x@example.org"})
    response = client.post(reverse("password_reset"), {"email": "x@example.org"})
    assert response.status_code == 429 and "Retry-After" in response


def test_instructor_issues_a_reset_link_for_their_student(client, seeded):
    client.force_login(seeded.teacher)
    response = client.post(reverse("dashboard:people-reset-link", args=["pytorch", "alice"]))
    assert response.status_code == 200
    url = re.search(r'value="(http://testserver/accounts/reset/[^"]+)"',
                    response.content.decode()).group(1)
    assert "no-store" in response["Cache-Control"]
    client.logout()
    form = client.get(url, follow=True)
    client.post(form.redirect_chain[-1][0], {"new_password1": "given-pass-7781",
                                             "new_password2": "given-pass-7781"})
    seeded.alice.refresh_from_db()
    assert seeded.alice.check_password("given-pass-7781")


def test_reset_links_only_for_students_of_that_course(client, seeded):
    from tests.accounts.conftest import make_user

    from accounts.models import STUDENTS

    dave = make_user("dave", STUDENTS)
    Membership.objects.create(course=seeded.other, user=dave, role="student")
    client.force_login(seeded.outsider)  # instructor of "other"
    theirs = client.post(reverse("dashboard:people-reset-link", args=["other", "dave"]))
    assert theirs.status_code == 200
    # alice is not a student of "other": no link, and the other course's URL is closed.
    not_theirs = client.post(reverse("dashboard:people-reset-link", args=["other", "alice"]))
    assert not_theirs.status_code == 302 and "/accounts/reset/" not in str(not_theirs.content)
    assert client.post(reverse("dashboard:people-reset-link", args=["pytorch", "alice"])
                       ).status_code == 403
    # A TA of the course may not either.
    client.force_login(seeded.ta)
    assert client.post(reverse("dashboard:people-reset-link", args=["pytorch", "alice"])
                       ).status_code == 403


def test_no_reset_link_for_a_student_with_powers_elsewhere(seeded):
    # alice, a student here, becomes an instructor of another course: a link would hand
    # that course to this course's instructor.
    Membership.objects.create(course=seeded.other, user=seeded.alice, role="instructor")
    Membership.objects.create(course=seeded.course, user=seeded.alice, role="student")
    with pytest.raises(services.AccountError, match="staff role"):
        services.student_reset_url(seeded.course, "alice", "http://x")
    seeded.bob.is_superuser = True
    seeded.bob.save()
    assert not services.may_get_reset_link(seeded.bob)


@pytest.mark.parametrize(("url", "expected"), [
    ("", {"EMAIL_BACKEND": FILE, "EMAIL_FILE_PATH": "/var/x/mail"}),
    ("console:", {"EMAIL_BACKEND": CONSOLE}),
    ("file:///srv/mail", {"EMAIL_BACKEND": FILE, "EMAIL_FILE_PATH": "/srv/mail"}),
    ("smtp://u%40x:p%3Aw@mail.example.org", {
        "EMAIL_BACKEND": SMTP, "EMAIL_HOST": "mail.example.org", "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "u@x", "EMAIL_HOST_PASSWORD": "p:w", "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False}),
    ("smtps://mail.example.org", {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True,
                                  "EMAIL_USE_TLS": False}),
    ("smtp+plain://localhost:2525", {"EMAIL_PORT": 2525, "EMAIL_USE_SSL": False,
                                     "EMAIL_USE_TLS": False, "EMAIL_HOST_USER": ""}),
])
def test_email_url(url, expected):
    got = email_settings(url, Path("/var/x/mail"))
    assert {k: got.get(k) for k in expected} == expected


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://", "smtp://h:notaport"])
def test_bad_email_url_says_why(url):
    with pytest.raises(ValueError, match="EMAIL_URL"):
        email_settings(url, Path("/tmp"))
