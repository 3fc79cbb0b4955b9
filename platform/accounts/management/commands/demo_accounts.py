from __future__ import annotations

from django.core.management.base import BaseCommand

from accounts.demo import ensure_demo_accounts


class Command(BaseCommand):
    help = "Create the demo student and instructor accounts (idempotent) and print them."

    def handle(self, *args, **options) -> None:
        for username, password, group in ensure_demo_accounts():
            self.stdout.write(f"  {group[:-1]:<10} {username} / {password}")
