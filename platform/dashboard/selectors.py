"""Reads for the dashboard: the gradebook, exercise statistics, submissions, queues.

Grades are the effective grades of `dashboard.grades` (the one rule: regrades, overrides
and the score rule applied), re-exported here for the views and services that read them.

Lists never load whole verdicts (or code): a verdict can be large, and a page listing
hundreds of them must not pull them all into the web process. What a list needs of a
verdict, its diagnostic codes, the database extracts (`grades.with_codes`); only a detail
page loads one verdict.
"""

from __future__ import annotations

import difflib
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from courses.models import Exercise, pick_language
from dashboard.access import (
    course_exercises,
    course_lessons,
    course_students,
    course_submissions,
)
from dashboard.grades import (  # noqa: F401 - re-exported: the one effective grade
    MAX_CODE_LENGTH,
    MAX_CODES,
    REFUSED,
    Cell,
    Effective,
    FailedCheckCodes,
    Policy,
    best_effective,
    codes_of,
    effective_grades,
    effective_results,
    latest_regrades,
    max_score,
    optional_reason,
    policy_of,
    row_codes,
    student_courses,
    student_grades,
    weight_of,
    with_codes,
)
from dashboard.models import Course, Override, Regrade, RegradeResult
from grading.scoring import counted_score
from submissions.models import Submission

# --------------------------------------------------------------------------- gradebook


@dataclass
class Row:
    user: Any
    cells: dict[int, Cell]
    lesson_totals: dict[int, float] = field(default_factory=dict)
    total: float = 0.0
    last: datetime | None = None


@dataclass
class Gradebook:
    lessons: list[dict[str, Any]]  # {"lesson", "title", "exercises": [...], "max"}
    exercises: list[Exercise]
    rows: list[Row]
    max_total: float
    policy: Policy = field(default_factory=Policy)  # the course's late policy, applied


def gradebook(
    course: Course, *, lang: str = "en", q: str = "", lesson: str = "", sort: str = "",
    descending: bool = False, only: Any = None,
) -> Gradebook:
    exercises = list(course_exercises(course))
    if lesson:
        exercises = [e for e in exercises if e.lesson.slug == lesson]
    students = list(course_students(course))
    if only is not None:
        students = [u for u in students if u.pk == only.pk]
    if q:
        needle = q.lower()
        students = [
            u for u in students
            if needle in u.username.lower() or needle in (u.get_full_name() or "").lower()
            or needle in (u.email or "").lower()
        ]
    ids = [u.pk for u in students]
    cells = effective_grades(
        exercises, ids,
        Override.objects.filter(course=course, exercise__in=exercises, user_id__in=ids),
        course=course,
    )
    # What the latest finished regrade of each exercise changed.
    seen: set[int] = set()
    for rg in Regrade.objects.filter(
        course=course, exercise__in=exercises, status=Regrade.Status.DONE
    ).order_by("-finished_at", "-id"):
        if rg.exercise_id in seen:
            continue
        seen.add(rg.exercise_id)
        for uid, before in rg.before.items():
            cell = cells.get((int(uid), rg.exercise_id))
            if cell is None or (cell.last and cell.last > rg.created_at):
                continue  # attempts since the regrade: a change is no longer its doing
            if (cell.score or 0.0) != (before or 0.0):
                cell.before, cell.changed = before, True

    maxima = {ex.pk: max_score(ex) for ex in exercises}
    groups: dict[int, dict[str, Any]] = {}
    for ex in exercises:
        g = groups.setdefault(ex.lesson_id, {
            "lesson": ex.lesson, "title": pick_language(ex.lesson.title, lang),
            "exercises": [], "max": 0.0,
        })
        g["exercises"].append(ex)
        g["max"] += maxima[ex.pk] * weight_of(ex)  # optional exercises add nothing
    rows = []
    for user in students:
        row = Row(user=user, cells={
            ex.pk: cells.get((user.pk, ex.pk)) or Cell(max_score=maxima[ex.pk]) for ex in exercises
        })
        for lesson_id, g in groups.items():
            row.lesson_totals[lesson_id] = sum(
                (row.cells[ex.pk].grade or 0.0) * weight_of(ex) for ex in g["exercises"]
            )
        row.total = sum(row.lesson_totals.values())
        row.last = max((c.last for c in row.cells.values() if c.last), default=None)
        rows.append(row)
    _sort(rows, sort, descending, exercises, list(groups.values()))
    return Gradebook(
        lessons=list(groups.values()), exercises=exercises, rows=rows,
        max_total=sum(g["max"] for g in groups.values()), policy=policy_of(course),
    )


