"""Bulk import of students from CSV: `username,email,first_name,last_name[,password]`.

All or nothing: every row is checked first; if one is bad the report lists each bad row
(with its row number, the header being row 1) and nothing is written. A good file is written
in one transaction. Importing the same file again changes nothing.

Existing accounts are enrolled, never modified: changing someone's e-mail or password from
a roster would let an instructor take over an account that is not theirs to manage.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.services import enrol, may_get_reset_link, set_password_url
from dashboard.access import STAFF, role_of
from dashboard.models import Course

log = logging.getLogger(__name__)

COLUMNS = ["username", "email", "first_name", "last_name", "password"]
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000


@dataclass(frozen=True)
class RosterRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    username: str
    email: str
    first_name: str
    last_name: str
    password: str


@dataclass(frozen=True)
class RowError:
    row: int  # 0: the file as a whole
    username: str
    message: str


@dataclass
class Imported:
    row: int
    username: str
    email: str
    status: str  # created | enrolled (existing account) | unchanged (already a student)
    link: str = ""  # set-password link, for students who have no password yet


@dataclass
class ImportReport:
    imported: list[Imported] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    emailed: int = 0
    email_failed: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, status: str) -> int:
        return sum(1 for r in self.imported if r.status == status)

    @property
    def links(self) -> list[Imported]:
        return [r for r in self.imported if r.link]


def decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_BYTES:
        raise ValueError(_("The file is larger than %(mb)d MB.") % {"mb": MAX_BYTES // 2**20})
    try:
        return data.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError:
        raise ValueError(_('The file is not UTF-8 text. Save it as "CSV UTF-8".')) from None


def parse(text: str) -> tuple[list[RosterRow], list[RowError]]:
    """Rows and per-row problems; a header row (first cell `username`) is optional."""
    rows: list[RosterRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    username_ok = UnicodeUsernameValidator()
    try:
        records = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        return [], [RowError(0, "", _("The file is not valid CSV: %(error)s") % {"error": exc})]
    if len(records) > MAX_ROWS + 1:
        return [], [RowError(0, "", _("At most %(n)d students per import.") % {"n": MAX_ROWS})]
    for number, cells in enumerate(records, start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue  # blank lines are not rows
        if number == 1 and cells[0].lower() == "username":
            if [c.lower() for c in cells] != COLUMNS[: len(cells)] or len(cells) < 4:
                errors.append(RowError(1, "", _(
                    "The header must be: username,email,first_name,last_name and optionally "
                    "password.")))
            continue
        if len(cells) not in (4, 5):
            errors.append(RowError(number, cells[0], _(
                "Expected 4 or 5 columns (username,email,first_name,last_name[,password]), "
                "found %(n)d.") % {"n": len(cells)}))
            continue
        username, email, first, last = cells[:4]
        password = cells[4] if len(cells) == 5 else ""
        problems = []
        if not username:
            problems.append(_("The username is empty."))
        else:
            try:
                username_ok(username)
                if len(username) > 150:
                    raise ValidationError("too long")
            except ValidationError:
                problems.append(_("The username may have at most 150 letters, digits and "
                                  "@/./+/-/_ only."))
        if email:
            try:
                validate_email(email)
            except ValidationError:
                problems.append(_("%(email)s is not an e-mail address.") % {"email": email})
        if len(first) > 150 or len(last) > 150:
            problems.append(_("A name is longer than 150 characters."))
        key = username.casefold()
        if key in seen:
            problems.append(_("The username is also on row %(row)d.") % {"row": seen[key]})
        seen.setdefault(key, number)
        if problems:
            errors.append(RowError(number, username, " ".join(problems)))
            continue
        rows.append(RosterRow(number, username, email, first, last, password))
    if not rows and not errors:
        errors.append(RowError(0, "", _("The file has no students in it.")))
    return rows, errors


def _check_against_database(course: Course, rows: list[RosterRow]) -> list[RowError]:
    User = get_user_model()
    errors = []
    for r in rows:
        user = User.objects.filter(username__iexact=r.username).first()
        if user is None:
            if r.password:
                probe = User(username=r.username, email=r.email, first_name=r.first_name,
                             last_name=r.last_name)
                try:
                    validate_password(r.password, probe)
                except ValidationError as exc:
                    errors.append(RowError(r.row, r.username, " ".join(exc.messages)))
            continue
        if user.username != r.username:
            errors.append(RowError(r.row, r.username, _(
                "An account %(existing)s already exists (usernames ignore case).")
                % {"existing": user.username}))
        elif role_of(user, course) in STAFF:
            errors.append(RowError(r.row, r.username, _("%(username)s is on the staff of this "
                                                        "course.") % {"username": r.username}))
        elif r.email and user.email and r.email.casefold() != user.email.casefold():
            errors.append(RowError(r.row, r.username, _(
                "The account %(username)s exists with another e-mail address; an import "
                "does not change existing accounts.") % {"username": r.username}))
    return errors


def import_roster(course: Course, data: bytes | str, *, base_url: str,
                  send_email: bool | None = None) -> ImportReport:
    """Check every row, then create and enrol them all in one transaction (or nothing)."""
    report = ImportReport()
    try:
        text = decode(data)
    except ValueError as exc:
        report.errors.append(RowError(0, "", str(exc)))
        return report
    rows, report.errors = parse(text)
    report.errors += _check_against_database(course, rows)
    if report.errors:
        report.errors.sort(key=lambda e: e.row)
        return report
    User = get_user_model()
    created_users = []
    with transaction.atomic():
        for r in rows:
            user = User.objects.filter(username=r.username).first()
            if user is None:
                user = User(username=r.username, email=r.email, first_name=r.first_name,
                            last_name=r.last_name)
                if r.password:
                    user.set_password(r.password)
                else:
                    user.set_unusable_password()  # until they follow their set-password link
                user.save()
                enrol(user, course)
                created_users.append(user)
                status = "created"
            else:
                status = "enrolled" if enrol(user, course) else "unchanged"
            link = ""
            if not user.has_usable_password() and may_get_reset_link(user):
                link = set_password_url(base_url, user)
            report.imported.append(Imported(r.row, user.username, user.email, status, link))
    if send_email is None:
        send_email = settings.EMAIL_CONFIGURED
    if send_email:
        _send_links(course, report, {u.pk for u in created_users})
    return report


def _invitation(course: Course, item: Imported) -> mail.EmailMessage:
    """One message in English and in Chinese: the student's language is not known yet."""
    parts = []
    subjects = []
    for lang in ("en", "zh-hans"):
        with translation.override(lang):
            parts.append(render_to_string("accounts/email/invitation.txt", {
                "course": course, "username": item.username, "link": item.link,
            }).strip())
            subjects.append(_("Set your password for %(course)s") % {"course": course.title})
    return mail.EmailMessage(" / ".join(subjects), "\n\n-----\n\n".join(parts),
                             to=[item.email])


def _send_links(course: Course, report: ImportReport, new_ids: set[Any]) -> None:
    """E-mail the set-password link to each student created now (not again on a re-import)."""
    User = get_user_model()
    new_names = set(User.objects.filter(pk__in=new_ids).values_list("username", flat=True))
    messages = [_invitation(course, r) for r in report.links
                if r.email and r.username in new_names]
    if not messages:
        return
    try:
        with mail.get_connection() as connection:
            report.emailed = connection.send_messages(messages) or 0
    except Exception as exc:  # smtplib, socket and backend errors alike: the import stands
        log.warning("could not e-mail set-password links: %s", exc)
    report.email_failed = len(messages) - report.emailed
