"""The live table socket: checks the viewer, catches up from the page's cursor, then joins the hub.

A project subclasses ``LiveTableConsumer`` and implements
``get_subscription(user, params)``: which table, filters and row variant the
socket's query string asks for, raising ``BadSubscription`` (closed 4400)
or ``PermissionDenied`` (closed 4403).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections
from django.http import QueryDict

import streams.live.codes as codes
from streams import conf
from streams.live.hub import IdMemory, Subscription, TooManySockets, Unavailable, frames, get_hub
from streams.seen import LIMIT as UNSEEN_LIMIT

MAX_CLIENT_FRAME = 4096
# Frames waiting for one slow client before it is told to reconnect.
MAX_OUTBOX_FRAMES = 500


class BadSubscription(Exception):
    """The socket's query string names no table or carries bad filters."""


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


def rows_to_catch_up(subscription: Subscription, limit: int) -> tuple[list[Any], bool]:
    """Matching rows after the page's cursor, and late commits it may have missed; and whether more remain.

    Ids are not committed in id order: a row with a lower id than the newest
    shown may commit after the page saw that newest one. Rows between the
    page's oldest row (``floor``) and ``after``, recorded up to
    ``LIVE_LOOKBACK_SECONDS`` before ``after``, are sent again; the page keeps
    one copy of each row.
    """
    from streams.models import Action

    query = subscription.query
    newer = list(query.apply(Action.objects.filter(id__gt=subscription.after)).order_by("id")[: limit + 1])
    more = len(newer) > limit
    late: list[Any] = []
    floor = subscription.floor
    if subscription.after and floor is not None and floor < subscription.after:
        anchor = (
            Action.objects.filter(id__lte=subscription.after)
            .order_by("-id")
            .values_list("timestamp", flat=True)
            .first()
        )
        if anchor is not None:
            since = anchor - conf.lookback()
            window = Action.objects.filter(id__gt=floor, id__lt=subscription.after, timestamp__gte=since)
            late = list(query.apply(window).order_by("id")[:limit])
    return late + newer[:limit], more


def ids_to_count(subscription: Subscription, limit: int) -> list[int]:
    from streams.models import Action

    rows = subscription.query.apply(Action.objects.filter(id__gt=subscription.after))
    return list(rows.order_by("id").values_list("id", flat=True)[:limit])


