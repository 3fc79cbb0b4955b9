"""Lessons and exercises edited in the browser, checked by the same loader as lesson files.

Every save writes the lesson, with the edited piece in place, to a temporary folder in the
`lessons/` format (`courses.loader.dump_lesson`) and loads it back with `load_lesson`: the
browser gets exactly the problems `sync_lessons` would report, and what is published is
guaranteed to export back to files.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from courses.loader import (
    EXERCISE_FILE,
    LessonDoc,
    LessonFormatError,
    dump_lesson,
    exercise_dict,
    load_lesson,
)
from courses.models import Exercise, Lesson
from grading.spec import LANGS, ExerciseSpec

MAX_HINTS = 3


def lesson_doc(lesson: Lesson) -> LessonDoc:
    """The lesson as the database holds it (current versions), in the loader's terms."""
    specs = {
        e.slug: replace(e.current_version.spec, version="")
        for e in lesson.exercises.select_related("current_version").all()
        if e.current_version is not None
    }
    from courses.loader import placements

    ordered = [s for s, _ in placements(lesson.prose.get(LANGS[0], "")) if s in specs]
    ordered += [s for s in specs if s not in ordered]
    return LessonDoc(
        slug=lesson.slug, order=lesson.order, title=dict(lesson.title),
        summary=dict(lesson.summary), prose={lang: lesson.prose.get(lang, "") for lang in LANGS},
        exercises=tuple(specs[s] for s in ordered), path=Path(lesson.slug),
    )


def export_zip(doc: LessonDoc) -> bytes:
    """The lesson folder as a zip (paths start with the lesson slug)."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        folder = dump_lesson(doc, Path(tmp))
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(Path(tmp)).as_posix())
    return buffer.getvalue()


# --------------------------------------------------------------------------- exercise form


def _yaml(data: Any) -> str:
    if not data:
        return ""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def fields_from_spec(spec: ExerciseSpec) -> dict[str, str]:
    """The form's fields for an existing exercise."""
    data = exercise_dict(spec)
    out: dict[str, str] = {
        "slug": spec.slug, "setup": spec.setup, "starter": spec.starter,
        "solution": spec.solution, "queue": spec.queue, "seed": str(spec.seed),
        "forbidden": ", ".join(spec.forbidden),
        "checks": _yaml(data["checks"]),
        "options": _yaml({k: data[k] for k in ("limits", "files") if k in data}),
    }
    for lang in LANGS:
        out[f"title_{lang}"] = spec.title.get(lang, "")
        out[f"prompt_{lang}"] = spec.prompt.get(lang, "")
        for i in range(MAX_HINTS):
            hints = spec.hints
            out[f"hint{i + 1}_{lang}"] = hints[i].get(lang, "") if i < len(hints) else ""
    return out


FIELD_NAMES = (
    ["slug", "setup", "starter", "solution", "queue", "seed", "forbidden", "checks", "options"]
    + [f"{k}_{lang}" for k in ("title", "prompt") for lang in LANGS]
    + [f"hint{i + 1}_{lang}" for i in range(MAX_HINTS) for lang in LANGS]
)


def fields_from_post(post: Any) -> dict[str, str]:
    # Browsers send CRLF in textareas; lesson files use LF.
    return {name: str(post.get(name, "")).replace("\r\n", "\n") for name in FIELD_NAMES}


def exercise_yaml(fields: dict[str, str]) -> tuple[str, int]:
    """exercise.yaml text for the form, and the line where the checks text starts."""
    head: dict[str, Any] = {
        "slug": fields["slug"].strip(),
        "title": {lang: fields[f"title_{lang}"] for lang in LANGS},
        "prompt": {lang: fields[f"prompt_{lang}"] for lang in LANGS},
        "hints": [
            {lang: fields[f"hint{i + 1}_{lang}"] for lang in LANGS}
            for i in range(MAX_HINTS)
            if any(fields[f"hint{i + 1}_{lang}"].strip() for lang in LANGS)
        ],
        "queue": fields["queue"].strip() or "cpu",
    }
    seed = fields["seed"].strip()
    if seed and seed != "0":
        head["seed"] = int(seed) if seed.lstrip("-").isdigit() else seed
    forbidden = [f.strip() for f in fields["forbidden"].split(",") if f.strip()]
    if forbidden:
        head["forbidden"] = forbidden
    text = yaml.safe_dump(head, sort_keys=False, allow_unicode=True, width=100)
    if fields["options"].strip():
        text += fields["options"].rstrip("\n") + "\n"
    text += "checks:\n"
    # The author's checks text goes in verbatim, so its line numbers can be reported back.
    return text + fields["checks"].rstrip("\n") + "\n", text.count("\n") + 1


