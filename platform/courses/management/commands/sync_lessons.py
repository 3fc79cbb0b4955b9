from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from courses.loader import LessonFormatError
from courses.services import course_sync


class Command(BaseCommand):
    help = "Load lessons/ into the database (idempotent; a new version when grading changes)."

    def handle(self, *args, **options) -> None:
        try:
            report = course_sync(settings.LESSONS_DIR)
        except LessonFormatError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Synced {report.lessons} lessons, {report.exercises} exercises"
            + (f"; new versions: {', '.join(report.new_versions)}" if report.new_versions else "")
        )
