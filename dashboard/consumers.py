"""The live table socket: one per open table, pushing its new rows."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import PermissionDenied

from dashboard.live import (
    BadSubscription,
    Subscription,
    db_call,
    render_new_count,
    render_rows,
    row_cache,
    subscribe,
)
from streams import conf

logger = logging.getLogger("dashboard.live")

# Close codes (DESIGN: refusals).
UNAUTHENTICATED = 4401
FORBIDDEN = 4403
BAD_REQUEST = 4400
MESSAGE_TOO_BIG = 1009
MAX_CLIENT_FRAME = 4096
SENT_MEMORY = 5000


class LiveTableConsumer(AsyncWebsocketConsumer):
    subscription: Subscription | None = None

    async def connect(self) -> None:
        self.sent: set[int] = set()
        self.new_count = 0
        self.group = conf.get("BROADCAST_GROUP")
        # Accept first: only an open socket can tell the browser why it closes.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED, reason="log in first")
            return
        query_string = self.scope.get("query_string", b"").decode("latin-1")
        try:
            self.subscription = await db_call(subscribe)(user, query_string)
        except PermissionDenied:
            await self.close(code=FORBIDDEN, reason="not your table")
            return
        except BadSubscription as error:
            await self.close(code=BAD_REQUEST, reason=str(error)[:120])
            return
        # Join before catching up, so nothing committed in between is missed;
        # ``sent`` drops what both paths deliver.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.catch_up()

    async def disconnect(self, code: int) -> None:
        if self.subscription is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The socket takes no commands; anything odd closes it.
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > MAX_CLIENT_FRAME:
            await self.close(code=MESSAGE_TOO_BIG, reason="frame too large")
            return
        try:
            json.loads(text_data if text_data is not None else (bytes_data or b""))
        except ValueError:
            await self.close(code=BAD_REQUEST, reason="frames must be JSON")

    async def catch_up(self) -> None:
        subscription = self.subscription
        assert subscription is not None
        if subscription.count_only:
            self.new_count = await db_call(subscription.count_after)()
            if self.new_count:
                await self.send_count()
            return
        await self.push_rows(await db_call(subscription.rows_after)())

    async def push_rows(self, actions: list[Any]) -> None:
        subscription = self.subscription
        assert subscription is not None
        fresh = [action for action in actions if action.pk not in self.sent]
        self.remember(action.pk for action in fresh)
        if subscription.count_only:
            if fresh:
                self.new_count += len(fresh)
                await self.send_count()
            return
        render = partial(render_rows, subscription.kind, subscription.staff)
        for html in await sync_to_async(render)(fresh):
            await self.send(text_data=html)

    def remember(self, ids: Iterable[int]) -> None:
        """Ids sent on this socket, so none is sent twice; bounded for sockets open for days."""
        self.sent.update(ids)
        if len(self.sent) > SENT_MEMORY * 2:
            # Ids grow with time: what is old enough to forget cannot come again.
            self.sent = set(sorted(self.sent)[-SENT_MEMORY:])

    async def action_created(self, event: dict[str, Any]) -> None:
        subscription = self.subscription
        if subscription is None or event["id"] in self.sent:
            return
        if not subscription.query.matches(event):
            return
        self.remember([event["id"]])
        if subscription.count_only:
            self.new_count += 1
            await self.send_count()
            return
        html = await row_cache.get(subscription.kind, subscription.staff, event["id"])
        if html is not None:
            await self.send(text_data=html)

    async def actions_bulk(self, event: dict[str, Any]) -> None:
        """A bulk operation committed many actions: fetch this socket's share in one query."""
        subscription = self.subscription
        if subscription is None:
            return
        rows = await db_call(subscription.rows_between)(event["first"], event["last"])
        await self.push_rows(rows)

    async def send_count(self) -> None:
        subscription = self.subscription
        assert subscription is not None
        await self.send(
            text_data=render_new_count(subscription.kind, self.new_count, subscription.newest_url)
        )