def _sort(rows: list[Row], key: str, descending: bool, exercises: list[Exercise],
          lessons: list[dict[str, Any]]) -> None:
    by_slug = {e.slug: e.pk for e in exercises}
    by_lesson = {g["lesson"].slug: g["lesson"].pk for g in lessons}
    epoch = timezone.make_aware(datetime(1970, 1, 1))
    # Ties stay in username order either way (sort is stable, also with reverse=True).
    rows.sort(key=lambda r: r.user.username)
    if key == "total":
        rows.sort(key=lambda r: r.total, reverse=descending)
    elif key == "last":
        rows.sort(key=lambda r: r.last or epoch, reverse=descending)
    elif key.startswith("lesson:") and key[7:] in by_lesson:
        lid = by_lesson[key[7:]]
        rows.sort(key=lambda r: r.lesson_totals.get(lid, 0.0), reverse=descending)
    elif key in by_slug:
        eid = by_slug[key]
        rows.sort(key=lambda r: _grade_key(r.cells[eid].grade), reverse=descending)
    elif descending:
        rows.reverse()


def gradebook_table(book: Gradebook) -> tuple[list[str], list[list[Any]]]:
    """Header and rows for CSV/JSON: identity, each exercise, each lesson total, the
    exercises whose counted grade is late, the late policy applied, total."""
    header = ["username", "name", "email"]
    header += [e.slug for e in book.exercises]
    header += [f"{g['lesson'].slug} total" for g in book.lessons]
    header += ["late", "late policy", "total"]
    policy = f"{book.policy.kind} {book.policy.penalty:g}" if book.policy.kind == "penalty" \
        else str(book.policy.kind)
    lines = []
    for row in book.rows:
        line: list[Any] = [row.user.username, row.user.get_full_name(), row.user.email]
        line += [row.cells[e.pk].grade for e in book.exercises]
        line += [row.lesson_totals[g["lesson"].pk] for g in book.lessons]
        line.append(" ".join(e.slug for e in book.exercises if row.cells[e.pk].late))
        line += [policy, row.total]
        lines.append(line)
    return header, lines


# --------------------------------------------------------------------------- one exercise


def diagnostics_of(verdict: dict[str, Any] | None) -> list[str]:
    """Diagnostic codes in a verdict: failed checks, then the error."""
    if not isinstance(verdict, dict):
        return []
    checks = verdict.get("checks")
    codes = [c.get("diagnostic") for c in checks if isinstance(c, dict) and not c.get("passed")
             ] if isinstance(checks, list) else []
    error = verdict.get("error")
    if isinstance(error, dict):
        codes.append(error.get("diagnostic"))
    # Same rules as codes_of (what lists show), so a list and its detail page agree.
    return [c[:MAX_CODE_LENGTH] for c in codes if isinstance(c, str) and c][:MAX_CODES]


