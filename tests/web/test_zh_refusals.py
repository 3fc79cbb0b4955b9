"""Issue #14 §5: a 429 refusal (rate limit, busy, budget) says why in en and zh-hans."""

from __future__ import annotations

import json
import re
from unittest import mock

import pytest
from django.test import Client

from submissions import services

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_rate_limited_messages_in_both_languages():
    texts = services.rate_limited_messages(7)
    assert set(texts) == {"en", "zh-hans"}
    assert "7 s" in texts["en"] and "7 秒" in texts["zh-hans"]
    assert HAN.search(texts["zh-hans"]) and not HAN.search(texts["en"])
    assert services.rate_limited_message(7) == texts["en"]


def test_refusal_keeps_every_language_and_english_as_message():
    refused = services.SubmissionRefused({"en": "wait", "zh-hans": "请等待"}, retry_after=3,
                                         reason="busy")
    assert refused.message == "wait" and refused.messages["zh-hans"] == "请等待"
    assert services.SubmissionRefused("x", retry_after=0, reason="busy").messages == {"en": "x"}


def test_durations_in_chinese():
    assert services._duration_text(150, "zh-hans") == "2 分钟 30 秒"
    assert services._duration_text(150) == "2 min 30 s"


# --- Through the API: `error` in the caller's language, `messages` in both -------------------

URL = "/api/exercises/tensor-broadcast/submissions"


@pytest.fixture
def course(db):
    """Only the tensors lesson (other lessons may be mid-edit; syncing all costs seconds)."""
    from django.conf import settings

    from courses.loader import load_lesson
    from courses.services import SyncReport, lesson_upsert

    return lesson_upsert(load_lesson(settings.LESSONS_DIR / "tensors"), SyncReport())


@pytest.fixture
def clear_limits():
    from accounts import ratelimit

    ratelimit._client().delete(*(ratelimit._client().keys("pdl:rl:*") or ["-"]))
    yield
    ratelimit._client().delete(*(ratelimit._client().keys("pdl:rl:*") or ["-"]))


@pytest.fixture
def quiet_queue():
    with mock.patch("submissions.services.enqueue"), mock.patch(
            "submissions.services.workers.online", return_value={"cpu": 1, "gpu": 1}):
        yield


def _post(client: Client, code: str = "c = a + b"):
    return client.post(URL, data=json.dumps({"code": code}), content_type="application/json")


def _zh_client(user) -> Client:
    from drafts.models import Preference

    Preference.objects.update_or_create(user=user, defaults={"language": "zh-hans"})
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_rate_limited_429_in_chinese_with_both_messages(course, alice, settings, clear_limits,
                                                         quiet_queue):
    settings.SUBMISSION_RATE_LIMIT = "1/60"
    client = _zh_client(alice)
    assert _post(client).status_code == 202
    limited = _post(client, "c = b + a")
    assert limited.status_code == 429
    data = limited.json()
    assert data["reason"] == "rate-limited"
    assert set(data["messages"]) == {"en", "zh-hans"}
    assert data["error"] == data["messages"]["zh-hans"] and HAN.search(data["error"])
    assert "try again in" in data["messages"]["en"]


@pytest.mark.django_db
def test_busy_429_in_chinese_with_both_messages(course, alice, settings, clear_limits,
                                                quiet_queue):
    settings.SUBMISSION_RATE_LIMIT = "1000/60"
    client = _zh_client(alice)
    first = _post(client).json()
    assert services.submission_claim(first["id"], worker="w@h") is not None
    refused = _post(client, "c = b + a")
    assert refused.status_code == 429
    data = refused.json()
    assert data["reason"] == "busy"
    assert data["error"] == data["messages"]["zh-hans"]
    assert f"#{first['id']}" in data["error"] and "还在评分中" in data["error"]
    assert "still being graded" in data["messages"]["en"]
    # An English reader gets English in `error`, and still both in `messages`.
    english = Client()
    english.force_login(alice)
    from drafts.models import Preference

    Preference.objects.filter(user=alice).update(language="en")
    data = _post(english, "c = b + a").json()
    assert data["error"] == data["messages"]["en"] and "zh-hans" in data["messages"]
