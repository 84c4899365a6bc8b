"""The verbs the hub records, and which of them everyone may see."""

from __future__ import annotations

PUBLISHED = "published"
READ = "read"
COMMENTED = "commented"

# Shown to every logged-in viewer; anything else is staff-only (audit).
PUBLIC_VERBS = (PUBLISHED, READ, COMMENTED)
ALL_VERBS = PUBLIC_VERBS

# Kinds of object and target the tables filter on, as "app_label.model".
OBJECT_TYPES = (
    ("publishing.story", "Story"),
    ("publishing.comment", "Comment"),
)
