"""Reads: the courses a user belongs to (for the course list and the course switcher)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from dashboard.access import STAFF, default_course, role_of
from dashboard.models import Course


@dataclass(frozen=True)
class MyCourse:
    course: Course
    role: str  # instructor | ta | student

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def my_courses(user: Any) -> list[MyCourse]:
    """Every course where `user` has a role (role_of decides), by title."""
    if not user.is_authenticated or not user.is_active:
        return []
    default_course()  # role_of's group rule needs the row to exist
    candidates = Course.objects.all()
    if not user.is_superuser:
        candidates = candidates.filter(Q(members__user=user) | Q(is_default=True)).distinct()
    found = [MyCourse(c, role) for c in candidates if (role := role_of(user, c))]
    return sorted(found, key=lambda m: (m.course.title.casefold(), m.course.slug))
