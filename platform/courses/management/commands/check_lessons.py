from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from courses.loader import LessonFormatError, load_course
from courses.soundness import check_exercise
from grading.runner import execute


def _gpu_available() -> bool:
    import torch

    return torch.cuda.is_available()


class Command(BaseCommand):
    help = "Prove exercises sound: reference passes, starter fails, two runs agree."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slugs", nargs="*", help="exercise or lesson slugs (default: all)")

    def handle(self, *args, slugs: list[str], **options) -> None:
        try:
            lessons = load_course(settings.LESSONS_DIR)
        except LessonFormatError as exc:
            raise CommandError(f"The lesson files have problems:\n{exc}") from exc
        wanted = set(slugs)
        specs = [
            spec for lesson in lessons for spec in lesson.exercises
            if not wanted or spec.slug in wanted or lesson.slug in wanted
        ]
        unknown = wanted - {s.slug for s in specs} - {lesson.slug for lesson in lessons}
        if unknown:
            raise CommandError(f"Unknown exercise or lesson: {', '.join(sorted(unknown))}")
        gpu = _gpu_available()
        failures = 0
        for spec in specs:
            result = check_exercise(spec, execute, gpu_available=gpu,
                                    run=lambda s, code: execute(s, code, kind="run"))
            failures += not result.ok
            self.stdout.write(result.line())
        self.stdout.write(f"{len(specs) - failures} of {len(specs)} exercises sound.")
        if failures:
            raise CommandError(f"{failures} exercise(s) are not sound.")
