"""The draft autosave API: per user, per exercise, bounded, CSRF-protected."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client

from drafts.models import Draft

pytestmark = pytest.mark.django_db
URL = "/api/exercises/tensor-broadcast/draft"


def login(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def put(client: Client, body, url: str = URL):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.put(url, data, content_type="application/json")


def test_no_draft_yet(course, alice):
    assert login(alice).get(URL).json() == {"code": None, "updated_at": None, "hints_shown": 0}


def test_save_and_read_back(course, alice):
    client = login(alice)
    response = put(client, {"code": "c = a + b\n# 中文 ✓"})
    assert response.status_code == 200 and response.json()["updated_at"]
    assert client.get(URL).json()["code"] == "c = a + b\n# 中文 ✓"
    put(client, {"code": "c = a * b"})
    assert Draft.objects.get(user=alice).code == "c = a * b"
    assert Draft.objects.count() == 1


def test_post_works_too(course, alice):
    client = login(alice)
    response = client.post(URL, json.dumps({"code": "x"}), content_type="application/json")
    assert response.status_code == 200
    assert client.get(URL).json()["code"] == "x"


def test_drafts_are_private(course, alice, bob):
    put(login(alice), {"code": "alice's secret"})
    assert login(bob).get(URL).json()["code"] is None


def test_login_required(course):
    assert Client().get(URL).status_code == 401
    assert put(Client(), {"code": "x"}).status_code == 401


def test_csrf_is_enforced_for_browser_sessions(course, alice):
    client = login(alice, enforce_csrf_checks=True)
    assert put(client, {"code": "x"}).status_code == 403
    assert not Draft.objects.exists()


def test_bad_bodies(course, alice):
    client = login(alice)
    assert put(client, "not json").status_code == 400
    assert put(client, {"code": 5}).status_code == 400
    assert put(client, b"\xff\xfe").status_code == 400
    assert put(client, {"code": "x" * (settings.MAX_CODE_BYTES + 1)}).status_code == 413
    assert put(client, {"code": "x"}, url="/api/exercises/nope/draft").status_code == 404
    assert not Draft.objects.exists()


def test_lone_surrogates_are_stored_as_text(course, alice):
    client = login(alice)
    assert put(client, '{"code": "a = 1 # \\ud800"}').status_code == 200
    assert client.get(URL).json()["code"].startswith("a = 1 # ")