def _placed(prose: str, slug: str) -> str:
    from courses.loader import placements

    if any(s == slug for s, _ in placements(prose)):
        return prose
    return prose.rstrip("\n") + f"\n\n::: exercise {slug}\n"


def check_exercise(lesson: Lesson, fields: dict[str, str]) -> tuple[ExerciseSpec | None, list[str]]:
    """Build the spec the form describes; return (spec, []) or (None, problems)."""
    slug = fields["slug"].strip()
    doc = lesson_doc(lesson)
    others = tuple(s for s in doc.exercises if s.slug != slug)
    problems: list[str] = []
    taken = Exercise.objects.filter(slug=slug).exclude(lesson=lesson).first()
    if taken is not None:
        problems.append(f"the slug {slug!r} is used by an exercise of lesson {taken.lesson.slug!r}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        prose = {lang: _placed(text, slug) for lang, text in doc.prose.items()}
        folder = dump_lesson(replace(doc, prose=prose, exercises=others), root)
        target = folder / "exercises" / (slug or "_")
        target.mkdir(parents=True, exist_ok=True)
        text, checks_line = exercise_yaml(fields)
        (target / EXERCISE_FILE).write_text(text, encoding="utf-8")
        for name in ("setup", "starter", "solution"):
            (target / f"{name}.py").write_text(fields[name], encoding="utf-8")
        try:
            loaded = load_lesson(folder)
        except LessonFormatError as exc:
            for p in exc.problems:
                problems.append(_describe(p, root, checks_line))
            return None, problems
    if problems:
        return None, problems
    return loaded.exercise(slug), []


def _describe(problem: Any, root: Path, checks_line: int) -> str:
    try:
        rel = Path(problem.file).relative_to(root)
    except ValueError:
        rel = Path(problem.file)
    name = rel.name
    if name == EXERCISE_FILE and problem.line and problem.line >= checks_line:
        return f"checks, line {problem.line - checks_line + 1}: {problem.message}"
    if name == EXERCISE_FILE:
        return f"exercise fields: {problem.message}"
    where = f"{name}:{problem.line}" if problem.line else name
    return f"{where}: {problem.message}"


# --------------------------------------------------------------------------- lesson form

LESSON_FIELDS = ["slug", "order"] + [
    f"{k}_{lang}" for k in ("title", "summary", "prose") for lang in LANGS
]


def lesson_fields(lesson: Lesson | None) -> dict[str, str]:
    if lesson is None:
        return dict.fromkeys(LESSON_FIELDS, "")
    out = {"slug": lesson.slug, "order": str(lesson.order)}
    for lang in LANGS:
        out[f"title_{lang}"] = lesson.title.get(lang, "")
        out[f"summary_{lang}"] = lesson.summary.get(lang, "")
        out[f"prose_{lang}"] = lesson.prose.get(lang, "")
    return out


def lesson_fields_from_post(post: Any) -> dict[str, str]:
    return {name: str(post.get(name, "")).replace("\r\n", "\n") for name in LESSON_FIELDS}


def check_lesson(
    lesson: Lesson | None, fields: dict[str, str]
) -> tuple[LessonDoc | None, list[str]]:
    """Validate the lesson form with the loader (its exercises as published)."""
    slug = fields["slug"].strip() if lesson is None else lesson.slug
    try:
        order = int(fields["order"] or 0)
    except ValueError:
        return None, ["order must be an integer"]
    exercises = lesson_doc(lesson).exercises if lesson is not None else ()
    doc = LessonDoc(
        slug=slug, order=order,
        title={lang: fields[f"title_{lang}"] for lang in LANGS},
        summary={lang: fields[f"summary_{lang}"] for lang in LANGS},
        prose={lang: fields[f"prose_{lang}"] for lang in LANGS},
        exercises=exercises, path=Path(slug or "_"),
    )
    problems: list[str] = []
    if lesson is None and Lesson.objects.filter(slug=slug).exists():
        problems.append(f"a lesson {slug!r} exists already")
    clash = Lesson.objects.filter(order=order).exclude(slug=slug).first()
    if clash is not None:
        problems.append(f"order {order} is also used by lesson {clash.slug!r}")
    with tempfile.TemporaryDirectory() as tmp:
        if not slug or "/" in slug or slug.startswith("."):
            return None, ["slug must look like 'linear-algebra'"]
        folder = dump_lesson(doc, Path(tmp))
        try:
            loaded = load_lesson(folder)
        except LessonFormatError as exc:
            root = Path(tmp)
            for p in exc.problems:
                rel = Path(p.file).relative_to(root) if str(p.file).startswith(tmp) else p.file
                problems.append(f"{rel}{':' + str(p.line) if p.line else ''}: {p.message}")
            return None, problems
    if problems:
        return None, problems
    return replace(loaded, path=Path(slug)), []
