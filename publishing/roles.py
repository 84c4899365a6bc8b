"""Who may do what on the publishing site, by group membership.

A user's roles come with the user: the authentication backend loads them
in the same query as the user of each request (``with_roles``). A user
loaded any other way asks once, and keeps the answer on the object: a page
that checks them for its navigation, its permission and its filters asks
the database at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q, QuerySet

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


def _role_columns() -> dict[str, Exists]:
    app_label, codename = WRITE_PERMISSION
    may_write = Permission.objects.filter(
        Q(user=OuterRef("pk")) | Q(group__user=OuterRef("pk")),
        content_type__app_label=app_label,
        codename=codename,
    )
    in_reviewers = get_user_model().groups.through.objects.filter(
        user_id=OuterRef("pk"), group__name=REVIEWERS
    )
    return {"_role_may_write": Exists(may_write), "_role_reviews": Exists(in_reviewers)}


def with_roles(users: QuerySet) -> QuerySet:
    """``users`` with their roles in the same query (``roles()`` then asks nothing)."""
    return users.annotate(**_role_columns())


def roles(user: Any) -> Roles:
    """The user's roles: from the user's own query if it brought them, else one query, kept."""
    if not user.is_authenticated or not user.is_active:
        return Roles()
    # getattr, not __dict__: request.user is a lazy object around the user.
    cached = getattr(user, _CACHE, None)
    if cached is not None:
        return cached
    if hasattr(user, "_role_may_write"):
        may_write, reviews = user._role_may_write, user._role_reviews
    else:
        found = with_roles(get_user_model().objects.filter(pk=user.pk)).values_list(*_role_columns()).first()
        may_write, reviews = found or (False, False)
    result = Roles(author=bool(user.is_superuser or may_write), reviewer=bool(reviews))
    setattr(user, _CACHE, result)
    return result


def is_author(user: Any) -> bool:
    return roles(user).author


def is_reviewer(user: Any) -> bool:
    return roles(user).reviewer
