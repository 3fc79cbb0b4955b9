"""The People page: join link with rotate and sign-up switch, staff roles (a second
instructor, a TA with a read-only gradebook), the course list and the course switcher."""

from __future__ import annotations

from django.urls import reverse

from accounts import services
from accounts.models import JoinLink
from dashboard.access import role_of
from dashboard.models import Membership


def test_people_page_shows_the_join_link(client, seeded):
    client.force_login(seeded.teacher)
    html = client.get(reverse("dashboard:people", args=["pytorch"])).content.decode()
    code = JoinLink.objects.get(course=seeded.course).code
    assert f'value="http://testserver/join/{code}"' in html
    assert 'data-username="alice"' in html and 'data-username="carol"' in html
    assert reverse("dashboard:people", args=["pytorch"]) in client.get(
        reverse("dashboard:home", args=["pytorch"])).content.decode()  # in the navigation


def test_rotate_and_switch_signup_from_the_dashboard(client, seeded):
    client.force_login(seeded.teacher)
    old = services.join_link(seeded.course).code
    response = client.post(reverse("dashboard:people-join-rotate", args=["pytorch"]))
    assert response["Location"] == reverse("dashboard:people", args=["pytorch"])
    new = JoinLink.objects.get(course=seeded.course).code
    assert new != old and client.get(f"/join/{old}").status_code == 404
    client.post(reverse("dashboard:people-join-signup", args=["pytorch"]), {"open": "0"})
    assert not JoinLink.objects.get(course=seeded.course).signup_open
    client.post(reverse("dashboard:people-join-signup", args=["pytorch"]), {"open": "1"})
    assert JoinLink.objects.get(course=seeded.course).signup_open


def test_add_a_ta_who_reads_the_gradebook_only(client, seeded):
    client.force_login(seeded.teacher)
    client.post(reverse("dashboard:people-staff", args=["pytorch"]),
                {"username": "carol", "role": "ta"})
    assert role_of(seeded.carol, seeded.course) == "ta"
    client.force_login(seeded.carol)
    assert client.get(reverse("dashboard:gradebook", args=["pytorch"])).status_code == 200
    assert client.get(reverse("dashboard:people", args=["pytorch"])).status_code == 403
    assert client.post(reverse("dashboard:regrade-start", args=["pytorch", "tensor-broadcast"])
                       ).status_code == 403


def test_add_a_second_instructor_and_remove_them(client, seeded):
    client.force_login(seeded.outsider)
    client.post(reverse("dashboard:people-staff", args=["other"]),
                {"username": "bob", "role": "instructor"})
    assert role_of(seeded.bob, seeded.other) == "instructor"
    client.force_login(seeded.bob)
    assert client.get(reverse("dashboard:people", args=["other"])).status_code == 200
    client.force_login(seeded.outsider)
    client.post(reverse("dashboard:people-staff", args=["other"]),
                {"username": "bob", "action": "remove"})
    assert role_of(seeded.bob, seeded.other) is None


def test_staff_changes_that_are_refused(client, seeded):
    client.force_login(seeded.outsider)
    url = reverse("dashboard:people-staff", args=["other"])
    for data in ({"username": "ghost", "role": "ta"}, {"username": "olga", "role": "ta"},
                 {"username": "olga", "action": "remove"}, {"username": "bob", "role": "admin"}):
        response = client.post(url, data, follow=True)
        assert response.status_code == 200
        assert 'class="error"' in response.content.decode(), data
    assert role_of(seeded.outsider, seeded.other) == "instructor"
    assert not Membership.objects.filter(course=seeded.other, user=seeded.bob).exists()


def test_course_list_and_switcher(client, seeded):
    client.force_login(seeded.alice)
    page = client.get(reverse("account")).content.decode()
    assert 'data-course="pytorch"' in page and 'data-course="other"' not in page
    assert "My courses" not in client.get(reverse("courses:index")).content.decode()
    Membership.objects.create(course=seeded.other, user=seeded.alice, role="student")
    Membership.objects.create(course=seeded.course, user=seeded.alice, role="student")
    page = client.get(reverse("account")).content.decode()
    assert 'data-course="pytorch"' in page and 'data-course="other"' in page
    assert "My courses" in client.get(reverse("courses:index")).content.decode()
    grades = client.get(reverse("dashboard:my-grades", args=["other"])).content.decode()
    assert 'id="course-switcher"' in grades
    assert reverse("dashboard:my-grades", args=["pytorch"]) in grades


def test_switcher_for_staff_of_two_courses(client, seeded):
    Membership.objects.create(course=seeded.course, user=seeded.outsider, role="ta")
    client.force_login(seeded.outsider)
    html = client.get(reverse("dashboard:home", args=["other"])).content.decode()
    assert 'id="course-switcher"' in html
    assert reverse("dashboard:home", args=["pytorch"]) in html


def test_people_page_in_chinese(client, seeded):
    client.force_login(seeded.teacher)
    html = client.get(reverse("dashboard:people", args=["pytorch"]),
                      HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "加入链接" in html and "Join link" not in html and "教学人员" in html
