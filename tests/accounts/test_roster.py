"""Bulk import: all or nothing with a per-row report, idempotent, set-password links
(printed, CSV, e-mailed when e-mail is configured), existing accounts never modified."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from accounts import roster
from dashboard.access import role_of

GOOD = (
    "username,email,first_name,last_name,password\n"
    "wang,wang@example.org,Wei,王,\n"
    "li,li@example.org,Li,Na,a-long-pass-8812\n"
    "zed,,Zed,Zero,\n"
)


def _import(course, text, **kw):
    return roster.import_roster(course, text, base_url="http://class.example", **kw)


def test_import_creates_and_enrols(seeded):
    report = _import(seeded.other, GOOD, send_email=False)
    assert report.ok, report.errors
    assert [r.status for r in report.imported] == ["created"] * 3
    wang = User.objects.get(username="wang")
    assert (wang.email, wang.first_name, wang.last_name) == ("wang@example.org", "Wei", "王")
    assert not wang.has_usable_password()
    assert User.objects.get(username="li").check_password("a-long-pass-8812")
    for name in ("wang", "li", "zed"):
        assert role_of(User.objects.get(username=name), seeded.other) == "student"
    # Set-password links for those without a password, and only them.
    assert [r.username for r in report.links] == ["wang", "zed"]
    assert all(r.link.startswith("http://class.example/accounts/reset/") for r in report.links)


def test_second_import_changes_nothing(seeded):
    _import(seeded.other, GOOD, send_email=False)
    before = list(User.objects.order_by("pk").values())
    again = _import(seeded.other, GOOD, send_email=False)
    assert again.ok
    assert [r.status for r in again.imported] == ["unchanged"] * 3
    assert list(User.objects.order_by("pk").values()) == before
    # The pending students still get a (fresh) link: nothing was stored to lose.
    assert [r.username for r in again.links] == ["wang", "zed"]


def test_bad_rows_are_reported_and_nothing_is_imported(seeded):
    seeded.alice.email = "alice@example.org"
    seeded.alice.save()
    text = (
        "username,email,first_name,last_name\n"
        "good,good@example.org,G,Ood\n"
        "bad name!,x@example.org,B,Ad\n"
        "mail,not-an-email,M,Ail\n"
        "short,,S,Hort,123\n"
        "few,columns\n"
        "GOOD,,Dup,Licate\n"
        "alice,someone-else@example.org,A,A\n"
    )
    report = _import(seeded.course, text, send_email=False)
    assert not report.ok
    rows = {e.row: e.message for e in report.errors}
    assert set(rows) == {3, 4, 5, 6, 7, 8}
    assert "letters, digits" in rows[3]
    assert "not-an-email" in rows[4]
    assert "too short" in rows[5] or "too common" in rows[5]
    assert "found 2" in rows[6]
    assert "row 2" in rows[7]
    assert "another e-mail" in rows[8]
    assert not User.objects.filter(username__in=["good", "mail", "short"]).exists()


def test_staff_and_case_variants_are_refused(seeded):
    report = _import(seeded.course, "teacher,,T,T\nBOB,,B,B\n", send_email=False)
    assert {e.row for e in report.errors} == {1, 2}
    assert "staff" in report.errors[0].message
    assert "ignore case" in report.errors[1].message


def test_existing_accounts_are_enrolled_not_modified(seeded):
    seeded.alice.email = "alice@example.org"
    seeded.alice.save()
    password = seeded.alice.password
    report = _import(seeded.other, "alice,alice@example.org,Changed,Name,new-pass-99812\n",
                     send_email=False)
    assert report.ok and report.imported[0].status == "enrolled"
    seeded.alice.refresh_from_db()
    assert seeded.alice.first_name == "Alice" and seeded.alice.password == password
    assert role_of(seeded.alice, seeded.other) == "student"
    assert not report.links  # she has a password


def test_not_utf8_and_empty_files(seeded):
    report = _import(seeded.course, "wang,,Wei,王\n".encode("gb18030"), send_email=False)
    assert not report.ok and "UTF-8" in report.errors[0].message
    assert not _import(seeded.course, "username,email,first_name,last_name\n").ok
    bom = _import(seeded.other, ("\ufeff" + GOOD).encode("utf-8"), send_email=False)
    assert bom.ok and len(bom.imported) == 3


def test_failure_inside_the_transaction_leaves_nothing(seeded, monkeypatch):
    calls = {"n": 0}
    real = roster.enrol

    def flaky(user, course):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away")
        return real(user, course)

    monkeypatch.setattr(roster, "enrol", flaky)
    with pytest.raises(RuntimeError):
        _import(seeded.other, GOOD, send_email=False)
    assert not User.objects.filter(username__in=["wang", "li", "zed"]).exists()


def test_links_are_emailed_when_email_is_configured(seeded, settings):
    settings.EMAIL_CONFIGURED = True
    report = _import(seeded.other, GOOD)
    assert report.emailed == 1 and len(mail.outbox) == 1  # zed has no address, li a password
    message = mail.outbox[0]
    assert message.to == ["wang@example.org"]
    assert report.links[0].link in message.body
    assert "设置" in message.subject and "Set your password" in message.subject
    mail.outbox.clear()
    _import(seeded.other, GOOD)  # a re-import does not send again
    assert mail.outbox == []


def test_links_are_not_emailed_without_email_configured(seeded, settings):
    settings.EMAIL_CONFIGURED = False
    report = _import(seeded.other, GOOD)
    assert report.emailed == 0 and mail.outbox == []


def test_enroll_command(seeded, tmp_path, capsys):
    path = tmp_path / "class.csv"
    path.write_text(GOOD, encoding="utf-8")
    call_command("enroll", "other", str(path), "--base-url", "http://10.0.0.5:8000")
    out = capsys.readouterr()
    rows = list(csv.reader(io.StringIO(out.out)))
    assert rows[0] == ["username", "email", "set_password_link"]
    assert [r[0] for r in rows[1:]] == ["wang", "zed"]
    assert rows[1][2].startswith("http://10.0.0.5:8000/accounts/reset/")
    assert "3 created" in out.err
    call_command("enroll", "other", str(path))
    assert "3 already in other" in capsys.readouterr().err


def test_enroll_command_reports_bad_rows(seeded, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("ok,,O,K\nbad name,,B,N\n", encoding="utf-8")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("enroll", "other", str(path))
    assert "row 2 (bad name)" in capsys.readouterr().err
    assert not User.objects.filter(username="ok").exists()
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("enroll", "other", str(tmp_path / "missing.csv"))


def test_import_page_and_links_csv(client, seeded):
    client.force_login(seeded.outsider)  # instructor of "other"
    url = reverse("dashboard:people-import", args=["other"])
    page = client.get(url)
    assert page.status_code == 200 and "username,email,first_name,last_name" in (
        page.content.decode())
    upload = io.BytesIO(GOOD.encode())
    upload.name = "class.csv"
    response = client.post(url, {"file": upload})
    html = response.content.decode()
    assert response.status_code == 200 and 'id="import-result"' in html
    assert html.count('class="set-password-link"') == 2
    download = client.post(reverse("dashboard:people-links-csv", args=["other"]),
                           {"username": ["wang", "zed", "li", "alice"]})
    assert download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["wang", "zed"]  # li has a password; alice is not theirs
    # Bad rows: the page lists them, with row numbers.
    response = client.post(url, {"text": "ok,,O,K\nbad name,,B,N\n"})
    html = response.content.decode()
    assert 'id="import-errors"' in html and 'data-row="2"' in html


def test_import_page_in_chinese(client, seeded):
    client.force_login(seeded.outsider)
    response = client.post(reverse("dashboard:people-import", args=["other"]),
                           {"text": GOOD}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = response.content.decode()
    assert "设置密码链接" in html and "Set-password links" not in html