def exercise_stats(course: Course, exercise: Exercise) -> dict[str, Any]:
    students = list(course_students(course).values_list("pk", flat=True))
    rows = effective_results([exercise], students, with_codes_=True)
    by_user: dict[int, list[Effective]] = defaultdict(list)
    for r in rows:
        by_user[r.user_id].append(r)
    # Time to pass counts from the first activity (Run or Submit) on the exercise.
    first_seen: dict[int, datetime] = {}
    for uid, created in Submission.objects.filter(
        exercise=exercise, user_id__in=list(by_user)
    ).order_by("created_at").values_list("user_id", "created_at"):
        first_seen.setdefault(uid, created)
    attempts_to_pass: list[int] = []
    times: list[float] = []
    hits: Counter[str] = Counter()  # students who hit a diagnostic at least once
    hits_subs: Counter[str] = Counter()  # submissions carrying it
    outcomes: Counter[str] = Counter()
    for uid, attempts in by_user.items():
        seen: set[str] = set()
        for r in attempts:
            outcomes[r.outcome] += 1
            codes = set(r.codes or ())
            hits_subs.update(codes)
            seen |= codes
        hits.update(seen)
        first_pass = next((i for i, r in enumerate(attempts, 1) if r.outcome == "passed"), None)
        if first_pass is not None:
            attempts_to_pass.append(first_pass)
            start = first_seen.get(uid, attempts[0].created_at)
            times.append((attempts[first_pass - 1].created_at - start).total_seconds())
    attempted = len(by_user)
    passed = len(attempts_to_pass)
    buckets = Counter(min(n, 10) for n in attempts_to_pass)
    distribution = [
        {"label": f"{n}" if n < 10 else "10+", "value": buckets.get(n, 0)} for n in range(1, 11)
    ]
    while len(distribution) > 5 and distribution[-1]["value"] == 0:
        distribution.pop()
    diagnostics = [
        {"label": code, "value": count, "submissions": hits_subs[code],
         "percent": round(100 * count / attempted) if attempted else 0}
        for code, count in sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    ]
    return {
        "students": len(students),
        "attempted": attempted,
        "passed": passed,
        "pass_rate": round(100 * passed / attempted) if attempted else None,
        "submissions": len(rows),
        # Outside every figure above, but not hidden: attempts the platform refused.
        "refused": Submission.objects.filter(
            exercise=exercise, user_id__in=students, kind=Submission.Kind.SUBMIT,
            outcome=REFUSED,
        ).count(),
        "median_attempts": statistics.median(attempts_to_pass) if attempts_to_pass else None,
        "median_seconds_to_pass": statistics.median(times) if times else None,
        "attempts_distribution": distribution,
        "diagnostics": diagnostics,
        "outcomes": [{"label": k, "value": v} for k, v in outcomes.most_common()],
    }


def humanize_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


# --------------------------------------------------------------------------- submissions


def submission_diff(sub: Submission) -> tuple[Submission | None, list[tuple[str, str]]]:
    """The student's previous attempt on the exercise and a line diff to this one.

    Returns (previous, [(css class, line)]); lines are plain text (the template escapes).
    """
    prev = (
        Submission.objects.filter(
            user_id=sub.user_id, exercise_id=sub.exercise_id, kind=sub.kind,
            created_at__lt=sub.created_at,
        ).defer("verdict").order_by("-created_at", "-id").first()
    )
    if prev is None:
        return None, []
    lines = []
    for line in difflib.unified_diff(
        prev.code.splitlines(), sub.code.splitlines(),
        fromfile=f"attempt #{prev.pk}", tofile=f"attempt #{sub.pk}", lineterm="", n=3,
    ):
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        lines.append((kind, line))
    return prev, lines


# What a list row of submissions shows (browse_submissions, regrade results).
LIST_COLUMNS = (
    "id", "created_at", "kind", "status", "outcome", "score", "max_score",
    "user__id", "user__username", "exercise__id", "exercise__slug",
    "version__id", "version__number",
)


