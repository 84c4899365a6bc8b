"""Who may do what on the publishing site, by group membership.

A user's roles take one query, the first time they are asked for in a
request, and are then kept on that user object: a page that checks them for
its navigation, its permission and its filters asks the database once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q

AUTHORS = "authors"
REVIEWERS = "reviewers"
# Simulated members who keep the demo busy; never the printed demo logins.
CROWD = "crowd"
# Authors are those who may add stories (the authors group grants it).
WRITE_PERMISSION = ("publishing", "add_story")
_CACHE = "_publishing_roles"


@dataclass(frozen=True)
class Roles:
    author: bool = False
    reviewer: bool = False


def roles(user: Any) -> Roles:
    """The user's roles, worked out once per user object (one query)."""
    if not user.is_authenticated or not user.is_active:
        return Roles()
    cached = user.__dict__.get(_CACHE)
    if cached is not None:
        return cached
    app_label, codename = WRITE_PERMISSION
    may_write = Permission.objects.filter(
        Q(user=OuterRef("pk")) | Q(group__user=OuterRef("pk")),
        content_type__app_label=app_label,
        codename=codename,
    )
    in_reviewers = get_user_model().groups.through.objects.filter(
        user_id=OuterRef("pk"), group__name=REVIEWERS
    )
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values_list(Exists(may_write), Exists(in_reviewers))
        .first()
    )
    author, reviewer = row or (False, False)
    found = Roles(author=bool(user.is_superuser or author), reviewer=bool(reviewer))
    user.__dict__[_CACHE] = found
    return found


def is_author(user: Any) -> bool:
    return roles(user).author


def is_reviewer(user: Any) -> bool:
    return roles(user).reviewer
