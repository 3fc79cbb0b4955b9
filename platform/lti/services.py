"""What a verified launch does here, and what a grade passback sends.

pylti1p3 has checked the id_token (signature against the platform's JWKS, issuer, client
id, deployment, nonce, state) before `complete_launch` sees its claims. A platform user is
matched by (platform, `sub`) only, never by a name or an e-mail address that an account
here might share: a new `sub` is a new account, with no password (it logs in through the
LMS). Its role in the mapped course follows the LMS roles claim at every launch.

The score sent back is the gradebook's (dashboard/selectors.py `gradebook`, which applies
dashboard/grades.py's effective grade, overrides and late policy): the lesson total, or the
exercise's grade for a link that names one exercise.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from courses.models import Exercise, Lesson
from dashboard.access import INSTRUCTOR, STUDENT, TA, course_exercises, course_lessons
from dashboard.models import Course, Membership
from lti.models import Context, Identity, LineItem, Passback, Platform

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
TA_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


class LaunchRefused(ValueError):
    """A verified launch this tool cannot serve; the message is for the person launching."""


@dataclass
class Landing:
    user: Any
    course: Course
    role: str
    url: str


def role_from_claims(roles: Any) -> str | None:
    """instructor | ta | student | None, from the LTI roles claim (context roles only:
    an institution role says nothing about this course)."""
    names: set[str] = set()
    for role in roles if isinstance(roles, list) else []:
        if not isinstance(role, str):
            continue
        if role == TA_ROLE:
            names.add("TeachingAssistant")
        elif role.startswith(MEMBERSHIP):
            names.add(role[len(MEMBERSHIP):])
        elif "/" not in role and "#" not in role:
            names.add(role)  # LTI 1.3 allows the short context role names
    if "TeachingAssistant" in names:
        return TA
    if names & {"Instructor", "Administrator"}:
        return INSTRUCTOR
    if "Learner" in names:
        return STUDENT
    return None


def _username(platform: Platform, sub: str, claims: dict[str, Any]) -> str:
    hint = claims.get("preferred_username") or str(claims.get("email") or "").split("@")[0]
    base = re.sub(r"[^\w.+-]", "", str(hint or ""))[:60] or "lti"
    digest = hashlib.sha256(f"{platform.pk}:{sub}".encode()).hexdigest()[:10]
    return f"{base}-{digest}"


def _user_for(platform: Platform, sub: str, claims: dict[str, Any]) -> Any:
    identity = Identity.objects.select_related("user").filter(platform=platform, sub=sub).first()
    if identity is not None:
        user = identity.user
        if not user.is_active:
            raise LaunchRefused(_("This account is disabled here."))
    else:
        User = get_user_model()
        username = _username(platform, sub, claims)
        if User.objects.filter(username=username).exists():  # taken by a local account
            username = f"lti-{hashlib.sha256(f'{platform.pk}:{sub}'.encode()).hexdigest()[:24]}"
        try:
            with transaction.atomic():  # two first launches at once: one account
                user = User(username=username)
                user.set_unusable_password()
                user.save()
                Identity.objects.create(platform=platform, sub=sub, user=user)
        except IntegrityError:
            user = Identity.objects.select_related("user").get(platform=platform, sub=sub).user
    changed = []
    for field, claim in (("first_name", "given_name"), ("last_name", "family_name"),
                         ("email", "email")):
        value = str(claims.get(claim) or "")[:150]
        if value and getattr(user, field) != value:
            setattr(user, field, value)
            changed.append(field)
    if changed:
        user.save(update_fields=changed)
    return user


def _context(platform: Platform, claims: dict[str, Any]) -> Context:
    ctx = claims.get(CLAIM + "context") or {}
    context_id = str(ctx.get("id") or "")[:255]
    title = str(ctx.get("title") or ctx.get("label") or "")[:255]
    context, created = Context.objects.get_or_create(
        platform=platform, context_id=context_id,
        defaults={"title": title, "course": platform.course},
    )
    if not created and title and context.title != title:
        context.title = title
        context.save(update_fields=["title"])
    return context


def _target(course: Course, custom: dict[str, Any]) -> tuple[Lesson | None, Exercise | None]:
    """The lesson (and exercise) the resource link names, else the course's first lesson."""
    exercise_slug = str(custom.get("exercise") or "").strip()
    lesson_slug = str(custom.get("lesson") or "").strip()
    if exercise_slug:
        exercise = course_exercises(course).filter(slug=exercise_slug).first()
        if exercise is None:
            raise LaunchRefused(_("This link names the exercise %(slug)s, which is not in the "
                                  "course %(course)s.") % {"slug": exercise_slug,
                                                           "course": course.title})
        return exercise.lesson, exercise
    if lesson_slug:
        lesson = course_lessons(course).filter(slug=lesson_slug).first()
        if lesson is None:
            raise LaunchRefused(_("This link names the lesson %(slug)s, which is not in the "
                                  "course %(course)s.") % {"slug": lesson_slug,
                                                           "course": course.title})
        return lesson, None
    return course_lessons(course).order_by("order", "slug").first(), None


def _set_role(user: Any, course: Course, role: str) -> None:
    Membership.objects.update_or_create(course=course, user=user, defaults={"role": role})


def _line_item(context: Context, claims: dict[str, Any], lesson: Lesson,
               exercise: Exercise | None) -> LineItem | None:
    ags = claims.get(AGS_CLAIM)
    link_id = str((claims.get(CLAIM + "resource_link") or {}).get("id") or "")[:255]
    if not isinstance(ags, dict) or not link_id:
        return None
    scopes = [s for s in ags.get("scope") or [] if isinstance(s, str)]
    item, _created = LineItem.objects.update_or_create(
        context=context, resource_link_id=link_id,
        defaults={"lesson": lesson, "exercise": exercise,
                  "url": str(ags.get("lineitem") or "")[:1000],
                  "lineitems_url": str(ags.get("lineitems") or "")[:1000], "scopes": scopes},
    )
    return item


