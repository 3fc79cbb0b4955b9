"""Every page of this area in zh-hans: no English sentence of its catalogue is left."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.urls import reverse

from accounts import services

PO = Path(settings.BASE_DIR) / "platform/accounts/locale/zh_Hans/LC_MESSAGES/django.po"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def english_fragments() -> set[str]:
    """The English text of every msgid, cut at placeholders and tags, long pieces only."""
    text = PO.read_text(encoding="utf-8")
    ids = re.findall(r'^msgid(?:_plural)? "(.+)"$', text, re.M)
    pieces = set()
    for msgid in ids:
        msgid = msgid.replace('\\"', '"')
        for piece in re.split(r"%\(\w+\)[sd]|<[^>]+>", msgid):
            if len(piece.strip()) >= 12:
                pieces.add(piece.strip())
    return pieces


def test_catalogue_is_complete():
    text = PO.read_text(encoding="utf-8")
    assert not re.search(r'^msgstr(\[0\])? ""\n\n', text.split("\n\n", 1)[1], re.M)


def test_pages_have_no_english_left(client, seeded):
    fragments = english_fragments()
    assert len(fragments) > 50
    code = services.join_link(seeded.course).code
    pages = {
        "join": client.get(f"/join/{code}", **ZH),
        "join-invalid": client.get("/join/nope", **ZH),
        "signup": client.post(reverse("signup"), {"link": "nope"}, **ZH),
        "reset": client.get(reverse("password_reset"), **ZH),
        "reset-done": client.get(reverse("password_reset_done"), **ZH),
        "reset-bad": client.get(reverse("password_reset_confirm", args=["MQ", "x-y"]), **ZH),
        "reset-complete": client.get(reverse("password_reset_complete"), **ZH),
    }
    services.set_signup_open(seeded.course, False)
    pages["join-closed"] = client.get(f"/join/{code}", **ZH)
    client.force_login(seeded.teacher)
    pages["people"] = client.get(reverse("dashboard:people", args=["pytorch"]), **ZH)
    pages["import-form"] = client.get(reverse("dashboard:people-import", args=["pytorch"]), **ZH)
    pages["import-ok"] = client.post(reverse("dashboard:people-import", args=["pytorch"]),
                                     {"text": "nina,,N,A\n"}, **ZH)
    pages["import-bad"] = client.post(reverse("dashboard:people-import", args=["pytorch"]),
                                      {"text": "bad name,x,N\n"}, **ZH)
    pages["reset-link"] = client.post(
        reverse("dashboard:people-reset-link", args=["pytorch", "alice"]), **ZH)
    client.force_login(seeded.alice)
    pages["account"] = client.get(reverse("account"), **ZH)
    pages["password-change"] = client.post(reverse("password_change"), {"old_password": "x"},
                                           **ZH)
    for name, response in pages.items():
        assert response.status_code in (200, 404), name
        html = response.content.decode()
        assert 'lang="zh-hans"' in html, name
        left = sorted(f for f in fragments if f in html)
        assert not left, (name, left)