class LiveTableConsumer(AsyncWebsocketConsumer):
    # The hub fans out to sockets in memory: no channel-layer channel per socket.
    channel_layer_alias = None  # type: ignore[assignment]
    subscription: Subscription
    session_key: str | None = None
    hub: Any = None

    def get_subscription(self, user: Any, params: QueryDict) -> Subscription:
        """Runs in a thread; may query the database."""
        raise NotImplementedError

    async def connect(self) -> None:
        self.sent = IdMemory()
        self.outbox: deque[str] = deque()
        self.dropped = False
        self.writer: asyncio.Task[None] | None = None
        self.held: list[tuple[int, str]] = []
        self.catching_up = True
        self.new_count = 0
        self.last_sent = time.monotonic()
        # The page sends nothing; a client that floods frames is closed.
        self.frame_allowance = float(conf.get("LIVE_CLIENT_FRAME_BURST"))
        self.frame_clock = time.monotonic()
        # Accept first: only an open socket can tell the browser why it closes.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close_with(codes.UNAUTHENTICATED, "log in first")
            return
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None)
        params = QueryDict(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            self.subscription = await db_call(self.get_subscription)(user, params)
        except PermissionDenied:
            await self.close_with(codes.FORBIDDEN, "not your table")
            return
        except BadSubscription as error:
            await self.close_with(codes.BAD_REQUEST, str(error)[:120])
            return
        hub = get_hub()
        try:
            # Join before catching up, so nothing committed in between is missed;
            # rows arriving meanwhile are held and sent after the catch-up.
            await hub.join(self)
        except TooManySockets:
            await self.close_with(codes.TOO_MANY_SOCKETS, "too many live tables open")
            return
        except Unavailable:
            await self.close_with(codes.TRY_AGAIN_LATER, "live updates unavailable")
            return
        self.hub = hub
        try:
            await self.catch_up()
        finally:
            self.catching_up = False
        held, self.held = self.held, []
        self.push(held)

    async def disconnect(self, code: int) -> None:
        if self.hub is not None:
            self.hub.leave(self)
            self.hub = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The socket takes no commands; anything odd closes it.
        now = time.monotonic()
        rate, burst = conf.get("LIVE_CLIENT_FRAME_RATE"), conf.get("LIVE_CLIENT_FRAME_BURST")
        self.frame_allowance = min(burst, self.frame_allowance + (now - self.frame_clock) * rate)
        self.frame_clock = now
        self.frame_allowance -= 1
        if self.frame_allowance < 0:
            await self.close_with(codes.TOO_MANY_FRAMES, "client frames over the rate limit")
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > MAX_CLIENT_FRAME:
            await self.close_with(codes.MESSAGE_TOO_BIG, "frame too large")
            return
        try:
            json.loads(text_data if text_data is not None else (bytes_data or b""))
        except ValueError:
            await self.close_with(codes.BAD_REQUEST, "frames must be JSON")

    async def catch_up(self) -> None:
        subscription = self.subscription
        limit = conf.get("LIVE_CATCH_UP_LIMIT")
        if subscription.count_only:
            if subscription.unseen:
                limit = min(limit, UNSEEN_LIMIT + 1)  # a badge shows "99+" past that
            ids = await db_call(ids_to_count)(subscription, limit)
            counted = set(ids)
            held = [i for i, _ in self.held if i not in counted]
            self.held = []
            self.sent.add_all(ids + held)
            self.new_count = len(ids) + len(held)
            if self.new_count:
                self.deliver([subscription.table.render_count(self.new_count, subscription.url)])
            return
        rows, more = await db_call(rows_to_catch_up)(subscription, limit)
        self.push(await self.hub.rows(subscription, rows))
        if more:
            notice = f"More than {limit} actions happened while this table was away."
            self.deliver([subscription.table.render_notice(notice, subscription.url)])

    def push(self, rows: list[tuple[int, str]]) -> None:
        fresh = [(i, html) for i, html in rows if i not in self.sent]
        self.sent.add_all(i for i, _ in fresh)
        self.deliver(frames([html for _, html in fresh]))

    def deliver(self, frames: list[str]) -> None:
        """Queue frames; a task of this socket's own writes them.

        The server's send waits while a client reads slowly (uvicorn pauses on
        a full buffer): the hub must never wait for one socket. A client so
        slow that frames pile up is closed with 4012, to reconnect and catch
        up from its cursor once it reads again.
        """
        if not frames or self.dropped:
            return
        self.last_sent = time.monotonic()
        self.outbox.extend(frames)
        loop = asyncio.get_running_loop()
        if len(self.outbox) > MAX_OUTBOX_FRAMES:
            self.dropped = True
            self.outbox.clear()
            if self.hub is not None:
                self.hub.leave(self)
            if self.writer is not None:
                self.writer.cancel()  # stuck in a send that may never return
            self.writer = loop.create_task(self.close_with(codes.SERVICE_RESTART, "too slow: reconnect"))
            return
        if self.writer is None or self.writer.done():
            self.writer = loop.create_task(self._write())

    async def _write(self) -> None:
        send = self._frame_send
        try:
            while self.outbox:
                await send({"type": "websocket.send", "text": self.outbox.popleft()})
        except Exception:  # the client went away meanwhile: disconnect() cleans up
            self.outbox.clear()

    @property
    def _frame_send(self) -> Callable[[dict[str, Any]], Awaitable[None]]:
        """The server's own send, past Channels' session wrapper.

        The wrapper only acts on HTTP responses and the accept (cookies); on
        each of the many frames it would still look the session up, which
        showed as a fifth of the fan-out's time.
        """
        send = getattr(self, "_raw_send", None)
        if send is None:
            wrapper = getattr(self.base_send, "__self__", None)
            send = self._raw_send = getattr(wrapper, "real_send", None) or self.base_send
        return send

    async def close_with(self, code: int, reason: str) -> None:
        hub, self.hub = self.hub, None
        try:
            await self.close(code=code, reason=reason)
        finally:
            if hub is not None:
                hub.leave(self)
