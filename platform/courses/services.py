"""Writes to the course tables: syncing lesson files into the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from courses.loader import LessonDoc, load_course
from courses.models import Exercise, ExerciseVersion, Lesson
from grading.spec import ExerciseSpec


@dataclass
class SyncReport:
    lessons: int = 0
    exercises: int = 0
    new_versions: list[str] = field(default_factory=list)


def exercise_publish(*, exercise: Exercise, spec: ExerciseSpec) -> ExerciseVersion:
    """Make `spec` the exercise's current version; a new version only when grading changed."""
    fingerprint = spec.grading_fingerprint()
    data = spec.to_dict()
    data["version"] = ""
    current = exercise.current_version
    if current is not None and current.fingerprint == fingerprint:
        if current.data != data:  # prose, hints or titles changed: same graded version
            current.data = data
            current.save(update_fields=["data"])
        return current
    # After the highest number ever used (not the current one's: a version may have been
    # published after it and rolled back), so numbers never repeat.
    last = exercise.versions.order_by("-number").first()
    number = (last.number if last is not None else 0) + 1
    version = ExerciseVersion.objects.create(
        exercise=exercise, number=number, fingerprint=fingerprint, data=data
    )
    exercise.current_version = version
    exercise.save(update_fields=["current_version"])
    return version


@transaction.atomic
def lesson_upsert(doc: LessonDoc, report: SyncReport) -> Lesson:
    lesson, _ = Lesson.objects.update_or_create(
        slug=doc.slug,
        defaults={
            "order": doc.order,
            "title": doc.title,
            "summary": doc.summary,
            "prose": doc.prose,
            "due": doc.due,
            "opens": doc.opens,
        },
    )
    for order, spec in enumerate(doc.exercises):
        meta = doc.meta_of(spec.slug)
        exercise, _ = Exercise.objects.update_or_create(
            slug=spec.slug, defaults={"lesson": lesson, "order": order, "due": meta.due,
                                      "optional": meta.optional, "weight": meta.weight}
        )
        before = exercise.current_version_id
        version = exercise_publish(exercise=exercise, spec=spec)
        if version.pk != before:
            report.new_versions.append(f"{spec.slug} v{version.number}")
        report.exercises += 1
    report.lessons += 1
    return lesson


def course_sync(root: Path) -> SyncReport:
    """Load every lesson folder under `root` into the database (idempotent)."""
    report = SyncReport()
    for doc in load_course(root):
        lesson_upsert(doc, report)
    return report
