"""The per-process fan-out: one subscription to the broadcast, every open table served from memory.

Each event loop (one per server process) has one ``Hub``. It holds the
transport's subscription, groups open sockets by what they subscribe to
(table, variant, filters) and indexes the groups by owner, so a committed
action is matched once per group, not once per socket. Actions arriving
within ``LIVE_BATCH_MS`` are handled together: their rows are loaded with
one query, rendered once per variant, and the same frame (several
out-of-band fragments) is written to every socket of a group.

When the subscription is lost (Redis down or hung), the hub closes its
sockets with 4012: pages show "reconnecting" and catch up from their cursor
when the broadcast is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import streams.live.codes as codes
from streams import conf, follows
from streams.broadcast import FOLLOWS, SEEN
from streams.live.transport import RESYNC, get_transport
from streams.query import ActionQuery

logger = logging.getLogger("streams.live")

HEARTBEAT_FRAME = "<!--heartbeat-->"
# How long the first action after a quiet spell waits for its siblings.
GATHER_SECONDS = 0.01
# How long a connecting socket waits for the broadcast subscription before 4013.
JOIN_WAIT_SECONDS = 5.0


class LiveTable(Protocol):
    """What the hub needs from a project's table declaration."""

    name: str

    def render_rows(self, actions: list[Any], variant: Hashable) -> list[str]:
        """One ``<tr id="action-<pk>">`` per action, as this variant of the table shows it."""
        ...

    def render_count(self, count: int, url: str) -> str:
        """The "N new — show" bar, as an out-of-band fragment."""
        ...

    def render_notice(self, text: str, url: str) -> str:
        """A visible message with a link (to reload), as an out-of-band fragment."""
        ...


@dataclass(frozen=True, eq=False)
class Subscription:
    """What one socket shows: a table, a variant of its rows, filters, and where the page stands."""

    table: LiveTable
    query: ActionQuery
    # Rows render the same for every subscription of one variant (e.g. staff columns or not).
    variant: Hashable = None
    after: int = 0
    # The oldest row the page shows: late commits are looked for between it and ``after``.
    floor: int | None = None
    count_only: bool = False
    # A count of what the viewer has not seen (an unseen badge): a "seen" message resets it.
    unseen: bool = False
    # The table's address with these filters ("show" and "reload" links).
    url: str = ""
    # Whether the viewer, looked up again, may still see exactly this (run in a thread).
    still_allowed: Callable[[Any], bool] = lambda user: True

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.table.name, self.variant, self.query, self.count_only, self.unseen)


class LiveSocket(Protocol):
    subscription: Subscription
    session_key: str | None
    sent: IdMemory
    catching_up: bool
    held: list[tuple[int, str]]
    last_sent: float
    new_count: int

    def deliver(self, frames: list[str]) -> None:
        """Queue frames for this socket; never waits for its client."""
        ...

    async def close_with(self, code: int, reason: str) -> None: ...


class IdMemory:
    """Ids sent on one socket, so none is sent twice; bounded for sockets open for days."""

    def __init__(self, keep: int = 5000) -> None:
        self.keep = keep
        self.ids: set[int] = set()

    def __contains__(self, action_id: object) -> bool:
        return action_id in self.ids

    def add_all(self, ids: Iterable[int]) -> None:
        self.ids.update(ids)
        if len(self.ids) > self.keep * 2:
            # Ids grow with time: what is old enough to forget cannot come again.
            self.ids = set(sorted(self.ids)[-self.keep :])


def fragment(table: str, row_html: str) -> str:
    """An out-of-band fragment that prepends one row to ``#<table>-rows``."""
    return f'<tbody id="{table}-rows" hx-swap-oob="afterbegin">{row_html}</tbody>'


@dataclass(eq=False)
class Group:
    subscription: Subscription
    sockets: set[LiveSocket] = field(default_factory=set)


class TooManySockets(Exception):
    pass


class Unavailable(Exception):
    pass


