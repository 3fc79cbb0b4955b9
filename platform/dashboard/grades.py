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

Deadlines and the late policy (docs/instructors.md, "Deadlines and late work") apply here
and nowhere else: a Submit made after its deadline (the exercise's `due`, else its
lesson's, else the student's extension on the lesson) is `late`; it stays graded and
shown, and the score it counts for is the course's policy applied (`Policy.apply`).
Optional exercises and weights (`counts`, `weight_of`) decide what the totals add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, Expression, F, Func, JSONField, Max, Q, QuerySet
from django.db.models.fields.json import KT
from django.utils.translation import gettext as _

from courses.models import Exercise, Lesson
from dashboard.access import STUDENT, role_of
from dashboard.models import Course, Extension, Override, RegradeResult
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
    late: bool = False  # made after its deadline (`Deadlines`)
    earned: float | None = None  # the score before the late policy (= score when on time)


# --------------------------------------------------------------------------- deadlines


@dataclass(frozen=True)
class Policy:
    """A course's late policy: what a late attempt's score counts for."""

    kind: str = Course.LatePolicy.ACCEPT
    penalty: float = 0.0  # fraction taken off (PENALTY)

    def apply(self, score: float | None) -> float | None:
        if score is None:
            return None
        if self.kind == Course.LatePolicy.NO_CREDIT:
            return 0.0
        if self.kind == Course.LatePolicy.PENALTY:
            return score * (1.0 - min(max(self.penalty, 0.0), 1.0))
        return score

    @property
    def late_passes(self) -> bool:
        """Whether a late pass counts as passed (not when it earns nothing)."""
        return self.kind != Course.LatePolicy.NO_CREDIT

    def describe(self) -> str:
        if self.kind == Course.LatePolicy.NO_CREDIT:
            return _("Late work: no credit after the deadline.")
        if self.kind == Course.LatePolicy.PENALTY:
            return _("Late work: %(percent)s%% off after the deadline.") % {
                "percent": f"{self.penalty * 100:g}"}
        return _("Late work: accepted in full.")


def policy_of(course: Course | None) -> Policy:
    if course is None:
        return Policy()
    return Policy(course.late_policy, course.late_penalty)


@dataclass
class Deadlines:
    """Who must submit what by when, in one course: the policy and each deadline."""

    policy: Policy
    due: dict[int, datetime | None]  # exercise id -> its own due, else its lesson's
    extended: dict[tuple[int, int], datetime]  # (user id, lesson id) -> extension
    lesson_of: dict[int, int]  # exercise id -> lesson id

    def due_for(self, user_id: int, exercise_id: int) -> datetime | None:
        """The student's deadline: their extension on the lesson wins, else the due."""
        extension = self.extended.get((user_id, self.lesson_of.get(exercise_id, 0)))
        return extension if extension is not None else self.due.get(exercise_id)

    def is_late(self, user_id: int, exercise_id: int, when: datetime) -> bool:
        due = self.due_for(user_id, exercise_id)
        return due is not None and when > due


def deadlines(course: Course | None, exercises: list[Exercise],
              user_ids: list[int] | None = None) -> Deadlines:
    """The deadlines of these exercises in `course` (its policy, its extensions)."""
    lessons = {e.pk: e.lesson_id for e in exercises}
    lesson_due = dict(Lesson.objects.filter(pk__in=set(lessons.values()))
                      .values_list("pk", "due"))
    extended: dict[tuple[int, int], datetime] = {}
    if course is not None:
        rows = Extension.objects.filter(course=course, lesson_id__in=set(lessons.values()))
        if user_ids is not None:
            rows = rows.filter(user_id__in=user_ids)
        extended = {(x.user_id, x.lesson_id): x.due for x in rows}
    return Deadlines(
        policy=policy_of(course),
        due={e.pk: e.due or lesson_due.get(e.lesson_id) for e in exercises},
        extended=extended, lesson_of=lessons,
    )


# --------------------------------------------------------------------------- optional, weight


def served_queues() -> set[str]:
    """Exercise queues this deployment runs workers for (settings.SERVED_QUEUES)."""
    return set(settings.SERVED_QUEUES)


def unserved(exercise: Exercise) -> bool:
    """No worker for its queue here (a gpu exercise without a GPU): optional automatically."""
    queue = exercise.current_version.spec.queue if exercise.current_version else "cpu"
    if queue == "any":
        return not served_queues()
    return queue not in served_queues()


def counts(exercise: Exercise) -> bool:
    """Whether the exercise counts in totals and in a lesson's "x of n"."""
    return not exercise.optional and not unserved(exercise)


