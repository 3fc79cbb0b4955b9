"""The login limiter: keyed on the username as Django looks it up, counted before the
password is checked, the same for /admin/login/, and not a lock-out for a class behind NAT."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from accounts import ratelimit

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"
ADMIN = "/admin/login/"


@pytest.fixture(autouse=True)
def clean_limits(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    def clear() -> None:
        client = ratelimit._client()
        client.delete(*(client.keys("pdl:rl:login-*") or ["-"]))

    clear()
    yield
    clear()


@pytest.fixture
def student(db) -> User:
    return User.objects.create_user("student", password="student-pass-123")


def attempt(client: Client, username: str, password: str = "wrong", url: str = LOGIN):
    return client.post(url, {"username": username, "password": password})


def user_counter(username: str) -> int:
    rate = ratelimit.Rate.parse(settings.LOGIN_RATE_LIMIT_USER)
    key = ratelimit._key("login-user", ratelimit.normalize_username(username), rate)
    return int(ratelimit._client().get(key) or 0)


SPELLINGS = ["ｓtudent", "𝐬tudent", "STUDENT", "Student ", "ＳＴＵＤＥＮＴ"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_spellings_share_the_counter_of_the_name_they_log_in_as(client, student, spelling):
    assert ratelimit.normalize_username(spelling) == "student"
    # The premise: Django's form NFKC-normalises, so this spelling is a way in.
    if spelling in ("ｓtudent", "𝐬tudent"):
        assert attempt(client, spelling, "student-pass-123").status_code == 302
        client.logout()
    for _ in range(5):
        assert attempt(Client(), spelling).status_code == 200
    # Spent: no spelling gets a fresh allowance, and the right password waits too.
    for other in ["student", "ｓtudent", "𝐬tudent"]:
        assert attempt(Client(), other, "student-pass-123").status_code == 429


def test_the_attempt_is_counted_before_the_password_is_checked(client, student):
    seen: list[int] = []

    def spy(request=None, **credentials):
        seen.append(user_counter(credentials.get("username", "")))
        return None

    with mock.patch("django.contrib.auth.forms.authenticate", spy):
        attempt(client, "student")
        attempt(client, "ｓtudent")
    assert seen == [1, 2]  # already counted when the password was looked at


def test_a_parallel_burst_gets_no_more_than_the_allowance(student):
    """20 guesses at once: at most 5 reach the password check, the rest are 429."""
    checked: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def slow_check(request=None, **credentials):
        with lock:
            checked.append(credentials.get("password", ""))
        threading.Event().wait(0.2)  # a slow hash: the window a burst would use
        return None

    def guess(i: int) -> None:
        barrier.wait()
        response = attempt(Client(), "student", f"guess-{i}")
        with lock:
            statuses.append(response.status_code)

    with mock.patch("django.contrib.auth.forms.authenticate", slow_check):
        threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(checked) == 5
    assert sorted(statuses) == [200] * 5 + [429] * 15


def test_admin_login_is_limited_with_the_same_counters(client, student):
    admin = User.objects.create_superuser("boss", password="boss-pass-123")
    assert client.get(ADMIN).status_code == 200
    for _ in range(3):
        assert attempt(client, "boss", url=LOGIN).status_code == 200
    for _ in range(2):
        assert attempt(client, "boss", url=ADMIN).status_code == 200
    blocked = attempt(client, "boss", "boss-pass-123", url=ADMIN)
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    assert attempt(client, "ＢＯＳＳ", "boss-pass-123", url=ADMIN).status_code == 429
    assert attempt(client, "boss", "boss-pass-123", url=LOGIN).status_code == 429
    # Another account still logs in to the admin, and its success clears its count.
    ratelimit.reset("login-user", "boss", ratelimit.Rate.parse(settings.LOGIN_RATE_LIMIT_USER))
    ok = attempt(Client(), "boss", "boss-pass-123", url=ADMIN)
    assert ok.status_code == 302 and user_counter("boss") == 0
    assert admin.pk


def test_admin_login_refuses_a_non_staff_user_and_counts_it(client, student):
    for _ in range(5):
        response = attempt(client, "student", "student-pass-123", url=ADMIN)
        assert response.status_code == 200  # the admin wants a staff account
    assert attempt(client, "student", "student-pass-123", url=ADMIN).status_code == 429


def test_a_class_behind_one_address_is_not_locked_out(db):
    """40 students on one NAT address, each mistyping twice on day one, all get in."""
    assert ratelimit.Rate.parse(settings.LOGIN_RATE_LIMIT_IP).count >= 300
    users = [User(username=f"s{i:02d}") for i in range(40)]
    for u in users:
        u.set_password(f"{u.username}-pass-123")
    User.objects.bulk_create(users)
    for u in users:
        client = Client(REMOTE_ADDR="203.0.113.7")
        assert attempt(client, u.username).status_code == 200
        assert attempt(client, u.username, "typo").status_code == 200
        assert attempt(client, u.username, f"{u.username}-pass-123").status_code == 302


def test_successful_logins_do_not_use_up_the_address_allowance(db, settings):
    settings.LOGIN_RATE_LIMIT_IP = "3/300"
    for i in range(6):
        User.objects.create_user(f"u{i}", password=f"u{i}-pass-123")
        assert attempt(Client(), f"u{i}", f"u{i}-pass-123").status_code == 302
    for i in range(3):
        assert attempt(Client(), f"u{i}").status_code == 200
    assert attempt(Client(), "u5").status_code == 429  # failures still count per address


def test_a_logged_in_visitor_cannot_reset_another_users_counter(client, student):
    mallory = User.objects.create_user("mallory", password="mallory-pass-123")
    client.force_login(mallory)
    for _ in range(5):
        assert attempt(client, "student").status_code == 200
    assert attempt(client, "student").status_code == 429
    assert user_counter("student") >= 5
