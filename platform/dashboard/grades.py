"""THE effective grade: one rule, read by every page, the CSV and the dashboard API.

A submission's *effective* result is its latest finished regrade result if it has one,
else the result the student got, scored by the score rule (grading/scoring.py: only a run
that reached the end counts, also for rows graded before the rule). An attempt the platform
refused (outcome `rejected`: bad code, a forbidden call, superseded) is no attempt: it is
left out of grades, attempt counts and statistics. A student's grade on an exercise
(`Cell.grade`) is their override if one is set, else the best effective score over their
graded submissions; `Cell.passed` is the override's full marks if one is set, else whether
an effective result passed. `effective_grades` computes it for the gradebook (and so My
grades, the CSV and the API), `student_grades` for the student's own pages (the lesson
page, the course index, via courses/selectors.py). See docs/grading.md, "The score rule".

Lists never load whole verdicts (or code): a verdict can be large, and a page listing
hundreds of them must not pull them all into the web process. What a list needs of a
verdict, its diagnostic codes, the database extracts (`with_codes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Expression, F, Func, JSONField, Max, Q, QuerySet
from django.db.models.fields.json import KT

from courses.models import Exercise
from dashboard.access import STUDENT, role_of
from dashboard.models import Course, Override, RegradeResult
from grading.scoring import counted_score
from submissions.models import Submission

# Refused before running: never an attempt, never in a grade or a statistic.
REFUSED = "rejected"

# --------------------------------------------------------------------------- verdict codes

MAX_CODES = 50  # diagnostic codes kept per verdict in a list row
MAX_CODE_LENGTH = 80


class FailedCheckCodes(Func):
    """The `diagnostic` of every failed check in a verdict, as a JSON array, computed in
    the database so that the verdict itself never leaves it (SQLite and PostgreSQL)."""

    output_field = JSONField()

    def __init__(self, verdict: Expression | str, **extra: Any) -> None:
        super().__init__(F(verdict) if isinstance(verdict, str) else verdict, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        v, params = compiler.compile(self.source_expressions[0])
        # Paths into the verdict itself (c.fullkey), not json_extract(c.value): a check
        # that is not an object must give NULL, not a "malformed JSON" error.
        sql = (
            f"(SELECT json_group_array(json_extract({v}, c.fullkey || '.diagnostic')) "
            f"FROM json_each({v}, '$.checks') AS c "
            f"WHERE json_type({v}, c.fullkey || '.diagnostic') = 'text' "
            f"AND NOT COALESCE(json_extract({v}, c.fullkey || '.passed'), 0))"
        )
        return sql, [*params, *params, *params, *params]

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any
                      ) -> tuple[str, list[Any]]:
        v, params = compiler.compile(self.source_expressions[0])
        path = ('$.checks[*] ? (!(exists(@.passed ? (@ == true)))).diagnostic '
                '? (@.type() == "string")')
        return f"COALESCE(jsonb_path_query_array({v}, '{path}'), '[]'::jsonb)", params


def with_codes(qs: QuerySet[Any]) -> QuerySet[Any]:
    """Annotate `check_codes` and `error_code` from the row's verdict (never loading it)."""
    return qs.annotate(check_codes=FailedCheckCodes("verdict"),
                       error_code=KT("verdict__error__diagnostic"))


def row_codes(row: Any) -> list[str]:
    """`codes_of` for a model row annotated by `with_codes` (the attributes are dynamic)."""
    return codes_of(row.check_codes, row.error_code)


def codes_of(check_codes: Any, error_code: Any) -> list[str]:
    """The list `diagnostics_of` gives, from the annotations of `with_codes`."""
    codes = [c for c in (check_codes if isinstance(check_codes, list) else [])]
    codes.append(error_code)
    return [c[:MAX_CODE_LENGTH] for c in codes if isinstance(c, str) and c][:MAX_CODES]


@dataclass
class Effective:
    submission_id: int
    user_id: int
    exercise_id: int
    created_at: datetime
    outcome: str
    score: float | None
    max_score: float
    codes: list[str] | None  # diagnostic codes, when asked for
    regraded: bool = False


def latest_regrades(
    submission_ids: list[int] | None = None, *, with_codes_: bool = False,
    with_verdicts: bool = False,
) -> dict[int, RegradeResult]:
    """The latest finished regrade result per submission id, without its verdict (a row's
    `.verdict` is then read on access, one query: fine for one, not for a list).
    With `with_codes_`, each row has `check_codes` and `error_code` (see `codes_of`); with
    `with_verdicts` (a student's own few attempts only), the verdicts and versions too."""
    rows = RegradeResult.objects.filter(status=RegradeResult.Status.DONE).order_by(
        "submission_id", "finished_at", "id"
    )
    rows = rows.select_related("version") if with_verdicts else rows.defer("verdict")
    if submission_ids is not None:
        rows = rows.filter(submission_id__in=submission_ids)
    if with_codes_:
        rows = with_codes(rows)
    return {r.submission_id: r for r in rows}


