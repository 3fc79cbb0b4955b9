"""Print a course's join link: `python manage.py joinlink pytorch [--rotate] [--signup off]`."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.http import Http404

from accounts import services
from dashboard.access import get_course


class Command(BaseCommand):
    help = ("Print the join URL of COURSE (made on first use). --rotate replaces the code (the "
            "old link stops working); --signup on|off lets visitors create accounts or not.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("course", help="course slug (the default course is 'pytorch')")
        parser.add_argument("--rotate", action="store_true", help="replace the code")
        parser.add_argument("--signup", choices=["on", "off"],
                            help="open or close sign-up through the link")
        parser.add_argument("--base-url", default=None,
                            help="the address students use (default: settings.SITE_URL)")

    def handle(self, *args, course: str, rotate: bool, signup: str | None,
               base_url: str | None, **options) -> None:
        try:
            obj = get_course(course)
        except Http404:
            raise CommandError(f"There is no course {course!r}.") from None
        link = services.rotate_join_code(obj) if rotate else services.join_link(obj)
        if signup:
            link = services.set_signup_open(obj, signup == "on")
        self.stdout.write(services.join_url(base_url or settings.SITE_URL, link))
        if not link.signup_open:
            self.stderr.write("(sign-up is closed: only existing accounts can join)")
