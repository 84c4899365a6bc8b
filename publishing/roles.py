"""Who may do what on the publishing site, by group membership."""

from __future__ import annotations

from typing import Any

AUTHORS = "authors"
REVIEWERS = "reviewers"
# Simulated members who keep the demo busy; never the printed demo logins.
CROWD = "crowd"


def is_author(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_perm("publishing.add_story"))


def is_reviewer(user: Any) -> bool:
    return bool(user.is_authenticated and user.groups.filter(name=REVIEWERS).exists())
