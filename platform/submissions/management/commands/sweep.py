from __future__ import annotations

from django.core.management.base import BaseCommand

from submissions.jobs import sweep


class Command(BaseCommand):
    help = (
        "Re-queue jobs (submissions, regrade results, validations) whose worker vanished or "
        "that waited past their deadline (workers also do this on a timer; this command is "
        "for cron or an operator)."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(str(sweep()))
