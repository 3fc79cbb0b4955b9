"""Give a user a role in a course: `python manage.py course_staff pytorch alice ta`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from dashboard.access import get_course
from dashboard.models import Course, Membership


class Command(BaseCommand):
    help = "Add (or change, or --remove) a user's role in a course; --list shows the roles."

    def add_arguments(self, parser) -> None:
        parser.add_argument("course", help="course slug (the default course is 'pytorch')")
        parser.add_argument("username", nargs="?")
        parser.add_argument("role", nargs="?", choices=Membership.Role.values)
        parser.add_argument("--remove", action="store_true")
        parser.add_argument("--create-course", metavar="TITLE",
                            help="create the course first if it does not exist")
        parser.add_argument("--list", action="store_true")

    def handle(self, *args, **opts) -> None:
        if opts["create_course"]:
            Course.objects.get_or_create(slug=opts["course"],
                                         defaults={"title": opts["create_course"]})
        try:
            course = get_course(opts["course"])
        except Exception as exc:
            raise CommandError(f"no course {opts['course']!r} (use --create-course)") from exc
        if opts["list"] or not opts["username"]:
            for m in Membership.objects.filter(course=course).select_related("user"):
                self.stdout.write(f"{m.user.username}\t{m.role}")
            return
        user = get_user_model().objects.filter(username=opts["username"]).first()
        if user is None:
            raise CommandError(f"no user {opts['username']!r}")
        if opts["remove"]:
            Membership.objects.filter(course=course, user=user).delete()
            self.stdout.write(f"{user.username} removed from {course.slug}")
            return
        if not opts["role"]:
            raise CommandError("give a role: instructor, ta or student")
        Membership.objects.update_or_create(course=course, user=user,
                                            defaults={"role": opts["role"]})
        self.stdout.write(f"{user.username} is now {opts['role']} of {course.slug}")
