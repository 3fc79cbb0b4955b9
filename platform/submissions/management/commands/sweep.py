from __future__ import annotations

from django.core.management.base import BaseCommand

from submissions.services import sweep


class Command(BaseCommand):
    help = (
        "Re-queue submissions stuck in queued/running past their deadline (workers also do "
        "this on a timer; this command is for cron or an operator)."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(str(sweep()))
