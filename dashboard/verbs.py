"""The verbs the hub records, and which of them everyone may see."""

from __future__ import annotations

PUBLISHED = "published"
READ = "read"
COMMENTED = "commented"
BOOKMARKED = "bookmarked"
REVIEWED = "reviewed"
REPLIED = "replied"
LIKED = "liked"

UPDATED = "updated"
DELETED = "deleted"
CHANGED_STATE = "changed state"
LOGGED_IN = "logged in"
LOGGED_OUT = "logged out"
FAILED_LOGIN = "failed login"

# Shown to every logged-in viewer; anything else is staff-only (audit).
PUBLIC_VERBS = (PUBLISHED, READ, COMMENTED, BOOKMARKED, REVIEWED, REPLIED, LIKED)
AUDIT_VERBS = (CHANGED_STATE, LOGGED_IN, LOGGED_OUT, FAILED_LOGIN)
ALL_VERBS = (*PUBLIC_VERBS, UPDATED, DELETED, *AUDIT_VERBS)
