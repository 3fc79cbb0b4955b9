from __future__ import annotations

import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.utils import DatabaseError

from courses.loader import load_course
from courses.models import Exercise
from grading.code import code_problem
from grading.runner import execute
from grading.spec import ExerciseSpec
from grading.verdict import stored_json, verdict_without_run


def find_spec(slug: str) -> ExerciseSpec | None:
    """The exercise's current version from the database, else straight from lessons/."""
    try:
        exercise = Exercise.objects.select_related("current_version").filter(slug=slug).first()
        if exercise is not None and exercise.current_version is not None:
            return exercise.current_version.spec
    except DatabaseError:
        pass  # not migrated yet: the lesson files still know the exercise
    for lesson in load_course(settings.LESSONS_DIR):
        for spec in lesson.exercises:
            if spec.slug == slug:
                return spec
    return None


class Command(BaseCommand):
    help = "Grade one submission (a file, or - for stdin) without the queue; print its verdict."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("file", help="path to the code, or - to read standard input")
        parser.add_argument("--run", action="store_true", help="run without grading")
        parser.add_argument("--variant", type=int, default=0,
                            help="the variant to grade against (exercises with variants)")

    def handle(self, *args, slug: str, file: str, run: bool, variant: int = 0,
               **options) -> None:
        spec = find_spec(slug)
        if spec is None:
            raise CommandError(f"There is no exercise {slug!r}.")
        try:
            spec = spec.for_variant(variant) if spec.variants else spec
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        code = raw.decode("utf-8", errors="surrogateescape")
        problem = code_problem(code)
        if problem:
            verdict = verdict_without_run("rejected", problem.messages, spec.max_score,
                                          exercise=slug, queue=spec.queue)
        else:
            verdict = execute(spec, code, kind="run" if run else "submit")
        verdict = stored_json(verdict, graded=True, exercise=slug, status="graded",
                              outcome=verdict["outcome"], queue=spec.queue)
        self.stdout.write(json.dumps(verdict, ensure_ascii=False, indent=2))