def effective_results(
    exercises: list[Exercise], user_ids: list[int] | None = None, *, with_codes_: bool = False
) -> list[Effective]:
    """Graded Submit attempts on these exercises, oldest first, regrades and the score
    rule applied; refused ones (outcome `rejected`) left out.

    With `with_codes_`, each result carries its diagnostic codes (extracted by the database).
    """
    qs = Submission.objects.filter(
        exercise__in=exercises, kind=Submission.Kind.SUBMIT, status=Submission.Status.GRADED
    ).exclude(outcome=REFUSED).order_by("created_at", "id")
    if user_ids is not None:
        qs = qs.filter(user_id__in=user_ids)
    columns = ["id", "user_id", "exercise_id", "created_at", "outcome", "score", "max_score"]
    if with_codes_:
        qs = with_codes(qs)
        columns += ["check_codes", "error_code"]
    rows = list(qs.values(*columns))
    regrades = latest_regrades([r["id"] for r in rows], with_codes_=with_codes_)
    out = []
    for r in rows:
        rg = regrades.get(r["id"])
        if rg is not None:
            codes = row_codes(rg) if with_codes_ else None
            out.append(Effective(r["id"], r["user_id"], r["exercise_id"], r["created_at"],
                                 rg.outcome, counted_score(rg.outcome, rg.score), rg.max_score,
                                 codes, regraded=True))
        else:
            codes = codes_of(r["check_codes"], r["error_code"]) if with_codes_ else None
            out.append(Effective(r["id"], r["user_id"], r["exercise_id"], r["created_at"],
                                 r["outcome"], counted_score(r["outcome"], r["score"]),
                                 r["max_score"], codes))
    return out


def best_effective(exercise: Exercise, user_ids: list[int] | None = None) -> dict[int, float]:
    """Best effective score per user id on one exercise (overrides not applied)."""
    best: dict[int, float] = {}
    for row in effective_results([exercise], user_ids):
        best[row.user_id] = max(best.get(row.user_id, 0.0), row.score or 0.0)
    return best


# --------------------------------------------------------------------------- effective grades


@dataclass
class Cell:
    """One student's effective grade on one exercise."""

    score: float | None = None  # best effective score of the graded attempts; None: none yet
    attempts: int = 0  # Submit attempts; refused ones (outcome `rejected`) are none
    last: datetime | None = None  # last activity, Run included
    graded_passed: bool = False  # an effective result passed
    override: Override | None = None
    max_score: float = 0.0
    before: float | None = None  # best score before the latest regrade, when it changed it
    changed: bool = False

    @property
    def grade(self) -> float | None:
        """What counts: the override if one is set, else the best effective score."""
        return self.override.score if self.override is not None else self.score

    @property
    def passed(self) -> bool:
        """An override decides (full marks or not), else whether an attempt passed."""
        if self.override is not None:
            return self.max_score > 0 and self.override.score >= self.max_score
        return self.graded_passed

    @property
    def delta(self) -> str:
        if not self.changed:
            return ""
        return "up" if (self.score or 0) > (self.before or 0) else "down"


def max_score(exercise: Exercise) -> float:
    return float(exercise.current_version.spec.max_score) if exercise.current_version else 0.0


def effective_grades(
    exercises: list[Exercise], user_ids: list[int], overrides: Any = ()
) -> dict[tuple[int, int], Cell]:
    """THE effective grade, per (user id, exercise id) with any activity or override.

    Regrades and the score rule applied (`effective_results`), refused attempts not
    counted, and `overrides` (Override rows; a later one wins over an earlier one for the
    same cell) on top. Reads no verdict and no code."""
    maxima: dict[int, float] = {}
    by_id = {e.pk: e for e in exercises}
    cells: dict[tuple[int, int], Cell] = {}

    def cell(user_id: int, exercise_id: int) -> Cell:
        found = cells.get((user_id, exercise_id))
        if found is None:
            if exercise_id not in maxima:
                maxima[exercise_id] = max_score(by_id[exercise_id])
            found = cells[(user_id, exercise_id)] = Cell(max_score=maxima[exercise_id])
        return found

    for row in effective_results(exercises, user_ids):
        c = cell(row.user_id, row.exercise_id)
        c.score = max(c.score or 0.0, row.score or 0.0)
        c.graded_passed = c.graded_passed or row.outcome == "passed"
    # Attempts count Submits the platform took (in flight ones too); activity counts Run
    # and refused code as well.
    taken = Q(kind=Submission.Kind.SUBMIT) & ~Q(outcome=REFUSED)
    for r in (
        Submission.objects.filter(exercise__in=exercises, user_id__in=user_ids)
        .values("user_id", "exercise_id")
        .annotate(n=Count("id", filter=taken), last=Max("created_at"))
    ):
        c = cell(r["user_id"], r["exercise_id"])
        c.attempts += r["n"]
        c.last = max(filter(None, [c.last, r["last"]]), default=None)
    for o in overrides:
        if o.exercise_id in by_id:
            cell(o.user_id, o.exercise_id).override = o
    return cells


def student_courses(user: Any) -> list[Course]:
    """The courses in which `user` is a student (`role_of` decides)."""
    if not user.is_authenticated:
        return []
    candidates = Course.objects.filter(Q(members__user=user) | Q(is_default=True)).distinct()
    return [c for c in candidates if role_of(user, c) == STUDENT]


def student_grades(user: Any, exercises: list[Exercise]) -> dict[int, Cell]:
    """One student's effective grades by exercise id, for their own pages (the lesson
    page, the course index): the overrides of the courses they study in apply, the most
    recently set one where two courses set one."""
    overrides = Override.objects.filter(
        user_id=user.pk, exercise__in=exercises, course__in=student_courses(user)
    ).order_by("updated_at", "id")
    cells = effective_grades(exercises, [user.pk], overrides)
    return {exercise_id: c for (_, exercise_id), c in cells.items()}