@transaction.atomic
def complete_launch(platform: Platform, claims: dict[str, Any]) -> Landing:
    """The account, the course role and where to land for a verified resource-link launch."""
    sub = str(claims.get("sub") or "")
    if not sub:
        raise LaunchRefused(_("The LMS sent no user id (sub): anonymous launches are not "
                              "supported."))
    role = role_from_claims(claims.get(CLAIM + "roles"))
    if role is None:
        raise LaunchRefused(_("Your role in the LMS course gives no access here: only "
                              "instructors, teaching assistants and learners can open it."))
    context = _context(platform, claims)
    course = context.course
    lesson, exercise = _target(course, claims.get(CLAIM + "custom") or {})
    user = _user_for(platform, sub[:255], claims)
    _set_role(user, course, role)
    if lesson is None:
        return Landing(user, course, role, reverse("courses:index"))
    item = _line_item(context, claims, lesson, exercise)
    if item is not None and role == STUDENT:
        Passback.objects.get_or_create(line_item=item, user=user, defaults={"sub": sub[:255]})
    url = reverse("courses:lesson", args=[lesson.slug])
    if exercise is not None:
        url += f"#exercise-{exercise.slug}"
    return Landing(user, course, role, url)


# --------------------------------------------------------------------------- passback


def current_score(passback: Passback) -> tuple[float, float]:
    """(score given, score maximum) of the student in the line item, as the gradebook has it."""
    from dashboard.selectors import gradebook

    item = passback.line_item
    course = item.context.course
    book = gradebook(course, lesson=item.lesson.slug, only=passback.user)
    if not book.rows:
        return 0.0, 0.0
    row = book.rows[0]
    if item.exercise_id is not None:
        cell = row.cells.get(item.exercise_id)
        if cell is None:
            return 0.0, 0.0
        return float(cell.grade or 0.0), float(cell.max_score)
    group = next((g for g in book.lessons if g["lesson"].pk == item.lesson_id), None)
    if group is None:
        return 0.0, 0.0
    return float(row.lesson_totals.get(item.lesson_id, 0.0)), float(group["max"])


def send_score(passback: Passback, score: float, maximum: float, session: Any = None) -> None:
    """POST the score to the line item (AGS), fetching an access token first (pylti1p3)."""
    from pylti1p3.assignments_grades import AssignmentsGradesService
    from pylti1p3.grade import Grade
    from pylti1p3.lineitem import LineItem as AgsLineItem
    from pylti1p3.service_connector import ServiceConnector

    from lti.tool import registration_of

    item = passback.line_item
    if SCORE_SCOPE not in (item.scopes or []):
        raise RuntimeError("the LMS did not grant the score scope for this link")
    connector = ServiceConnector(registration_of(item.context.platform), session)
    ags = AssignmentsGradesService(connector, {
        "scope": item.scopes, "lineitem": item.url, "lineitems": item.lineitems_url,
    })
    grade = (Grade().set_score_given(score).set_score_maximum(maximum)
             .set_timestamp(timezone.now().isoformat())
             .set_activity_progress("Completed").set_grading_progress("FullyGraded")
             .set_user_id(passback.sub))
    if item.url:
        ags.put_grade(grade)
        return
    # No line item in the launch: find or make one for this resource link (lineitem scope).
    wanted = (AgsLineItem().set_resource_link_id(item.resource_link_id)
              .set_resource_id(item.exercise.slug if item.exercise else item.lesson.slug)
              .set_label(_label(item)).set_score_maximum(maximum))
    found = ags.find_or_create_lineitem(wanted, find_by="resource_link_id")
    item.url = found.get_id() or ""
    item.save(update_fields=["url", "updated_at"])
    ags.put_grade(grade, found)


def _label(item: LineItem) -> str:
    """The LMS gradebook column's title: the lesson's (or exercise's) English title."""
    from courses.models import pick_language

    if item.exercise is not None and item.exercise.current_version is not None:
        return pick_language(item.exercise.spec.title, "en") or item.exercise.slug
    return pick_language(item.lesson.title, "en") or item.lesson.slug


def passbacks_of(*, course_id: int | None = None, user_id: int | None = None,
                 lesson_id: int | None = None, exercise_id: int | None = None) -> list[int]:
    """Passbacks whose grade an instructor's change may move: narrowed to a course's LMS
    contexts, a student, a lesson, and (with lesson) the lesson's and one exercise's items."""
    from django.db.models import Q

    qs = Passback.objects.all()
    if course_id is not None:
        qs = qs.filter(line_item__context__course_id=course_id)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if lesson_id is not None:
        qs = qs.filter(line_item__lesson_id=lesson_id)
    if exercise_id is not None:
        qs = qs.filter(Q(line_item__exercise__isnull=True)
                       | Q(line_item__exercise_id=exercise_id))
    return list(qs.values_list("pk", flat=True))


def queue_passbacks(ids: list[int]) -> None:
    """Mark them pending and hand them to Celery once the transaction commits."""
    if not ids:
        return
    Passback.objects.filter(pk__in=ids).update(status=Passback.Status.PENDING, attempts=0,
                                               updated_at=timezone.now())

    def publish() -> None:
        from lti.tasks import send_passback

        for pk in ids:
            try:
                send_passback.delay(pk)
            except Exception as exc:  # the broker is away: visible, and retried by hand
                Passback.objects.filter(pk=pk).update(
                    status=Passback.Status.FAILED, last_error=f"could not queue: {exc}"[:2000],
                    updated_at=timezone.now())

    transaction.on_commit(publish)