def weight_of(exercise: Exercise) -> float:
    """Its factor in the totals: 0 for an optional exercise, else its `weight`."""
    return exercise.weight if counts(exercise) else 0.0


def optional_reason(exercise: Exercise) -> str:
    """Why an exercise does not count, for the student ("" when it counts)."""
    if unserved(exercise):
        return _("Optional here: this server has no worker for its queue (%(queue)s), so it "
                 "cannot be graded and does not count.") % {
            "queue": exercise.current_version.spec.queue if exercise.current_version else ""}
    if exercise.optional:
        return _("Optional: a bonus exercise; it does not count in your totals.")
    return ""


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
    exercises: list[Exercise], user_ids: list[int] | None = None, *, with_codes_: bool = False,
    due: Deadlines | None = None,
) -> list[Effective]:
    """Graded Submit attempts on these exercises, oldest first, regrades and the score
    rule applied; refused ones (outcome `rejected`) left out.

    With `with_codes_`, each result carries its diagnostic codes (extracted by the database).
    With `due`, a late attempt is marked `late` and its score is the late policy's.
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
    for row in out:
        row.earned = row.score
        if due is not None and due.is_late(row.user_id, row.exercise_id, row.created_at):
            row.late, row.score = True, due.policy.apply(row.score)
    return out


def best_effective(exercise: Exercise, user_ids: list[int] | None = None,
                   course: Course | None = None) -> dict[int, float]:
    """Best effective score per user id on one exercise (overrides not applied; the late
    policy of `course` applied when one is given)."""
    best: dict[int, float] = {}
    due = deadlines(course, [exercise], user_ids) if course is not None else None
    for row in effective_results([exercise], user_ids, due=due):
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
    due: datetime | None = None  # this student's deadline (extension applied)
    late_attempts: int = 0  # graded attempts made after the deadline
    late: bool = False  # the score counted comes from a late attempt (policy applied)

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
    exercises: list[Exercise], user_ids: list[int], overrides: Any = (),
    course: Course | None = None,
) -> dict[tuple[int, int], Cell]:
    """THE effective grade, per (user id, exercise id) with any activity or override.

    Regrades and the score rule applied (`effective_results`), refused attempts not
    counted, the late policy of `course` applied to late attempts (a late pass counts as
    passed unless the policy gives it no credit), and `overrides` (Override rows; a later
    one wins over an earlier one for the same cell) on top. Reads no verdict and no code."""
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

    due = deadlines(course, exercises, user_ids)
    for row in effective_results(exercises, user_ids, due=due):
        c = cell(row.user_id, row.exercise_id)
        score = row.score or 0.0
        if c.score is None or score > c.score:  # ties: the earlier (on-time) attempt counts
            c.late = row.late
        c.score = max(c.score or 0.0, score)
        c.late_attempts += row.late
        passed = row.outcome == "passed" and (not row.late or due.policy.late_passes)
        c.graded_passed = c.graded_passed or passed
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
    for (user_id, exercise_id), c in cells.items():
        c.due = due.due_for(user_id, exercise_id)
    return cells


def student_courses(user: Any) -> list[Course]:
    """The courses in which `user` is a student (`role_of` decides)."""
    if not user.is_authenticated:
        return []
    candidates = Course.objects.filter(Q(members__user=user) | Q(is_default=True)).distinct()
    return [c for c in candidates if role_of(user, c) == STUDENT]


def home_course(courses: list[Course]) -> Course | None:
    """The course whose deadlines a student's own pages follow: a course of their own
    before the default one (which holds every lesson)."""
    return next((c for c in courses if not c.is_default), courses[0] if courses else None)


def student_grades(user: Any, exercises: list[Exercise]) -> dict[int, Cell]:
    """One student's effective grades by exercise id, for their own pages (the lesson
    page, the course index): the overrides of the courses they study in apply, the most
    recently set one where two courses set one; the deadlines and late policy are those
    of `home_course`."""
    courses = student_courses(user)
    overrides = Override.objects.filter(
        user_id=user.pk, exercise__in=exercises, course__in=courses
    ).order_by("updated_at", "id")
    cells = effective_grades(exercises, [user.pk], overrides, course=home_course(courses))
    return {exercise_id: c for (_, exercise_id), c in cells.items()}


def student_deadlines(user: Any, exercises: list[Exercise]) -> Deadlines:
    """The deadlines a student's own pages show (`home_course`'s, extensions included)."""
    return deadlines(home_course(student_courses(user)), exercises, [user.pk])


def course_extensions(course: Course) -> list[Extension]:
    """The extensions given in `course`, by lesson then student (the deadlines page)."""
    return list(Extension.objects.filter(course=course).select_related("user", "lesson"))
