"""The live socket of the declared tables (``streams.tables.site``): what it subscribes to, how its rows look."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse

from streams.filters import ActionFilterSet
from streams.live.consumer import BadSubscription, LiveTableConsumer
from streams.live.hub import Subscription
from streams.models import Action
from streams.seen import unseen_count_html
from streams.tables import PAGE_TEMPLATE, Table, site

# The socket's own parameters; the rest are the table's filters.
SOCKET_PARAMS = ("table", "after", "floor", "mode", "page", "badge")


@dataclass(frozen=True)
class LiveKind:
    """A table as the live fan-out sees it: a name and how to render its rows.

    The variant is (table name, staff): tables choose their columns, so a
    row renders once per table and kind of viewer, and is shared by every
    socket of both."""

    kind: Table
    # The viewer's unseen badge rather than the table: counts render as the badge.
    badge: bool = False

    @property
    def name(self) -> str:
        return self.kind.name

    def render_rows(self, actions: list[Action], variant: Any) -> list[str]:
        _, staff = variant
        table = self.kind.table(actions, staff=staff, orderable=False)
        return [row.html(live=True) for row in table.fast_rows()]

    def render_count(self, count: int, url: str) -> str:
        if self.badge:
            return unseen_count_html(self.kind, count, oob=True)
        return render_to_string(
            f"{PAGE_TEMPLATE}#new_count", {"kind": self.kind, "new_count": count, "newest_url": url}
        )

    def render_notice(self, text: str, url: str) -> str:
        return render_to_string(f"{PAGE_TEMPLATE}#notice", {"kind": self.kind, "text": text, "url": url})


def _cursor(params: QueryDict, name: str, default: int | None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if not value.isdigit() or len(value) > 18:
        raise BadSubscription(f"{name} must be an action id")
    return int(value)


def _still_allowed(kind: Table, staff: bool, user: Any) -> bool:
    return kind.allowed(user) and kind.as_staff(user) == staff


def subscribe(user: Any, params: QueryDict) -> Subscription:
    """Check the viewer and filters of a socket, as the table page would."""
    kind = site.get(params.get("table", ""))
    if kind is None:
        raise BadSubscription("unknown table")
    if not kind.allowed(user):
        raise PermissionDenied
    if params.get("badge"):
        return _badge(kind, user)
    after = _cursor(params, "after", 0)
    floor = _cursor(params, "floor", None)
    filters = params.copy()
    for name in SOCKET_PARAMS:
        filters.pop(name, None)
    filterset = ActionFilterSet(filters, Action.objects.all(), kind=kind, viewer=user)
    if not filterset.is_valid():
        fields = ", ".join(sorted(filterset.errors))
        raise BadSubscription(f"bad filters: {fields}")
    unsorted = filters.copy()
    unsorted.pop("sort", None)
    return Subscription(
        table=LiveKind(kind),
        query=filterset.query(),
        variant=(kind.name, kind.as_staff(user)),
        after=after or 0,
        floor=floor,
        count_only=params.get("mode") == "count",
        url=f"{reverse(kind.name)}?{unsorted.urlencode()}",
        still_allowed=partial(_still_allowed, kind, kind.as_staff(user)),
    )


def _badge(kind: Table, user: Any) -> Subscription:
    """The viewer's unseen count of a ``seen`` table, live: what came after their cursor."""
    from streams.models import Seen

    if not kind.seen:
        raise BadSubscription("this table keeps no unseen count")
    cursor = Seen.objects.filter(user=user.pk, table=kind.name).first()
    query = kind.scope(user)
    if cursor is not None and cursor.upto_time is not None:
        query = replace(query, since=cursor.upto_time)
    return Subscription(
        table=LiveKind(kind, badge=True),
        query=query,
        variant=(kind.name, kind.as_staff(user)),
        after=cursor.upto if cursor is not None else 0,
        count_only=True,
        unseen=True,
        url=reverse(kind.name),
        still_allowed=partial(_still_allowed, kind, kind.as_staff(user)),
    )


class TableConsumer(LiveTableConsumer):
    """The socket of every declared table: route ``streams.tables.site.websocket_urlpatterns()``."""

    def get_subscription(self, user: Any, params: QueryDict) -> Subscription:
        return subscribe(user, params)