class Hub:
    def __init__(self) -> None:
        self.transport = get_transport()
        self.sockets: set[LiveSocket] = set()
        self.groups: dict[tuple[Any, ...], Group] = {}
        # Owner id -> groups whose query names that owner; None -> groups for any owner.
        self.by_owner: dict[int | None, set[Group]] = defaultdict(set)
        self.per_session: Counter[str] = Counter()
        self.pending: list[dict[str, Any]] = []
        self.healthy = asyncio.Event()
        self.wakeup = asyncio.Event()
        self.tasks: list[asyncio.Task[Any]] = []
        self.chores: set[asyncio.Task[Any]] = set()
        self.rendered: OrderedDict[tuple[Hashable, int], str] = OrderedDict()

    # Sockets ----------------------------------------------------------

    async def join(self, socket: LiveSocket) -> None:
        """Register a socket; raises ``TooManySockets`` or ``Unavailable``."""
        key = socket.session_key
        limit = conf.get("LIVE_SOCKETS_PER_SESSION")
        if key and limit is not None and self.per_session[key] >= limit:
            raise TooManySockets
        self._start()
        try:
            await asyncio.wait_for(self.healthy.wait(), timeout=JOIN_WAIT_SECONDS)
        except TimeoutError:
            raise Unavailable from None
        self.sockets.add(socket)
        if key:
            self.per_session[key] += 1
        subscription = socket.subscription
        group = self.groups.get(subscription.key)
        if group is None:
            group = self.groups[subscription.key] = Group(subscription)
            self.by_owner[subscription.query.owner_id].add(group)
        group.sockets.add(socket)

    def leave(self, socket: LiveSocket) -> None:
        if socket not in self.sockets:
            return
        self.sockets.discard(socket)
        if socket.session_key:
            self.per_session[socket.session_key] -= 1
            if self.per_session[socket.session_key] <= 0:
                del self.per_session[socket.session_key]
        key = socket.subscription.key
        group = self.groups.get(key)
        if group is not None:
            group.sockets.discard(socket)
            if not group.sockets:
                del self.groups[key]
                self.by_owner[group.subscription.query.owner_id].discard(group)
        if not self.sockets:
            # Not at once: the caller may be one of the hub's own tasks, still closing sockets.
            asyncio.get_running_loop().call_soon(self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        if not self.sockets:
            self._stop()

    # Lifecycle --------------------------------------------------------

    def _start(self) -> None:
        if self.tasks:
            return
        loop = asyncio.get_running_loop()
        self.tasks = [
            loop.create_task(
                self.transport.subscribe(self.receive, self._on_state), name="streams-subscribe"
            ),
            loop.create_task(self._flush_forever(), name="streams-flush"),
            loop.create_task(self._tick_forever(), name="streams-tick"),
        ]

    def _stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks = []
        self.healthy.clear()
        self.pending = []
        # The hub's thread keeps one database connection while sockets are open.
        _executor.submit(_close_connections)

    def _on_state(self, healthy: bool) -> None:
        if healthy:
            self.healthy.set()
            return
        self.healthy.clear()
        self.close_all(codes.SERVICE_RESTART, "live updates interrupted")

    def _background(self, coroutine: Any) -> None:
        # The loop keeps only a weak reference to a task: hold it until it is done.
        task = asyncio.get_running_loop().create_task(coroutine)
        self.chores.add(task)
        task.add_done_callback(self.chores.discard)

    def close_all(self, code: int, reason: str) -> None:
        # Each on its own: a close waits for its client like any frame.
        for socket in list(self.sockets):
            self.leave(socket)
            self._background(_quietly(socket.close_with(code, reason)))

    # Incoming actions -------------------------------------------------

    def receive(self, messages: list[dict[str, Any]]) -> None:
        self.pending.extend(messages)
        self.wakeup.set()

    async def _flush_forever(self) -> None:
        loop = asyncio.get_running_loop()
        last = 0.0
        while True:
            await self.wakeup.wait()
            # The first action after a quiet spell goes out at once (after a
            # moment for the rest of its transaction); under load, frames go
            # out at most once per LIVE_BATCH_MS, each carrying what arrived.
            window = conf.get("LIVE_BATCH_MS") / 1000
            await asyncio.sleep(max(GATHER_SECONDS, last + window - loop.time()))
            last = loop.time()
            self.wakeup.clear()
            batch, self.pending = self.pending, []
            try:
                await self.flush(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Rows this batch could not deliver reach the tables on resync.
                logger.exception("live fan-out failed for %s message(s); resynchronising", len(batch))
                self.close_all(codes.SERVICE_RESTART, "live updates interrupted")

    async def flush(self, batch: list[dict[str, Any]]) -> None:
        if any(message.get("type") == RESYNC for message in batch):
            self.close_all(codes.SERVICE_RESTART, "live updates resynchronising")
            return
        for message in batch:
            if message.get("type") == SEEN:
                self.seen(message)
            elif message.get("type") == FOLLOWS:
                follows.forget(message["follower"])
        actions: dict[int, Any] = {}
        messages = [m for m in batch if m.get("type") == "action.created"]
        for bulk in (m for m in batch if m.get("type") == "actions.bulk"):
            if self.groups:
                loaded = await self.run(_load_range, bulk["first"], bulk["last"])
                actions.update((action.pk, action) for action in loaded)
                messages.extend(action.broadcast_message() for action in loaded)
        if not messages or not self.groups:
            return
        messages.sort(key=lambda m: m["id"])
        # Tables of whom someone follows match on a set kept in memory: load any missing first.
        missing = {
            key
            for group in self.groups.values()
            if (key := group.subscription.query.followed_by) is not None and follows.cached(key) is None
        }
        if missing:
            await self.run(follows.load, missing)
        matched: dict[Group, list[int]] = defaultdict(list)
        anyone = self.by_owner.get(None, set())
        for message in messages:
            owner = message["owner"]
            candidates = anyone if owner is None else (*anyone, *self.by_owner.get(owner, ()))
            for group in candidates:
                if group.subscription.query.matches(message):
                    matched[group].append(message["id"])
        if not matched:
            return
        # Render what is missing, once per variant (rows render the same in
        # every table of a variant), with one query for all rows.
        wanted: dict[Hashable, tuple[Subscription, set[int]]] = {}
        for group, ids in matched.items():
            sub = group.subscription
            if sub.count_only:
                continue
            missing = {i for i in ids if (sub.variant, i) not in self.rendered}
            if missing:
                wanted.setdefault(sub.variant, (sub, set()))[1].update(missing)
        # This batch's rows, whatever the cache keeps (a bulk may be larger than it).
        rendered = await self.run(self._render, list(wanted.values()), actions) if wanted else {}
        for key, html in rendered.items():
            self._remember(*key, html)
        for group, ids in matched.items():
            self._deliver(group, ids, rendered)

    def seen(self, message: dict[str, Any]) -> None:
        """A viewer saw a table up to an id (streams.seen): their unseen counts drop, on every tab."""
        for group in self.by_owner.get(message["owner"], ()):
            sub = group.subscription
            if not (sub.count_only and sub.unseen and sub.table.name == message["table"]):
                continue
            for socket in list(group.sockets):
                socket.new_count = sum(1 for i in socket.sent.ids if i > message["upto"])
                if not socket.catching_up:
                    socket.deliver([sub.table.render_count(socket.new_count, sub.url)])

    def _render(
        self, wanted: list[tuple[Subscription, set[int]]], loaded: dict[int, Any]
    ) -> dict[tuple[Hashable, int], str]:
        from streams.models import Action

        need = set().union(*(ids for _, ids in wanted)) - set(loaded)
        if need:
            loaded = {**loaded, **Action.objects.in_bulk(need)}
        rendered = {}
        for sub, ids in wanted:
            rows = [loaded[i] for i in sorted(ids) if i in loaded]
            for action, html in zip(rows, sub.table.render_rows(rows, sub.variant), strict=True):
                rendered[(sub.variant, action.pk)] = html
        return rendered

    def _remember(self, variant: Hashable, action_id: int, html: str) -> None:
        self.rendered[(variant, action_id)] = html
        while len(self.rendered) > conf.get("LIVE_RENDER_CACHE"):
            self.rendered.popitem(last=False)

    def _deliver(self, group: Group, ids: list[int], rendered: dict[tuple[Hashable, int], str]) -> None:
        sub = group.subscription
        if sub.count_only:
            for socket in list(group.sockets):
                fresh = [i for i in ids if i not in socket.sent]
                if fresh and socket.catching_up:
                    socket.held.extend((i, "") for i in fresh)
                elif fresh:
                    socket.sent.add_all(fresh)
                    socket.new_count += len(fresh)
                    socket.deliver([sub.table.render_count(socket.new_count, sub.url)])
            return
        rows = [(i, rendered.get((sub.variant, i)) or self.rendered.get((sub.variant, i))) for i in ids]
        rows_html = [(i, fragment(sub.table.name, html)) for i, html in rows if html is not None]
        if not rows_html:
            return
        shared = frames([html for _, html in rows_html])
        ids_sent = [i for i, _ in rows_html]
        for socket in list(group.sockets):
            if socket.catching_up:
                socket.held.extend(rows_html)
                continue
            if any(i in socket.sent for i in ids_sent):
                own = frames([html for i, html in rows_html if i not in socket.sent])
            else:
                own = shared
            socket.sent.add_all(ids_sent)
            socket.deliver(own)

    async def rows(self, subscription: Subscription, actions: list[Any]) -> list[tuple[int, str]]:
        """(id, fragment) for loaded actions, through the render cache (catch-up)."""
        variant = subscription.variant
        html = {action.pk: self.rendered.get((variant, action.pk)) for action in actions}
        missing = [action for action in actions if html[action.pk] is None]
        if missing:
            fresh = await self.run(subscription.table.render_rows, missing, variant)
            for action, row in zip(missing, fresh, strict=True):
                html[action.pk] = row
                self._remember(variant, action.pk, row)
        return [(action.pk, fragment(subscription.table.name, html[action.pk])) for action in actions]

    # Housekeeping -----------------------------------------------------

    async def _tick_forever(self) -> None:
        last_check = time.monotonic()
        while True:
            heartbeat = conf.get("LIVE_HEARTBEAT_SECONDS")
            await asyncio.sleep(min(1.0, heartbeat))
            now = time.monotonic()
            for socket in list(self.sockets):
                if not socket.catching_up and now - socket.last_sent >= heartbeat:
                    socket.deliver([HEARTBEAT_FRAME])
            if now - last_check >= conf.get("LIVE_RECHECK_SECONDS"):
                last_check = now
                try:
                    await self.recheck()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("could not recheck live sockets' sessions")

    async def recheck(self) -> None:
        """Close sockets whose session ended or whose viewer may no longer see their table."""
        by_session: dict[str | None, list[LiveSocket]] = defaultdict(list)
        for socket in self.sockets:
            by_session[socket.session_key].append(socket)
        if not by_session:
            return
        verdicts = await self.run(
            _verdicts, {key: [s.subscription for s in socks] for key, socks in by_session.items()}
        )
        for key, socks in by_session.items():
            for socket, verdict in zip(socks, verdicts.get(key, []), strict=False):
                if verdict is None:
                    continue
                code, reason = verdict
                self.leave(socket)
                self._background(_quietly(socket.close_with(code, reason)))

    async def run[T](self, func: Callable[..., T], *args: Any) -> T:
        """Database and template work, off the event loop, on the hub's own thread."""
        return await asyncio.get_running_loop().run_in_executor(_executor, _guarded, func, args)


def frames(fragments: list[str]) -> list[str]:
    """Fragments joined into frames of at most ``LIVE_FRAME_ROWS`` rows and about ``LIVE_FRAME_BYTES``."""
    rows, size = conf.get("LIVE_FRAME_ROWS"), conf.get("LIVE_FRAME_BYTES")
    out: list[str] = []
    current: list[str] = []
    length = 0
    for piece in fragments:
        if current and (len(current) >= rows or length + len(piece) > size):
            out.append("".join(current))
            current, length = [], 0
        current.append(piece)
        length += len(piece)
    if current:
        out.append("".join(current))
    return out


def _guarded(func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    from django.db import DatabaseError

    try:
        return func(*args)
    except DatabaseError:
        # A restarted database: start the next call on a fresh connection.
        _close_connections()
        raise


def _close_connections() -> None:
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()


def _load_range(first: int, last: int) -> list[Any]:
    from streams.models import Action

    return list(Action.objects.filter(id__gte=first, id__lte=last).order_by("id"))


def _verdicts(subscriptions: dict[str | None, list[Subscription]]) -> dict[str | None, list[Any]]:
    """Per session, per socket: None (still fine) or the (code, reason) to close with."""
    from importlib import import_module
    from types import SimpleNamespace

    from django.conf import settings
    from django.contrib import auth

    engine = import_module(settings.SESSION_ENGINE)
    out: dict[str | None, list[Any]] = {}
    # Sessions of one viewer share their subscriptions' verdicts: ask once per cycle.
    known: dict[tuple[Any, ...], bool] = {}
    for key, subs in subscriptions.items():
        user = auth.get_user(SimpleNamespace(session=engine.SessionStore(key))) if key else None  # type: ignore[arg-type]
        if user is None or not user.is_authenticated:
            out[key] = [(codes.UNAUTHENTICATED, "session ended")] * len(subs)
            continue
        verdicts = []
        for sub in subs:
            asked = (user.pk, *sub.key)
            if asked not in known:
                known[asked] = sub.still_allowed(user)
            verdicts.append(None if known[asked] else (codes.FORBIDDEN, "no longer allowed"))
        out[key] = verdicts
    return out


async def _quietly(awaitable: Awaitable[Any]) -> None:
    """A socket that went away meanwhile must not stop the others."""
    try:
        await awaitable
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.debug("a live socket failed while sending", exc_info=True)


# One thread per process, with its own database connection, for every hub's queries and renders.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streams-live")
_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.transport is not get_transport():
        if hub is not None:
            hub._stop()
        hub = _hubs[loop] = Hub()
    return hub