def browse_submissions(
    course: Course, *, student: str = "", exercise: str = "", outcome: str = "",
    diagnostic: str = "", kind: str = "submit", limit: int = 500,
) -> list[dict[str, Any]]:
    # The course's students only (a shared lesson has other courses' students too), and
    # the columns the list shows: no code, no verdict (see the module docstring).
    qs = with_codes(
        course_submissions(course)
        .select_related("user", "exercise", "version")
        .only(*LIST_COLUMNS)
        .order_by("-created_at", "-id")
    )
    if kind in Submission.Kind.values:
        qs = qs.filter(kind=kind)
    if student:
        qs = qs.filter(user__username=student)
    if exercise:
        qs = qs.filter(exercise__slug=exercise)
    rows = list(qs[: limit * 4 if (outcome or diagnostic) else limit])
    regrades = latest_regrades([s.pk for s in rows], with_codes_=True)
    out = []
    for s in rows:
        rg = regrades.get(s.pk)
        eff_outcome = rg.outcome if rg else s.outcome
        codes = row_codes(rg if rg else s)
        if outcome and eff_outcome != outcome:
            continue
        if diagnostic and diagnostic not in codes:
            continue
        out.append({
            "sub": s, "outcome": eff_outcome,
            "score": counted_score(eff_outcome, rg.score if rg else s.score),
            "max_score": rg.max_score if rg else s.max_score, "diagnostics": codes,
            "regraded": rg is not None, "original_outcome": s.outcome,
            "original_score": counted_score(s.outcome, s.score),
        })
        if len(out) >= limit:
            break
    return out


# --------------------------------------------------------------------------- queues


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def queue_health(now: datetime | None = None) -> dict[str, Any]:
    from submissions import workers

    now = now or timezone.now()
    data: dict[str, Any] = {"queues": {}, "redis": "ok"}
    try:
        client = workers.redis_client()
        live = workers.online()
        for queue in (*workers.QUEUES, *workers.BULK_QUEUES):
            depth = int(client.llen(queue))
            data["queues"][queue] = {"depth": depth, "workers": live.get(queue, 0)}
    except Exception as exc:  # Redis down: say so rather than fail the page
        data["redis"] = f"down: {type(exc).__name__}"
        for queue in (*workers.QUEUES, *workers.BULK_QUEUES):
            data["queues"][queue] = {"depth": None, "workers": None}
    since = now - timedelta(hours=1)
    pairs = Submission.objects.filter(
        status=Submission.Status.GRADED, finished_at__gte=since, started_at__isnull=False
    ).values_list("created_at", "finished_at")
    seconds = [(f - c).total_seconds() for c, f in pairs if f is not None]
    data["last_hour"] = {
        "graded": len(seconds),
        "median_seconds": statistics.median(seconds) if seconds else None,
        "p95_seconds": percentile(seconds, 95),
    }
    waiting = Submission.objects.filter(status=Submission.Status.QUEUED).order_by("created_at")
    oldest = waiting.values_list("created_at", flat=True).first()
    data["db"] = {
        "queued": waiting.count(),
        "running": Submission.objects.filter(status=Submission.Status.RUNNING).count(),
        "oldest_queued_seconds": (now - oldest).total_seconds() if oldest else None,
    }
    return data


def lessons_overview(course: Course, lang: str) -> list[dict[str, Any]]:
    from dashboard.models import ExerciseDraft

    drafts = {d.slug: d for d in ExerciseDraft.objects.all()}
    out = []
    for lesson in course_lessons(course).prefetch_related("exercises"):
        exercises = [
            {"exercise": e, "draft": drafts.pop(e.slug, None),
             "title": pick_language(e.current_version.data.get("title", {}), lang)
             if e.current_version else e.slug}
            for e in lesson.exercises.select_related("current_version").all()
        ]
        new = [d for d in list(drafts.values()) if d.lesson_id == lesson.pk]
        out.append({"lesson": lesson, "title": pick_language(lesson.title, lang),
                    "exercises": exercises, "new_drafts": new})
    return out


def regrade_result_rows(regrade: Regrade, limit: int = 200) -> QuerySet[RegradeResult]:
    """A regrade's finished results for its page: no verdicts, no code."""
    return (
        regrade.results.exclude(status__in=["pending", "running"])
        .select_related("submission__user")
        .only("id", "status", "outcome", "score", "previous_outcome", "previous_score",
              "submission__id", "submission__user__id", "submission__user__username")
        [:limit]
    )


def _grade_key(grade: float | None) -> float:
    """Sort key: an exercise never attempted sorts below a zero."""
    return -1.0 if grade is None else grade
