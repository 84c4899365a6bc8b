"""One definition of "which actions": as a queryset filter and as an in-memory match.

A table page, its CSV export and its live socket all hold the same
``ActionQuery``. The page and the export call ``apply()``; the socket calls
``matches()`` on the small broadcast message, so each committed action is
matched against every open table without touching the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from streams import search, search_index
from streams.values import owner_key


@dataclass(frozen=True)
class ActionQuery:
    verbs: frozenset[str] | None = None
    public_only: bool = False
    owner_id: int | str | None = None  # owner_key() of the owner's primary key
    actor: str | None = None
    object_type_id: int | None = None
    target_type_id: int | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    text: str = ""
    request_id: str | None = None  # the actions of one request (staff)
    # Only actions by people this user (owner_key) follows (streams.follows).
    followed_by: int | str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "owner_id", owner_key(self.owner_id))
        object.__setattr__(self, "followed_by", owner_key(self.followed_by))

    def apply(self, queryset: QuerySet) -> QuerySet:
        filters: dict[str, Any] = {}
        if self.verbs is not None:
            filters["verb__in"] = sorted(self.verbs)
        if self.public_only:
            filters["public"] = True
        if self.owner_id is not None:
            filters["owner_id"] = self.owner_id
        if self.actor is not None:
            filters["actor_name"] = self.actor
        if self.object_type_id is not None:
            filters["object_type_id"] = self.object_type_id
        if self.target_type_id is not None:
            filters["target_type_id"] = self.target_type_id
        if self.since is not None:
            filters["timestamp__gte"] = self.since
        if self.until is not None:
            filters["timestamp__lt"] = self.until
        if self.request_id is not None:
            filters["request_id"] = self.request_id
        if self.followed_by is not None:
            from streams.models import Follow

            filters["actor_id__in"] = Follow.objects.filter(follower_id=self.followed_by).values(
                "followed_id"
            )
        queryset = queryset.filter(**filters)
        if self.text:
            queryset = search_index.search(queryset, search.needle(self.text))
        return queryset

    def matches(self, message: dict[str, Any]) -> bool:
        """Whether ``apply()`` would keep the action this broadcast message describes."""
        if self.verbs is not None and message["verb"] not in self.verbs:
            return False
        if self.public_only and not message["public"]:
            return False
        if self.owner_id is not None and message["owner"] != self.owner_id:
            return False
        if self.actor is not None and message["actor"] != self.actor:
            return False
        if self.object_type_id is not None and message["object_type"] != self.object_type_id:
            return False
        if self.target_type_id is not None and message["target_type"] != self.target_type_id:
            return False
        if self.request_id is not None and message.get("request") != self.request_id:
            return False
        if self.followed_by is not None:
            from streams import follows

            # The hub loads the set before matching (it may not query here, in the event loop).
            if message.get("actor_id") not in (follows.cached(self.followed_by) or ()):
                return False
        if self.since is not None or self.until is not None:
            timestamp = datetime.fromisoformat(message["timestamp"])
            if self.since is not None and timestamp < self.since:
                return False
            if self.until is not None and timestamp >= self.until:
                return False
        if self.text:
            document = search.document(
                message["actor"], message["verb"], message["object_repr"], message["target_repr"]
            )
            if not search.matches(search.needle(self.text), document):
                return False
        return True
