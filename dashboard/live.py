"""What a live socket subscribes to, and the row fragments it is sent."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections
from django.http import QueryDict
from django.template.loader import render_to_string
from django.urls import reverse

from dashboard.filters import ActionFilterSet
from dashboard.tables import KINDS, TableKind
from streams.models import Action
from streams.query import ActionQuery

# Rows sent on connect to catch up; past that the page says to reload.
GAP_FILL_LIMIT = 200
PAGE_TEMPLATE = "dashboard/table_page.html"


def db_call[T](func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``database_sync_to_async`` that also gives the connection back in the caller's context.

    Django keeps connections per context; the call runs in a copy of the
    socket's context, where Channels' own cleanup (outside that copy) does not
    see the connection it opened. Closing here does.
    """

    @functools.wraps(func)
    def closing(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return database_sync_to_async(closing)


class BadSubscription(Exception):
    """The socket's query string names no table or carries bad filters."""


@dataclass(frozen=True)
class Subscription:
    kind: TableKind
    staff: bool
    query: ActionQuery
    after: int
    count_only: bool
    newest_url: str

    def rows_after(self, limit: int = GAP_FILL_LIMIT) -> list[Action]:
        rows = self.query.apply(Action.objects.filter(id__gt=self.after)).order_by("id")
        return list(rows[:limit])

    def count_after(self) -> int:
        return self.query.apply(Action.objects.filter(id__gt=self.after)).count()

    def rows_between(self, first: int, last: int, limit: int = GAP_FILL_LIMIT) -> list[Action]:
        """Matching rows of a bulk operation, announced as one id range."""
        rows = self.query.apply(Action.objects.filter(id__gte=first, id__lte=last)).order_by("id")
        return list(rows[:limit])


def _without(params: QueryDict, *names: str) -> QueryDict:
    params = params.copy()
    for name in names:
        params.pop(name, None)
    return params


def subscribe(user: Any, query_string: str) -> Subscription:
    """Check the viewer and filters of a socket, as the table page would."""
    params = QueryDict(query_string)
    kind = KINDS.get(params.get("table", ""))
    if kind is None:
        raise BadSubscription("unknown table")
    if not kind.allowed(user):
        raise PermissionDenied
    try:
        after = int(params.get("after", "0"))
    except ValueError:
        raise BadSubscription("after must be an action id") from None
    if after < 0:
        raise BadSubscription("after must be an action id")
    filters = params.copy()
    for name in ("table", "after", "mode", "page"):
        filters.pop(name, None)
    filterset = ActionFilterSet(filters, Action.objects.all(), kind=kind, viewer=user)
    if not filterset.is_valid():
        fields = ", ".join(sorted(filterset.errors))
        raise BadSubscription(f"bad filters: {fields}")
    return Subscription(
        kind=kind,
        staff=user.is_staff,
        query=filterset.query(),
        after=after,
        count_only=params.get("mode") == "count",
        newest_url=f"{reverse(kind.name)}?{_without(filters, 'sort').urlencode()}",
    )


def render_row(kind: TableKind, staff: bool, action: Action) -> str:
    """The out-of-band fragment that prepends one row to ``#<table>-rows``."""
    table = kind.table([action], staff=staff, orderable=False)
    return render_to_string(f"{PAGE_TEMPLATE}#live_row", {"kind": kind, "table": table, "row": table.rows[0]})


def render_rows(kind: TableKind, staff: bool, actions: list[Action]) -> list[str]:
    """Fragments for rows already loaded (catch-up): template work only, no query."""
    return [render_row(kind, staff, action) for action in actions]


def render_new_count(kind: TableKind, count: int, url: str) -> str:
    return render_to_string(
        f"{PAGE_TEMPLATE}#new_count", {"kind": kind, "new_count": count, "newest_url": url}
    )


class RowCache:
    """Render each (table, staff, action) once per process, whatever the number of sockets.

    Concurrent sockets asking for the same row share one pending render.
    Kept per event loop, since a future belongs to the loop that made it.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, OrderedDict[tuple[str, bool, int], asyncio.Future[str | None]]
        ] = weakref.WeakKeyDictionary()

    async def get(self, kind: TableKind, staff: bool, action_id: int) -> str | None:
        cache = self._by_loop.setdefault(asyncio.get_running_loop(), OrderedDict())
        key = (kind.name, staff, action_id)
        future = cache.get(key)
        if future is None:
            future = asyncio.ensure_future(_load_and_render(kind, staff, action_id))
            cache[key] = future
            while len(cache) > self.size:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return await asyncio.shield(future)


@db_call
def _load_and_render(kind: TableKind, staff: bool, action_id: int) -> str | None:
    action = Action.objects.filter(pk=action_id).first()
    if action is None:
        return None
    return render_row(kind, staff, action)


row_cache = RowCache()
