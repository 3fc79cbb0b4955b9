"""Registering an LMS: `manage.py lti_platform` and the dashboard's LMS page; the URLs an
LMS administrator is given; the refusal page in Chinese."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from dashboard.access import default_course
from dashboard.models import Course, Membership
from lti.models import Platform, ToolKey

ADD = ["add", "--course", "pytorch", "--name", "Moodle", "--issuer", "https://moodle.example.edu",
       "--client-id", "abc", "--login-url", "https://moodle.example.edu/mod/lti/auth.php",
       "--token-url", "https://moodle.example.edu/mod/lti/token.php",
       "--jwks-url", "https://moodle.example.edu/mod/lti/certs.php", "--deployment-id", "3",
       "--base-url", "https://learn.example.edu"]


def test_the_command_registers_a_platform_and_prints_the_tool_urls(db):
    default_course()
    out = StringIO()
    call_command("lti_platform", *ADD, stdout=out)
    p = Platform.objects.get()
    assert (p.issuer, p.client_id, p.deployment_ids, p.course.slug) == (
        "https://moodle.example.edu", "abc", ["3"], "pytorch")
    text = out.getvalue()
    assert "login:\thttps://learn.example.edu/lti/login/" in text
    assert "launch:\thttps://learn.example.edu/lti/launch/" in text
    assert "jwks:\thttps://learn.example.edu/lti/jwks/" in text
    listed = StringIO()
    call_command("lti_platform", "list", stdout=listed)
    assert "Moodle" in listed.getvalue() and "-> pytorch" in listed.getvalue()
    with pytest.raises(CommandError, match="already exists"):  # same issuer and client id
        call_command("lti_platform", *ADD, stdout=StringIO())
    with pytest.raises(CommandError, match="no course"):
        call_command("lti_platform", *[("nope" if a == "pytorch" else a) for a in ADD])
    bad = [("not a url" if a.endswith("certs.php") else a) for a in ADD]
    with pytest.raises(CommandError, match="key_set_url"):
        call_command("lti_platform", *bad, "--client-id", "other")


def test_the_dashboard_page_shows_the_urls_and_registers_for_its_course(client, teacher):
    course = default_course()
    client.force_login(teacher)
    page = client.get("/dashboard/pytorch/lti/").content.decode()
    for path in ("/lti/login/", "/lti/launch/", "/lti/jwks/"):
        assert f"http://testserver{path}</code>" in page
    assert "BEGIN" not in page and "PRIVATE" not in page  # the key never shows
    response = client.post("/dashboard/pytorch/lti/", {
        "name": "Canvas", "issuer": "https://canvas.instructure.com", "client_id": "100000001",
        "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
        "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
        "key_set_url": "https://sso.canvaslms.com/api/lti/security/jwks",
        "deployment_ids_text": "12:abc, 13:def", "auth_audience": "",
    })
    assert response.status_code == 302
    p = Platform.objects.get()
    assert p.course == course and p.deployment_ids == ["12:abc", "13:def"]
    assert "Canvas" in client.get("/dashboard/pytorch/lti/").content.decode()
    # An incomplete form says what is missing.
    response = client.post("/dashboard/pytorch/lti/", {"name": "x"})
    assert response.status_code == 400 and Platform.objects.count() == 1


def test_another_courses_instructor_neither_sees_nor_registers_here(client, db):
    from django.contrib.auth.models import User

    course = default_course()
    Platform.objects.create(name="Moodle", issuer="https://m.example", client_id="a",
                            auth_login_url="https://m.example/a", auth_token_url="https://m.example/t",
                            key_set_url="https://m.example/k", deployment_ids=["1"], course=course)
    other = Course.objects.create(slug="other", title="Other")
    olga = User.objects.create_user("olga")
    Membership.objects.create(course=other, user=olga, role="instructor")
    client.force_login(olga)
    assert client.get("/dashboard/pytorch/lti/").status_code == 403
    assert "https://m.example" not in client.get("/dashboard/other/lti/").content.decode()


def test_the_tool_key_is_made_once(db, client):
    client.get("/lti/jwks/")
    client.get("/lti/jwks/")
    assert ToolKey.objects.count() == 1


def test_a_refusal_is_in_chinese(client, db):
    response = client.get("/lti/login/", {"iss": "https://nowhere.example", "login_hint": "x"},
                          HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert "LMS 的登录请求被拒绝。" in response.content.decode()


def test_the_command_speaks_english_whatever_language_is_active(db):
    """A test (or a caller) that left zh-hans active must not change the command's messages."""
    from django.utils import translation

    default_course()
    call_command("lti_platform", *ADD, stdout=StringIO())
    with translation.override("zh-hans"), pytest.raises(CommandError, match="already exists"):
        call_command("lti_platform", *ADD, stdout=StringIO())
