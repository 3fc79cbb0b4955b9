"""Issue #14 §5: a 429 refusal (rate limit, busy, budget) says why in en and zh-hans."""

from __future__ import annotations

import re

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
