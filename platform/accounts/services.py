"""Writes for getting students in and back in: join links, sign-up, enrolment, staff roles,
set-password links. Who may do what is decided by the views (dashboard.access.course_view);
these functions keep the rules that hold whoever calls them (the management commands too).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from accounts.models import INSTRUCTORS, JoinLink, new_join_code
from dashboard.access import STAFF, STUDENT, course_lessons, course_students, role_of
from dashboard.models import Course, Membership


class AccountError(ValueError):
    """A request that breaks a rule; the message is for the person who asked."""


# --------------------------------------------------------------------------- join links


def join_link(course: Course) -> JoinLink:
    """The course's join link, made on first use."""
    link, _created = JoinLink.objects.get_or_create(course=course)
    return link


def rotate_join_code(course: Course) -> JoinLink:
    """A fresh code: the old link stops working at once (students already in stay in)."""
    link = join_link(course)
    link.code = new_join_code()
    link.save(update_fields=["code", "updated_at"])
    return link


def set_signup_open(course: Course, is_open: bool) -> JoinLink:
    link = join_link(course)
    link.signup_open = is_open
    link.save(update_fields=["signup_open", "updated_at"])
    return link


def link_for_code(code: str) -> JoinLink | None:
    # An exact match on a 128-bit random code; a rotated code matches nothing.
    if not code or len(code) > 64:
        return None
    return JoinLink.objects.select_related("course").filter(code=code).first()


def absolute(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def join_url(base_url: str, link: JoinLink) -> str:
    return absolute(base_url, reverse("join", args=[link.code]))


def first_lesson_url(course: Course) -> str:
    """Where a new student lands: the course's first lesson (the course page if it has none)."""
    lesson = course_lessons(course).order_by("order", "slug").first()
    if lesson is None:
        return reverse("courses:index")
    return reverse("courses:lesson", args=[lesson.slug])


# --------------------------------------------------------------------------- membership


def enrol(user: Any, course: Course) -> bool:
    """Make `user` a student of `course`; True when that changed anything.

    Whoever already has a role keeps it: staff who open their own join link, or import a
    roster with their own name in it, are not turned into students.
    """
    if role_of(user, course) in STAFF:
        return False
    _membership, created = Membership.objects.get_or_create(
        course=course, user=user, defaults={"role": STUDENT}
    )
    return created


@transaction.atomic
def sign_up(form: Any, course: Course) -> Any:
    """Create the account of a validated UserCreationForm and enrol it, both or neither."""
    user = form.save()
    Membership.objects.create(course=course, user=user, role=STUDENT)
    return user


def add_staff(course: Course, username: str, role: str, *, by: Any) -> Membership:
    """Give an existing user the instructor or TA role in `course` (replacing a student role)."""
    if role not in STAFF:
        raise AccountError(_("Choose instructor or teaching assistant."))
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None or not user.is_active:
        raise AccountError(
            _("There is no user %(username)s. They need an account first (the join link, "
              "or an import).") % {"username": username.strip()})
    if user.pk == by.pk:
        raise AccountError(_("You cannot change your own role."))
    membership, _created = Membership.objects.update_or_create(
        course=course, user=user, defaults={"role": role}
    )
    return membership


def remove_staff(course: Course, username: str, *, by: Any) -> None:
    membership = Membership.objects.filter(
        course=course, user__username=username, role__in=STAFF
    ).select_related("user").first()
    if membership is None:
        raise AccountError(_("%(username)s is not on the staff of this course.")
                           % {"username": username})
    if membership.user_id == by.pk:
        raise AccountError(_("You cannot remove yourself."))
    membership.delete()


# --------------------------------------------------------------------------- set-password links


def may_get_reset_link(user: Any) -> bool:
    """Whether an instructor may be handed a link that sets this user's password.

    Such a link takes over the account, so never for anyone with powers beyond a student's:
    staff of any course, instructors, Django staff and superusers, inactive users.
    """
    return (
        user.is_active and not user.is_superuser and not user.is_staff
        and not user.groups.filter(name=INSTRUCTORS).exists()
        and not Membership.objects.filter(user=user, role__in=STAFF).exists()
    )


def set_password_url(base_url: str, user: Any) -> str:
    """Django's own reset-confirm link: it works until the password changes (or it expires,
    settings.PASSWORD_RESET_TIMEOUT), so it is good for exactly one use."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return absolute(base_url, reverse("password_reset_confirm", args=[uid, token]))


def student_reset_url(course: Course, username: str, base_url: str) -> tuple[Any, str]:
    """A reset link for a student of `course`, for its instructor to hand over."""
    user = course_students(course).filter(username=username).first()
    if user is None:
        raise AccountError(_("There is no student %(username)s in this course.")
                           % {"username": username})
    if not may_get_reset_link(user):
        raise AccountError(
            _("%(username)s has a staff role; they reset their password themselves.")
            % {"username": username})
    return user, set_password_url(base_url, user)


def site_url() -> str:
    return settings.SITE_URL
