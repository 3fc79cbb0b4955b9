"""Writes for the dashboard: regrades, overrides, drafts, validations, publishing."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from courses.models import Exercise, Lesson
from courses.services import exercise_publish
from dashboard import authoring
from dashboard.access import course_students
from dashboard.models import (
    Course,
    ExerciseDraft,
    Extension,
    Override,
    Regrade,
    RegradeResult,
    Validation,
)
from dashboard.selectors import best_effective, latest_regrades
from grading.code import code_problem
from grading.spec import ExerciseSpec
from lti import hooks as lti_hooks
from submissions import jobs
from submissions.models import Submission

log = logging.getLogger(__name__)


def celery_queue(queue: str) -> str:
    """The Celery queue for an exercise queue ("any" runs on cpu)."""
    return "gpu" if queue == "gpu" else "cpu"


def bulk_queue(queue: str) -> str:
    """The low-priority Celery queue for an exercise queue: `cpu-bulk` or `gpu-bulk`.

    The same workers consume it, after their own queue (`-Q cpu,cpu-bulk` with the Redis
    transport's `priority` order, settings.py): a free slot always takes a student's
    submission first, so a regrade delays a Submit by at most the runs already started.
    """
    return celery_queue(queue) + settings.BULK_QUEUE_SUFFIX


# Regrade results and validations are jobs like submissions (submissions.jobs): the same
# claim, publishing, retry limit and sweeper.
REGRADE_JOB = jobs.Kind(RegradeResult, waiting=RegradeResult.Status.PENDING)
VALIDATION_JOB = jobs.Kind(Validation, waiting=Validation.Status.QUEUED)


# --------------------------------------------------------------------------- regrade


class RegradeBusy(Exception):
    """Another regrade of the exercise is running: regrades of one exercise run one at a
    time. The message says which and what to do."""


def regrade_start(
    *, course: Course, exercise: Exercise, by: Any, student: Any = None
) -> Regrade:
    """Grade every graded Submit attempt of the exercise (or of one student) again,
    against the exercise's current version, in the background.

    At most one regrade per exercise runs at a time. A request that the running one already
    covers (same course, same version, every student or this student) gets the running one
    back; any other request raises RegradeBusy.
    """
    with transaction.atomic():
        # The exercise row's lock decides two simultaneous requests one after the other.
        list(Exercise.objects.select_for_update().filter(pk=exercise.pk).values_list("pk"))
        exercise.refresh_from_db(fields=["current_version"])
        version = exercise.current_version
        assert version is not None
        running = (Regrade.objects.filter(exercise=exercise, status=Regrade.Status.RUNNING)
                   .select_related("version").order_by("created_at", "id").first())
        if running is None:
            return _regrade_create(course=course, exercise=exercise, version=version, by=by,
                                   student=student)
    # Outside the transaction: what `_join_running` queues again must not be rolled back
    # with the refusal.
    return _join_running(running, course=course, version=version, student=student)


def _regrade_create(*, course: Course, exercise: Exercise, version: Any, by: Any,
                    student: Any) -> Regrade:
    from dashboard.tasks import regrade_submission

    with transaction.atomic():
        students = course_students(course)
        if student is not None:
            students = students.filter(pk=student.pk)
        user_ids = list(students.values_list("pk", flat=True))
        subs = list(
            Submission.objects.filter(
                exercise=exercise, user_id__in=user_ids, kind=Submission.Kind.SUBMIT,
                status=Submission.Status.GRADED,
            ).order_by("created_at", "id")
        )
        # Code refused before running (too big, not text) would be refused again: keep it.
        subs = [s for s in subs if code_problem(s.code) is None]
        current = latest_regrades([s.pk for s in subs])
        regrade = Regrade.objects.create(
            course=course, exercise=exercise, version=version, student=student, created_by=by,
            total=len(subs),
            before={str(k): v for k, v in best_effective(exercise, user_ids, course).items()},
        )
        results = RegradeResult.objects.bulk_create(
            RegradeResult(
                regrade=regrade, submission=s, version=version, max_score=version.spec.max_score,
                previous_outcome=current[s.pk].outcome if s.pk in current else s.outcome,
                previous_score=current[s.pk].score if s.pk in current else s.score,
            )
            for s in subs
        )
        if not results:
            regrade.status = Regrade.Status.DONE
            regrade.finished_at = timezone.now()
            regrade.save(update_fields=["status", "finished_at"])
        queue = bulk_queue(version.spec.queue)
        for result in results:
            jobs.publish_on_commit(regrade_submission, result.pk, queue)
    return regrade


def _join_running(running: Regrade, *, course: Course, version: Any, student: Any) -> Regrade:
    """The running regrade if it does what was asked, else RegradeBusy (see regrade_start)."""
    resent = regrade_resume_if_stalled(running)
    if running.course_id != course.pk:
        # Another course shares the exercise: say no more about its regrade than that.
        raise RegradeBusy(
            f"A regrade of {running.exercise.slug} for another course is running; regrades "
            "of one exercise run one at a time. Try again when it has finished."
        )
    covers = running.student_id is None or (
        student is not None and running.student_id == student.pk)
    if covers and running.version_id == version.pk:
        return running
    note = " It looked stuck, so its remaining work was queued again." if resent else ""
    raise RegradeBusy(
        f"Regrade #{running.pk} of {running.exercise.slug} (version {running.version.number}, "
        f"{running.done + running.failed} of {running.total} done) is still running; "
        f"regrades of one exercise run one at a time. Start this one when it has finished."
        f"{note}"
    )


def regrade_resume_if_stalled(regrade: Regrade, now: Any = None, *,
                              send: Any = jobs.publish_on_commit) -> int:
    """Queue again the unfinished results of a regrade that made no progress for
    REGRADE_STALL_SECONDS (its messages lost: Redis restarted empty, the broker was down
    when it started). Duplicates are harmless: a result is claimed by a conditional UPDATE.
    Returns how many results were queued again. (`send`: the sweeper publishes at once.)"""
    from dashboard.tasks import regrade_submission

    now = now or timezone.now()
    stall = timedelta(seconds=settings.REGRADE_STALL_SECONDS)
    if regrade.status != Regrade.Status.RUNNING or regrade.created_at > now - stall:
        return 0
    last = regrade.results.aggregate(started=Max("started_at"), finished=Max("finished_at"))
    if any(at is not None and at > now - stall for at in last.values()):
        return 0
    unfinished = regrade.results.filter(
        Q(status=RegradeResult.Status.PENDING)
        | Q(status=RegradeResult.Status.RUNNING,
            started_at__lt=now - jobs.running_deadline())
    ).values_list("pk", flat=True)
    queue = bulk_queue(regrade.version.spec.queue)
    ids = list(unfinished)
    for pk in ids:
        send(regrade_submission, pk, queue)
    if ids:
        log.warning("regrade %s made no progress for %s; queued %d results again",
                    regrade.pk, stall, len(ids))
    return len(ids)


def regrade_result_finish(result: RegradeResult, verdict: dict[str, Any] | None, *,
                          error: str = "") -> None:
    """Store one result and advance the job's progress (exactly once per result)."""
    now = timezone.now()
    if verdict is not None:
        changed = jobs.held(REGRADE_JOB, result).update(
            status=RegradeResult.Status.DONE, outcome=verdict["outcome"],
            score=verdict.get("score"), max_score=verdict.get("max_score", result.max_score),
            verdict=verdict, finished_at=now,
        )
        counter = {"done": F("done") + 1}
    else:
        changed = jobs.held(REGRADE_JOB, result).update(
            status=RegradeResult.Status.FAILED, verdict={"error": error}, finished_at=now)
        counter = {"failed": F("failed") + 1}
    if changed != 1:
        return  # another claim finished it (a re-delivered task, or the sweeper)
    Regrade.objects.filter(pk=result.regrade_id).update(**counter)
    if verdict is not None and lti_hooks.lti_in_use():  # the grade may have moved: tell the LMS
        regrade = Regrade.objects.select_related("exercise").get(pk=result.regrade_id)
        user_id = Submission.objects.filter(pk=result.submission_id).values_list(
            "user_id", flat=True).first()
        lti_hooks.grades_changed(course_id=regrade.course_id, user_id=user_id,
                                 lesson_id=regrade.exercise.lesson_id,
                                 exercise_id=regrade.exercise_id)
    Regrade.objects.filter(
        pk=result.regrade_id, status=Regrade.Status.RUNNING,
        done__gte=F("total") - F("failed"),
    ).update(status=Regrade.Status.DONE, finished_at=now)


def regrade_changes(regrade: Regrade) -> list[dict[str, Any]]:
    """Students whose best score on the exercise differs from before the regrade."""
    from django.contrib.auth import get_user_model

    after = best_effective(regrade.exercise, [int(k) for k in regrade.before], regrade.course)
    users = get_user_model().objects.in_bulk([int(k) for k in regrade.before])
    out = []
    for uid, before in regrade.before.items():
        now = after.get(int(uid), 0.0)
        if (before or 0.0) != now and int(uid) in users:
            out.append({"user": users[int(uid)], "before": before, "after": now})
    return sorted(out, key=lambda r: r["user"].username)


# --------------------------------------------------------------------------- overrides


def override_set(*, course: Course, user: Any, exercise: Exercise, score: float, comment: str,
                 by: Any) -> Override:
    max_score = exercise.current_version.spec.max_score if exercise.current_version else 0
    if not 0 <= score <= max_score:
        raise ValueError(f"The score must be between 0 and {max_score:g}.")
    override, _ = Override.objects.update_or_create(
        course=course, user=user, exercise=exercise,
        defaults={"score": score, "comment": comment.strip(), "set_by": by},
    )
    lti_hooks.grades_changed(course_id=course.pk, user_id=user.pk,
                             lesson_id=exercise.lesson_id, exercise_id=exercise.pk)
    return override


def override_clear(*, course: Course, user: Any, exercise: Exercise) -> None:
    if Override.objects.filter(course=course, user=user, exercise=exercise).delete()[0]:
        lti_hooks.grades_changed(course_id=course.pk, user_id=user.pk,
                                 lesson_id=exercise.lesson_id, exercise_id=exercise.pk)


# --------------------------------------------------------------------------- deadlines


def late_policy_set(*, course: Course, kind: str, penalty: float = 0.0) -> Course:
    """Set what late attempts earn in `course`; raise ValueError (and change nothing) on
    an unknown kind or a penalty outside 0..1."""
    if kind not in Course.LatePolicy.values:
        raise ValueError(f"Unknown late policy {kind!r}.")
    if kind == Course.LatePolicy.PENALTY and not 0 < penalty <= 1:
        raise ValueError("The penalty must be a fraction above 0 and at most 1 (0.2 = 20% off).")
    course.late_policy = kind
    course.late_penalty = penalty if kind == Course.LatePolicy.PENALTY else 0.0
    course.save(update_fields=["late_policy", "late_penalty"])
    lti_hooks.grades_changed(course_id=course.pk)  # late scores move for everyone
    return course


def extension_set(*, course: Course, user: Any, lesson: Lesson, due: Any, comment: str,
                  by: Any) -> Extension:
    """Give one student of `course` a later deadline on one lesson (replacing any earlier
    extension). The caller checks that `user` studies in the course and `lesson` is in it."""
    if due is None or timezone.is_naive(due):
        raise ValueError("The new deadline needs a date, a time and a time zone.")
    extension, _ = Extension.objects.update_or_create(
        course=course, user=user, lesson=lesson,
        defaults={"due": due, "comment": comment.strip(), "set_by": by},
    )
    lti_hooks.grades_changed(course_id=course.pk, user_id=user.pk, lesson_id=lesson.pk)
    return extension


def extension_clear(*, course: Course, pk: int) -> None:
    extension = Extension.objects.filter(course=course, pk=pk).first()
    if extension is not None:
        extension.delete()
        lti_hooks.grades_changed(course_id=course.pk, user_id=extension.user_id,
                                 lesson_id=extension.lesson_id)


# --------------------------------------------------------------------------- authoring


def draft_save(*, lesson: Lesson, fields: dict[str, str], by: Any) -> ExerciseDraft:
    """Keep what the author typed; record the spec if the loader accepts it."""
    spec, problems = authoring.check_exercise(lesson, fields)
    draft, _ = ExerciseDraft.objects.update_or_create(
        slug=fields["slug"].strip(),
        defaults={"lesson": lesson, "fields": fields, "updated_by": by,
                  "spec": spec.to_dict() if spec else None, "problems": problems},
    )
    return draft


def spec_hash(data: dict[str, Any]) -> str:
    raw = json.dumps({**data, "version": ""}, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()


def validation_start(*, spec: ExerciseSpec, by: Any) -> Validation:
    """Queue check_lessons for one spec: a worker runs it like any submission."""
    from dashboard.tasks import validate_exercise

    data = replace(spec, version="").to_dict()
    with transaction.atomic():
        validation = Validation.objects.create(
            slug=spec.slug, spec=data, spec_hash=spec_hash(data),
            queue=celery_queue(spec.queue), created_by=by, queued_at=timezone.now(),
        )
        jobs.publish_on_commit(validate_exercise, validation.pk, validation.queue)
    return validation


def validation_claim(validation_id: int, worker: str = "") -> Validation | None:
    if not jobs.claim(VALIDATION_JOB, validation_id, worker):
        return None
    return Validation.objects.get(pk=validation_id)


def validation_finish(validation: Validation, report: dict[str, Any]) -> bool:
    """Store the report while this claim still holds the validation."""
    return jobs.held(VALIDATION_JOB, validation).update(
        status=Validation.Status.DONE, passed=bool(report.get("ok")), report=report,
        finished_at=timezone.now(),
    ) == 1


def _validation_gave_up(why: str) -> dict[str, Any]:
    return {"ok": False, "problems": [f"the grader could not validate this draft: {why}; "
                                      "validate it again"]}


def regrade_result_retry(result: RegradeResult, **fields: Any) -> bool:
    """Hand a result this claim holds back to its queue (a platform failure, a lost worker)."""
    from dashboard.tasks import regrade_submission

    back = jobs.release(REGRADE_JOB, result, **fields)
    if back:
        jobs.publish(regrade_submission, result.pk, bulk_queue(result.version.spec.queue))
    return back


# --------------------------------------------------------------------------- the sweeper


def sweep_dashboard_jobs(now: Any = None, limit: int = 500) -> jobs.SweepReport:
    """What submissions.services.sweep does for submissions, for regrade results and
    validations (jobs.sweep runs both):

    - a result or validation running on a worker whose heartbeat is gone, or past the
      running deadline: back to waiting and published again, or given up (failed, with
      the reason) after SUBMISSION_MAX_TRIES claims;
    - a running regrade with no progress for REGRADE_STALL_SECONDS: its waiting results
      are published again (their messages were lost);
    - a validation queued past SUBMISSION_QUEUED_DEADLINE: published again, given up after
      SUBMISSION_MAX_REQUEUES re-publications.
    """
    from dashboard.tasks import validate_exercise
    from submissions import workers

    now = now or timezone.now()
    report = jobs.SweepReport()
    try:
        alive = workers.alive_hostnames()
    except Exception as exc:  # Redis away: nothing can be published anyway
        log.info("sweep of the dashboard's jobs skipped: %s", exc)
        return report

    def result_give_up(result: RegradeResult) -> bool:
        regrade_result_finish(result, None, error=f"it stopped {result.tries} times")
        return True

    results = jobs.lost(REGRADE_JOB, alive, now).select_related("version")
    requeued, failed = jobs.take_back(
        REGRADE_JOB, results, give_up=result_give_up, requeue=regrade_result_retry,
        limit=limit)
    report.requeued_running += requeued
    report.failed += failed
    for regrade in Regrade.objects.filter(status=Regrade.Status.RUNNING).select_related(
            "version")[:limit]:
        report.republished_queued += regrade_resume_if_stalled(regrade, now,
                                                               send=jobs.publish)

    def validation_requeue(validation: Validation) -> bool:
        back = jobs.release(VALIDATION_JOB, validation, queued_at=now,
                            requeues=F("requeues") + 1)
        if back:
            jobs.publish(validate_exercise, validation.pk, validation.queue)
        return back

    def validation_give_up(validation: Validation) -> bool:
        why = f"it stopped {validation.tries} times without a result"
        return validation_finish(validation, _validation_gave_up(why))

    requeued, failed = jobs.take_back(
        VALIDATION_JOB, jobs.lost(VALIDATION_JOB, alive, now), give_up=validation_give_up,
        requeue=validation_requeue, limit=limit)
    report.requeued_running += requeued
    report.failed += failed

    deadline = now - timedelta(seconds=settings.SUBMISSION_QUEUED_DEADLINE)
    waiting = Validation.objects.filter(status=Validation.Status.QUEUED).filter(
        Q(queued_at__lt=deadline) | Q(queued_at__isnull=True, created_at__lt=deadline))
    for validation in waiting[:limit]:
        same = Validation.objects.filter(pk=validation.pk, status=Validation.Status.QUEUED,
                                         requeues=validation.requeues)
        if validation.requeues >= settings.SUBMISSION_MAX_REQUEUES:
            report.failed += same.update(
                status=Validation.Status.DONE, passed=False, finished_at=now,
                report=_validation_gave_up(f"no {validation.queue} worker took it in time"))
        elif same.update(queued_at=now, requeues=F("requeues") + 1):
            jobs.publish(validate_exercise, validation.pk, validation.queue)
            report.republished_queued += 1
    return report


@transaction.atomic
def publish(*, draft: ExerciseDraft) -> Exercise:
    """Make the draft the exercise's current version (a new version when grading changed);
    a new exercise is placed at the end of its lesson's prose."""
    assert draft.spec is not None
    spec = ExerciseSpec.from_dict(draft.spec)
    exercise = Exercise.objects.filter(slug=spec.slug).first()
    lesson = draft.lesson
    if exercise is None:
        last = lesson.exercises.order_by("-order").values_list("order", flat=True).first()
        exercise = Exercise.objects.create(
            slug=spec.slug, lesson=lesson, order=(last + 1) if last is not None else 0
        )
        lesson.prose = {lang: authoring._placed(text, spec.slug)
                        for lang, text in lesson.prose.items()}
        lesson.save(update_fields=["prose"])
    exercise_publish(exercise=exercise, spec=spec)
    draft.delete()
    exercise.refresh_from_db()
    return exercise


def validated(draft: ExerciseDraft) -> Validation | None:
    """The latest passing validation of exactly this draft's spec, if any."""
    if draft.spec is None:
        return None
    return Validation.objects.filter(
        spec_hash=spec_hash(draft.spec), status=Validation.Status.DONE, passed=True
    ).first()


@transaction.atomic
def lesson_save(*, lesson: Lesson | None, doc: Any, course: Course) -> Lesson:
    values = {"order": doc.order, "title": doc.title, "summary": doc.summary,
              "prose": doc.prose}
    if lesson is None:
        lesson = Lesson.objects.create(slug=doc.slug, **values)
        if not course.is_default:
            course.lessons.add(lesson)
        return lesson
    for key, value in values.items():
        setattr(lesson, key, value)
    lesson.save()
    return lesson
