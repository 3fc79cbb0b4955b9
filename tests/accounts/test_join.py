"""Join links: sign-up through the link lands on the first lesson as a student of that
course; logged-in users just join; rotated codes die; sign-up can be closed; rate limit."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from accounts import services
from accounts.models import JoinLink
from dashboard.access import role_of
from dashboard.models import Membership

SIGNUP = {"username": "newbie", "password1": "a-long-pass-8812", "password2": "a-long-pass-8812"}


def test_codes_are_unguessable_and_distinct(seeded):
    a = services.join_link(seeded.course)
    b = services.join_link(seeded.other)
    assert a.code != b.code and len(a.code) >= 22  # 16 random bytes, URL-safe
    assert re.fullmatch(r"[A-Za-z0-9_-]+", a.code)
    assert services.join_link(seeded.course).code == a.code  # stable until rotated


def test_visitor_sees_the_standard_signup_form(client, seeded):
    link = services.join_link(seeded.other)
    response = client.get(reverse("join", args=[link.code]))
    html = response.content.decode()
    assert response.status_code == 200
    for label in ('for="id_username">Username<', 'for="id_password1">Password<',
                  'for="id_password2">Password confirmation<'):
        assert label in html
    assert "Another course" in html


def test_signup_lands_on_the_first_lesson_as_a_student(client, seeded):
    link = services.join_link(seeded.other)
    seeded.other.lessons.add(seeded.broadcast.lesson)
    response = client.post(reverse("join", args=[link.code]), SIGNUP)
    assert response.status_code == 302
    assert response["Location"] == reverse("courses:lesson", args=["tensors"])
    user = User.objects.get(username="newbie")
    assert role_of(user, seeded.other) == "student"
    assert role_of(user, seeded.course) is None  # only the course whose link it was
    # Logged in: the lesson opens.
    assert client.get(response["Location"]).status_code == 200


def test_bad_signup_shows_errors_and_creates_nothing(client, seeded):
    link = services.join_link(seeded.course)
    response = client.post(reverse("join", args=[link.code]),
                           {**SIGNUP, "password2": "something-else-1"})
    assert response.status_code == 200
    assert not User.objects.filter(username="newbie").exists()
    assert "password fields didn" in response.content.decode()
    taken = client.post(reverse("join", args=[link.code]), {**SIGNUP, "username": "ALICE"})
    assert taken.status_code == 200 and User.objects.filter(username__iexact="alice").count() == 1


def test_logged_in_user_just_joins(client, seeded):
    link = services.join_link(seeded.other)
    client.force_login(seeded.alice)
    assert role_of(seeded.alice, seeded.other) is None
    response = client.get(reverse("join", args=[link.code]))
    assert response.status_code == 302
    assert role_of(seeded.alice, seeded.other) == "student"
    client.get(reverse("join", args=[link.code]))  # twice: still one membership
    assert Membership.objects.filter(user=seeded.alice, course=seeded.other).count() == 1


def test_staff_opening_their_own_link_keep_their_role(client, seeded):
    client.force_login(seeded.outsider)  # instructor of "other"
    client.get(reverse("join", args=[services.join_link(seeded.other).code]))
    assert role_of(seeded.outsider, seeded.other) == "instructor"
    client.force_login(seeded.teacher)  # instructor of pytorch through the group
    client.get(reverse("join", args=[services.join_link(seeded.course).code]))
    assert role_of(seeded.teacher, seeded.course) == "instructor"
    assert not Membership.objects.filter(user=seeded.teacher).exists()


def test_rotated_code_stops_working(client, seeded):
    old = services.join_link(seeded.course).code
    new = services.rotate_join_code(seeded.course).code
    assert new != old
    response = client.get(reverse("join", args=[old]))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert client.post(reverse("join", args=[old]), SIGNUP).status_code == 404
    assert not User.objects.filter(username="newbie").exists()
    assert client.get(reverse("join", args=[new])).status_code == 200


def test_unknown_code_is_404(client, seeded):
    assert client.get("/join/not-a-real-code-at-all").status_code == 404


def test_signup_can_be_closed(client, seeded):
    link = services.set_signup_open(seeded.course, False)
    response = client.get(reverse("join", args=[link.code]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "id_password1" not in html and "Sign-up is closed" in html
    assert f"/accounts/login/?next=%2Fjoin%2F{link.code}" in html
    client.post(reverse("join", args=[link.code]), SIGNUP)
    assert not User.objects.filter(username="newbie").exists()
    # Existing accounts still join.
    client.force_login(seeded.alice)
    client.get(reverse("join", args=[link.code]))
    assert Membership.objects.filter(user=seeded.alice, course=seeded.course,
                                     role="student").exists()


def test_login_then_join(client, seeded):
    link = services.join_link(seeded.other)
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-pass-123",
                                              "next": f"/join/{link.code}"})
    assert response["Location"] == f"/join/{link.code}"
    client.get(response["Location"])
    assert role_of(seeded.alice, seeded.other) == "student"


def test_signups_are_rate_limited_per_address(client, seeded, settings):
    settings.SIGNUP_RATE_LIMIT_IP = "2/600"
    link = services.join_link(seeded.course)
    url = reverse("join", args=[link.code])
    for i in range(2):
        client.post(url, {**SIGNUP, "username": f"bot{i}"}, REMOTE_ADDR="10.0.0.9")
        client.logout()
    response = client.post(url, {**SIGNUP, "username": "bot2"}, REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert not User.objects.filter(username="bot2").exists()
    # Another address is not affected.
    response = client.post(url, {**SIGNUP, "username": "human"}, REMOTE_ADDR="10.0.0.10")
    assert response.status_code == 302


def test_signup_page_takes_a_pasted_link(client, seeded):
    link = services.join_link(seeded.course)
    response = client.post(reverse("signup"), {"link": f"http://x.example/join/{link.code}"})
    assert response["Location"] == reverse("join", args=[link.code])
    response = client.post(reverse("signup"), {"link": "http://x.example/join/nope"})
    assert response.status_code == 200 and "not valid" in response.content.decode()


def test_joinlink_command(seeded, capsys):
    call_command("joinlink", "other", "--base-url", "http://10.1.2.3:8000")
    url = capsys.readouterr().out.strip()
    code = JoinLink.objects.get(course=seeded.other).code
    assert url == f"http://10.1.2.3:8000/join/{code}"
    call_command("joinlink", "other", "--rotate", "--signup", "off", "--base-url", "http://h")
    link = JoinLink.objects.get(course=seeded.other)
    assert link.code != code and not link.signup_open
    assert capsys.readouterr().out.strip() == f"http://h/join/{link.code}"


def test_joinlink_command_unknown_course(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no course"):
        call_command("joinlink", "nope")


def test_signup_page_in_chinese(client, seeded):
    link = services.join_link(seeded.course)
    response = client.get(reverse("join", args=[link.code]), HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    assert "用户名" in html and "密码确认" in html
    assert "加入" in html and "Sign up and join" not in html
