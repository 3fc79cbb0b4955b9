"""Access control for every dashboard URL: anonymous → login (pages) or 401 (API),
student → 403, instructor of another course → 403, this course's staff → allowed.

URLS lists every name in dashboard/urls.py; `test_every_url_is_listed` fails when a URL is
added without an entry here."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.urls import reverse

from dashboard.models import Regrade, Validation
from dashboard.urls import urlpatterns


@dataclass(frozen=True)
class U:
    name: str
    method: str = "get"
    api: bool = False
    instructor_only: bool = False
    student_ok: bool = False  # students of the course may open it (their own grades)


URLS = [
    U("index"),  # not course-scoped: see test_index_sends_staff_to_their_course
    U("home"),
    U("gradebook"),
    U("gradebook-csv"),
    U("exercise"),
    U("regrade-start", "post", instructor_only=True),
    U("override"),
    U("submissions"),
    U("submission"),
    U("regrade"),
    U("queues"),
    U("lesson-new", instructor_only=True),
    U("lesson-edit", instructor_only=True),
    U("lesson-export", instructor_only=True),
    U("exercise-new", instructor_only=True),
    U("exercise-edit", instructor_only=True),
    U("exercise-validate", "post", instructor_only=True),
    U("exercise-publish", "post", instructor_only=True),
    U("exercise-preview", "post", api=True, instructor_only=True),
    U("my-grades", student_ok=True),
    U("deadlines", instructor_only=True),  # late policy and extensions
    U("api-gradebook", api=True),
    U("api-exercise", api=True),
    U("api-regrade", api=True),
    U("api-queues", api=True),
    U("api-validation", api=True, instructor_only=True),
    # People (accounts): join link, staff roles, set-password links, bulk import.
    U("people", instructor_only=True),
    U("people-join-rotate", "post", instructor_only=True),
    U("people-join-signup", "post", instructor_only=True),
    U("people-staff", "post", instructor_only=True),
    U("people-import", instructor_only=True),
    U("people-links-csv", "post", instructor_only=True),
    U("people-reset-link", "post", instructor_only=True),
    # LMS (LTI 1.3): registrations and grade passbacks.
    U("lti", instructor_only=True),
    U("lti-retry", "post", instructor_only=True),
]


def test_every_url_is_listed():
    assert sorted(p.name for p in urlpatterns) == sorted(u.name for u in URLS)


def _kwargs(name: str, s, course: str) -> dict:
    regrade = Regrade.objects.create(course=s.course, exercise=s.broadcast,
                                     version=s.broadcast.current_version, total=0,
                                     status=Regrade.Status.DONE)
    validation = Validation.objects.create(slug="tensor-broadcast", spec={}, spec_hash="x")
    pattern = next(p for p in urlpatterns if p.name == name)
    values = {"course": course, "slug": "tensor-broadcast", "pk": 0, "username": "alice",
              "lesson": "tensors"}
    if name in ("submission",):
        values["pk"] = s.subs["a1"].pk
    elif name in ("regrade", "api-regrade"):
        values["pk"] = regrade.pk
    elif name == "api-validation":
        values["pk"] = validation.pk
    if name.startswith("lesson-"):
        values["slug"] = "tensors"
    return {k: v for k, v in values.items() if k in pattern.pattern.converters}


def _request(client, u: U, s, course: str = "pytorch"):
    url = reverse(f"dashboard:{u.name}", kwargs=_kwargs(u.name, s, course))
    if u.method == "post":
        return client.post(url, {"student": ""}), url
    return client.get(url), url


@pytest.mark.parametrize("u", URLS, ids=lambda u: u.name)
def test_access(client, seeded, u):
    from accounts.models import ApiToken

    # Anonymous: the login page for pages, JSON 401 for the API.
    response, _ = _request(client, u, seeded)
    if u.api:
        assert response.status_code == 401
        assert "error" in response.json()
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    # A student of the course: 403 (except their own grades page).
    client.force_login(seeded.alice)
    response, _ = _request(client, u, seeded)
    assert response.status_code == (200 if u.student_ok else 403)

    # The same student through an API token: same answer.
    client.logout()
    token = ApiToken.objects.issue(seeded.alice)
    url = reverse(f"dashboard:{u.name}", kwargs=_kwargs(u.name, seeded, "pytorch"))
    call = client.post if u.method == "post" else client.get
    response = call(url, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == (200 if u.student_ok else 403)

    if u.name == "index":
        return  # not course-scoped: test_index_sends_staff_to_their_course

    # An instructor of another course: 403 here...
    client.force_login(seeded.outsider)
    response, _ = _request(client, u, seeded)
    assert response.status_code == 403
    # ...while their own course's dashboard opens.
    if u.name in ("home", "gradebook", "api-queues"):
        own, _ = _request(client, u, seeded, course="other")
        assert own.status_code == 200

    # This course's instructor gets in; its TA too, except for instructor-only URLs.
    for user, allowed in ((seeded.teacher, True), (seeded.ta, not u.instructor_only)):
        client.force_login(user)
        response, _ = _request(client, u, seeded)
        if allowed:
            assert response.status_code in (200, 202, 302), (user, response.status_code)
            if response.status_code == 302:
                assert not response["Location"].startswith(reverse("login"))
        else:
            assert response.status_code == 403, user


def test_unknown_course_is_404(client, seeded):
    client.force_login(seeded.teacher)
    assert client.get(reverse("dashboard:home", args=["nope"])).status_code == 404


def test_other_course_does_not_show_this_course_exercises(client, seeded):
    client.force_login(seeded.outsider)
    url = reverse("dashboard:exercise", args=["other", "tensor-broadcast"])
    assert client.get(url).status_code == 404
    url = reverse("dashboard:submission", args=["other", seeded.subs["a1"].pk])
    assert client.get(url).status_code == 404


def test_index_sends_staff_to_their_course(client, seeded):
    url = reverse("dashboard:index")
    client.force_login(seeded.outsider)
    assert client.get(url)["Location"] == reverse("dashboard:home", args=["other"])
    client.force_login(seeded.teacher)
    assert client.get(url)["Location"] == reverse("dashboard:home", args=["pytorch"])
    from dashboard.models import Membership

    # Staffing a second course takes explicit roles in both (see role_of).
    Membership.objects.create(course=seeded.other, user=seeded.teacher, role="ta")
    Membership.objects.create(course=seeded.course, user=seeded.teacher, role="instructor")
    response = client.get(url)  # staff of two courses: a list
    assert response.status_code == 200
    assert b"/dashboard/other/" in response.content and b"/dashboard/pytorch/" in response.content


# --- The submissions API follows the same course-scoped rule --------------------------------

API_URLS = ["/api/submissions/{pk}", "/api/submissions/{pk}?wait=0.1"]


@pytest.mark.parametrize("template", API_URLS)
def test_submission_api_access(client, seeded, template):
    """Owner and this course's staff read a submission; everyone else gets the same 404 as
    for an id that does not exist."""
    from accounts.models import ApiToken

    sub = seeded.subs["a1"]
    url = template.format(pk=sub.pk)
    missing = template.format(pk=999_999)
    response = client.get(url)
    assert response.status_code == 401 and "error" in response.json()
    for user, allowed in ((seeded.alice, True), (seeded.teacher, True), (seeded.ta, True),
                          (seeded.bob, False), (seeded.outsider, False)):
        client.force_login(user)
        response = client.get(url)
        if allowed:
            assert response.status_code == 200, user
            assert response.json()["id"] == sub.pk
        else:
            assert response.status_code == 404, user
            # ids reveal nothing: the answer for an id that does not exist.
            assert (response.json()["error"].replace(str(sub.pk), "N")
                    == client.get(missing).json()["error"].replace("999999", "N"))
            assert "c = a * 2" not in response.content.decode()
    # The same through a token.
    client.logout()
    token = ApiToken.objects.issue(seeded.outsider)
    assert client.get(url, HTTP_AUTHORIZATION=f"Token {token}").status_code == 404


def test_submission_list_api_shows_only_the_callers_own(client, seeded):
    for user in (seeded.teacher, seeded.outsider, seeded.bob):
        client.force_login(user)
        listed = client.get("/api/exercises/tensor-broadcast/submissions").json()["submissions"]
        assert all(s["id"] not in {seeded.subs[k].pk for k in ("a1", "a2", "a3")}
                   for s in listed), user


@pytest.fixture
def shared(seeded):
    """The tensors lesson shared with course "other", which has its own student dave."""
    from tests.dashboard.conftest import make_sub, make_user

    from accounts.models import STUDENTS
    from dashboard.models import Membership

    seeded.other.lessons.add(seeded.broadcast.lesson)
    dave = make_user("dave", STUDENTS)
    Membership.objects.create(course=seeded.other, user=dave, role=Membership.Role.STUDENT)
    d1 = make_sub(dave, seeded.broadcast, "c = DAVE_CODE", "failed", 0, 30, ["dave-only"])
    return seeded, dave, d1


def test_cross_course_api_read_is_404(client, shared):
    s, _dave, d1 = shared
    alice_sub = s.subs["a1"]
    client.force_login(s.outsider)  # instructor of "other", where the lesson is shared
    missing = client.get("/api/submissions/999999")
    denied = client.get(f"/api/submissions/{alice_sub.pk}")
    assert denied.status_code == 404
    assert (denied.json()["error"].replace(str(alice_sub.pk), "N")
            == missing.json()["error"].replace("999999", "N"))
    assert "c = a * 2" not in denied.content.decode()
    assert client.get(f"/api/submissions/{d1.pk}").status_code == 200  # their own student
    # And the other way round: the first course's instructor does not see dave's work.
    client.force_login(s.teacher)
    assert client.get(f"/api/submissions/{d1.pk}").status_code == 404
    assert client.get(f"/api/submissions/{alice_sub.pk}").status_code == 200


def test_cross_course_dashboard_shows_only_the_courses_students(client, shared):
    s, _dave, d1 = shared
    client.force_login(s.outsider)
    listing = client.get(reverse("dashboard:submissions", args=["other"]))
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "DAVE_CODE" not in html  # lists show no code at all
    assert reverse("dashboard:submission", args=["other", d1.pk]) in html
    for sub in s.subs.values():
        assert reverse("dashboard:submission", args=["other", sub.pk]) not in html
        detail = client.get(reverse("dashboard:submission", args=["other", sub.pk]))
        assert detail.status_code == 404
    detail = client.get(reverse("dashboard:submission", args=["other", d1.pk]))
    assert detail.status_code == 200 and "c = DAVE_CODE" in detail.content.decode()
    # Statistics and the gradebook of "other" count dave alone.
    stats = client.get(reverse("dashboard:api-exercise", args=["other", "tensor-broadcast"]))
    assert stats.json()["students"] == 1 and stats.json()["submissions"] == 1
    book = client.get(reverse("dashboard:api-gradebook", args=["other"])).json()
    assert [r["username"] for r in book["students"]] == ["dave"]

    client.force_login(s.teacher)  # the first course: dave is not theirs
    html = client.get(reverse("dashboard:submissions", args=["pytorch"])).content.decode()
    assert reverse("dashboard:submission", args=["pytorch", d1.pk]) not in html
    assert reverse("dashboard:submission", args=["pytorch", s.subs["a1"].pk]) in html
    assert client.get(reverse("dashboard:submission", args=["pytorch", d1.pk])
                      ).status_code == 404
    stats = client.get(reverse("dashboard:api-exercise", args=["pytorch", "tensor-broadcast"]))
    assert "dave-only" not in {d["label"] for d in stats.json()["diagnostics"]}


# --- /accounts/ and /join/: who may open each (ACCOUNT_URLS lists every name) -----------------

# name -> (kwargs, rule): "public" pages answer anyone; "login" pages send a visitor to log in.
ACCOUNT_URLS = {
    "account": ({}, "login"),
    "login": ({}, "public"),
    "logout": ({}, "post"),
    "signup": ({}, "public"),
    "password_change": ({}, "login"),
    "password_change_done": ({}, "login"),
    "password_reset": ({}, "public"),
    "password_reset_done": ({}, "public"),
    "password_reset_confirm": ({"uidb64": "MQ", "token": "bad-token"}, "public"),
    "password_reset_complete": ({}, "public"),
    "join": ({"code": "no-such-code"}, "public"),
}


def test_every_account_url_is_listed():
    from accounts.urls import urlpatterns as account_patterns

    assert sorted([p.name for p in account_patterns] + ["join"]) == sorted(ACCOUNT_URLS)


@pytest.mark.parametrize("name", sorted(ACCOUNT_URLS))
def test_account_url_access(client, seeded, name):
    kwargs, rule = ACCOUNT_URLS[name]
    url = reverse(name, kwargs=kwargs)
    if rule == "post":  # log out: POST only
        assert client.get(url).status_code == 405
        return
    response = client.get(url)
    if rule == "login":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        client.force_login(seeded.alice)
        response = client.get(url)
    # An unknown join code is a styled 404; a bad reset token a page that says so.
    assert response.status_code == (404 if name == "join" else 200), (name, response.status_code)
    # No page about someone's account is cached by a shared cache.
    if name == "account":
        assert "no-store" in response["Cache-Control"]
