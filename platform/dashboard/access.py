"""Who may see a course's dashboard: its instructors and teaching assistants, never students.

Every dashboard view is wrapped by `course_view`, which resolves the course from the URL,
decides the user's role and answers anonymous users (login page, or JSON 401 for the API)
and everybody else without the role (403) before the view runs.

One rule covers every read of another user's work, in the dashboard and in the submissions
API alike: staff of a course see `course_submissions(course)`, the attempts of *that
course's students* at *that course's exercises*. A lesson shared by two courses therefore
shows each course's staff only their own students (`may_read_submission`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control

from accounts.models import INSTRUCTORS, STUDENTS
from courses.models import Exercise, Lesson
from dashboard.models import DEFAULT_COURSE_SLUG, Course, Membership
from submissions.models import Submission

INSTRUCTOR = Membership.Role.INSTRUCTOR
TA = Membership.Role.TA
STUDENT = Membership.Role.STUDENT
STAFF = (INSTRUCTOR, TA)


def default_course() -> Course:
    """The one course the platform has today, created on first use."""
    course, _ = Course.objects.get_or_create(
        slug=DEFAULT_COURSE_SLUG, defaults={"title": "Learn PyTorch", "is_default": True}
    )
    return course


def get_course(slug: str) -> Course:
    if slug == DEFAULT_COURSE_SLUG:
        return default_course()
    course = Course.objects.filter(slug=slug).first()
    if course is None:
        raise Http404(f"There is no course {slug!r}.")
    return course


def role_of(user: Any, course: Course) -> str | None:
    """instructor | ta | student | None.

    Explicit memberships decide. Without one, the default course also counts superusers
    and members of the "instructors" group who staff no other course as instructors, and
    members of the "students" group as students (so `demo_accounts` just works).
    """
    if not user.is_authenticated or not user.is_active:
        return None
    row = Membership.objects.filter(course=course, user=user).values_list("role", flat=True).first()
    if row:
        return row
    if user.is_superuser:
        return INSTRUCTOR
    if course.is_default:
        groups = set(user.groups.values_list("name", flat=True))
        if INSTRUCTORS in groups and not Membership.objects.filter(
            user=user, role__in=STAFF
        ).exists():
            return INSTRUCTOR
        if STUDENTS in groups:
            return STUDENT
    return None


def course_lessons(course: Course) -> QuerySet[Lesson]:
    if course.is_default:
        return Lesson.objects.all()
    return Lesson.objects.filter(pk__in=course.lessons.values("pk"))


def course_exercises(course: Course) -> QuerySet[Exercise]:
    return (
        Exercise.objects.filter(lesson__in=course_lessons(course), current_version__isnull=False)
        .select_related("lesson", "current_version")
        .order_by("lesson__order", "lesson__slug", "order")
    )


def course_students(course: Course):
    """Users graded in this course (staff excluded), ordered by username."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    explicit = Q(course_memberships__course=course, course_memberships__role=STUDENT)
    if course.is_default:
        staff_ids = Membership.objects.filter(course=course, role__in=STAFF).values("user_id")
        # Explicit memberships decide: someone enrolled in another course (and not in this
        # one) is not counted here by group or by having worked on a shared lesson.
        others = Membership.objects.exclude(course=course).values("user_id")
        implicit = (
            Q(groups__name=STUDENTS) | Q(submissions__exercise__lesson__in=course_lessons(course))
        ) & ~Q(pk__in=others)
        users = (
            User.objects.filter(explicit | implicit)
            .exclude(pk__in=staff_ids)
            .exclude(groups__name=INSTRUCTORS)
            .exclude(is_superuser=True)
        )
    else:
        users = User.objects.filter(explicit)
    return users.distinct().order_by("username")


def course_submissions(course: Course) -> QuerySet[Submission]:
    """What the course's staff may read: its students' attempts at its exercises.

    Filtering by exercise alone is not enough: a lesson can belong to two courses.
    """
    return Submission.objects.filter(
        exercise__in=course_exercises(course).order_by().values("pk"),
        user__in=course_students(course).order_by().values("pk"),
    )


def staffed_courses(user: Any) -> list[Course]:
    """The courses where `user` is an instructor or a TA (role_of decides)."""
    if not user.is_authenticated or not user.is_active:
        return []
    default_course()  # role_of's group rule needs the row to exist
    candidates = Course.objects.all()
    if not user.is_superuser:
        candidates = candidates.filter(
            Q(members__user=user, members__role__in=STAFF) | Q(is_default=True)
        ).distinct()
    return [c for c in candidates if role_of(user, c) in STAFF]


def may_read_submission(user: Any, sub: Submission) -> bool:
    """The owner, or staff of a course that holds both the student and the exercise."""
    if not user.is_authenticated or not user.is_active:
        return False
    if sub.user_id == user.pk:
        return True
    return any(
        course_submissions(course).filter(pk=sub.pk).exists() for course in staffed_courses(user)
    )


def _deny(request: HttpRequest, api: bool, status: int, message: str) -> HttpResponse:
    if api:
        return JsonResponse({"error": message}, status=status)
    if status == 401:
        return redirect_to_login(request.get_full_path())
    raise PermissionDenied(message)


def course_view(
    *, roles: tuple[str, ...] = STAFF, api: bool = False
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Resolve `course` from the URL; allow only users whose role is in `roles`."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, course: str, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return _deny(request, api, 401, "Log in, or send 'Authorization: Token …'.")
            obj = get_course(course)
            role = role_of(request.user, obj)
            if role not in roles:
                return _deny(request, api, 403, "You are not on the staff of this course.")
            request.course = obj  # type: ignore[attr-defined]
            request.course_role = role  # type: ignore[attr-defined]
            response = view(request, obj, *args, **kwargs)
            # Grades and student code are private: no shared or browser cache keeps them.
            patch_cache_control(response, private=True, no_store=True)
            return response

        wrapped.dashboard_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorate
