"""Lesson pages and the course index."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_pages_need_login(course):
    response = Client().get("/lessons/tensors/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_lesson_page_shows_cells_but_never_the_solution(course, alice):
    from courses.models import Exercise

    client = Client()
    client.force_login(alice)
    html = client.get("/lessons/tensors/").content.decode()
    assert 'aria-label="Code for tensor-broadcast"' in html
    assert 'data-submit-url="/api/exercises/tensor-broadcast/submissions"' in html
    for exercise in Exercise.objects.filter(lesson__slug="tensors"):
        solution = exercise.spec.solution.strip()
        starter = exercise.spec.starter.strip()
        # One-line answers may be quoted by the prose itself; whole solutions must never show.
        if solution.count("\n") >= 1 and solution != starter:
            assert solution not in html, f"the solution of {exercise.slug} leaked"


def test_unknown_lesson_is_404(course, alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/lessons/nope/").status_code == 404


def test_the_index_lists_lessons_with_progress(course, alice):
    client = Client()
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert "/lessons/tensors/" in html and "exercises passed" in html


def test_login_page_renders():
    assert Client().get("/accounts/login/").status_code == 200


def test_only_staff_are_offered_the_dashboard(course, alice, teacher):
    client = Client()
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert 'href="/dashboard/"' not in html and "/my-grades/" in html
    client.force_login(teacher)
    assert 'href="/dashboard/"' in client.get("/").content.decode()
