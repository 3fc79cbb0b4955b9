"""Import students from CSV: `python manage.py enroll pytorch students.csv`."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.http import Http404

from accounts import roster
from dashboard.access import get_course


class Command(BaseCommand):
    help = ("Create and enrol the students of FILE.csv (username,email,first_name,last_name"
            "[,password]) in COURSE, all or nothing; print the set-password links (CSV) of "
            "those without a password. Running it again changes nothing.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("course", help="course slug (the default course is 'pytorch')")
        parser.add_argument("file", help="the CSV file, or - for standard input")
        parser.add_argument("--base-url", default=None,
                            help="the address students use (default: settings.SITE_URL)")
        parser.add_argument("--no-email", action="store_true",
                            help="do not e-mail the links even when e-mail is configured")

    def handle(self, *args, course: str, file: str, base_url: str | None, no_email: bool,
               **options) -> None:
        try:
            obj = get_course(course)
        except Http404:
            raise CommandError(f"There is no course {course!r}.") from None
        try:
            data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        report = roster.import_roster(obj, data, base_url=base_url or settings.SITE_URL,
                                      send_email=False if no_email else None)
        if not report.ok:
            for e in report.errors:
                where = f"row {e.row}" if e.row else "file"
                who = f" ({e.username})" if e.username else ""
                self.stderr.write(f"{where}{who}: {e.message}")
            raise CommandError(f"{len(report.errors)} problem(s); nothing was imported.")
        self.stderr.write(
            f"{len(report.imported)} rows: {report.count('created')} created, "
            f"{report.count('enrolled')} existing accounts enrolled, "
            f"{report.count('unchanged')} already in {obj.slug}."
            + (f" {report.emailed} link(s) e-mailed." if report.emailed else "")
            + (f" {report.email_failed} e-mail(s) failed." if report.email_failed else "")
        )
        if report.links:
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(["username", "email", "set_password_link"])
            for r in report.links:
                writer.writerow([r.username, r.email, r.link])
