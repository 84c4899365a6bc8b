"""How committed actions travel from the process that wrote them to every process that shows them.

Two transports, chosen by ``STREAMS["BROADCAST_URL"]``:

- ``LocalTransport`` (no URL): inside one process. The embedded default.
- ``RedisTransport`` (``redis://...``): Redis pub/sub, one subscription per
  process. A PUBLISH reaches every subscribed process at once, whatever the
  number of open tables; a subscription ends with its connection, so nothing
  leaks when a worker dies; and the subscriber sees its own connection fail,
  which is how open tables learn they may have missed rows.

Publishing never blocks the caller: messages go through a bounded queue to a
publisher thread. A message that cannot be queued or sent is counted and
logged; the open tables then resynchronise from the database.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import queue
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from streams import conf

logger = logging.getLogger("streams.broadcast")

Deliver = Callable[[list[dict[str, Any]]], None]
OnState = Callable[[bool], None]

RESYNC = "streams.resync"
HEARTBEAT = "streams.heartbeat"


class Transport:
    """Publish from any thread; subscribe from an event loop."""

    def publish(self, message: dict[str, Any]) -> None:
        raise NotImplementedError

    async def subscribe(self, deliver: Deliver, on_state: OnState) -> None:
        """Run until cancelled: hand batches of messages to ``deliver``, report health to ``on_state``."""
        raise NotImplementedError


class LocalTransport(Transport):
    """Every subscriber in this process gets every message, through its own event loop."""

    def __init__(self) -> None:
        self._subscribers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Deliver] = (
            weakref.WeakKeyDictionary()
        )

    def publish(self, message: dict[str, Any]) -> None:
        for loop, deliver in list(self._subscribers.items()):
            if loop.is_closed():
                continue
            try:
                loop.call_soon_threadsafe(deliver, [message])
            except RuntimeError:  # the loop closed meanwhile
                continue

    async def subscribe(self, deliver: Deliver, on_state: OnState) -> None:
        loop = asyncio.get_running_loop()
        self._subscribers[loop] = deliver
        on_state(True)
        try:
            await asyncio.Event().wait()
        finally:
            self._subscribers.pop(loop, None)

    def listening(self) -> bool:
        # Asked after every commit: most processes have no subscriber at all.
        if not len(self._subscribers):
            return False
        return any(not loop.is_closed() for loop in list(self._subscribers))


class RedisTransport(Transport):
    """Redis pub/sub: a publisher thread per process, a subscription per event loop."""

    # How often a subscriber proves its subscription alive with a message of
    # its own, and how long without one before it says the subscription is lost.
    HEARTBEAT_SECONDS = 1.0
    LOST_AFTER_SECONDS = 3.5
    QUEUE_SIZE = 10_000
    BATCH = 500

    def __init__(self, url: str, channel: Callable[[], str]) -> None:
        self.url = url
        self._channel = channel
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(self.QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.published = 0
        self.dropped = 0
        self.failures = 0

    # Publishing -------------------------------------------------------

    def publish(self, message: dict[str, Any]) -> None:
        self._ensure_publisher()
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.warning(
                    "broadcast queue full: %s message(s) dropped; open tables will resynchronise",
                    self.dropped,
                )

    def _ensure_publisher(self) -> None:
        if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            if self._pid != os.getpid():  # forked: the parent's thread and queue are not ours
                self._pid = os.getpid()
                self._queue = queue.Queue(self.QUEUE_SIZE)
            self._thread = threading.Thread(
                target=self._publish_forever, name="streams-publisher", daemon=True
            )
            self._thread.start()
            atexit.register(self.drain, 2.0)

    def drain(self, timeout: float) -> bool:
        """Wait until every queued message is sent (at exit), at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _client(self) -> Any:
        import redis

        return redis.Redis.from_url(
            self.url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=10
        )

    def _publish_forever(self) -> None:
        client = self._client()
        dropped_seen = 0
        delay = 0.2
        while True:
            items = [self._queue.get()]
            while len(items) < self.BATCH:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batch = list(items)
            if self.dropped != dropped_seen:
                # Some messages never made it: tell every table to look again.
                batch.append({"type": RESYNC})
            payload = json.dumps(batch, separators=(",", ":"))
            while True:
                try:
                    client.publish(self._channel(), payload)
                    self.published += len(items)
                    dropped_seen = self.dropped
                    delay = 0.2
                    break
                except Exception as error:  # a Redis outage or hang: keep the batch, retry
                    self.failures += 1
                    if self.failures == 1 or self.failures % 50 == 0:
                        logger.warning("could not publish %s action(s) to Redis: %s", len(items), error)
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    if self._queue.full():
                        # An outage longer than the queue: drop this batch, keep the newer ones.
                        self.dropped += len(items)
                        logger.warning("dropped %s queued action(s) during a Redis outage", len(items))
                        break
            for _ in items:
                self._queue.task_done()

    # Subscribing ------------------------------------------------------

    async def subscribe(self, deliver: Deliver, on_state: OnState) -> None:
        import redis.asyncio as aioredis

        delay = 0.25
        healthy = False
        while True:
            token = uuid.uuid4().hex
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=2, socket_keepalive=True)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            channel = self._channel()
            started = time.monotonic()
            last_own = 0.0
            last_beat = 0.0
            try:
                await asyncio.wait_for(pubsub.subscribe(channel), 2)
                while True:
                    now = time.monotonic()
                    if now - last_beat >= self.HEARTBEAT_SECONDS:
                        last_beat = now
                        beat = json.dumps([{"type": HEARTBEAT, "from": token}])
                        await asyncio.wait_for(client.publish(channel, beat), 2)
                    message = await pubsub.get_message(timeout=0.25)
                    if message is not None and message.get("type") == "message":
                        batch = json.loads(message["data"])
                        if any(m.get("type") == HEARTBEAT and m.get("from") == token for m in batch):
                            last_own = time.monotonic()
                            if not healthy:
                                healthy = True
                                delay = 0.25
                                on_state(True)
                        batch = [m for m in batch if m.get("type") != HEARTBEAT]
                        if batch and healthy:
                            deliver(batch)
                    now = time.monotonic()
                    if healthy and now - last_own > self.LOST_AFTER_SECONDS:
                        raise TimeoutError("no heartbeat through Redis")
                    if not healthy and now - started > self.LOST_AFTER_SECONDS:
                        raise TimeoutError("Redis subscription not confirmed")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if healthy:
                    logger.warning("live broadcast subscription lost: %s", error)
                    healthy = False
                    on_state(False)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                await _close_quietly(pubsub, client)


async def _close_quietly(pubsub: Any, client: Any) -> None:
    # A hung server must not hang the shutdown: give up after a moment.
    for closing in (pubsub.aclose, client.aclose):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(closing(), 1)


_transport: Transport | None = None
_transport_key: tuple[Any, ...] | None = None


def get_transport() -> Transport:
    """The process's transport for the current settings."""
    global _transport, _transport_key
    url = conf.get("BROADCAST_URL")
    key = (url,)
    if _transport is None or _transport_key != key:
        _transport = RedisTransport(url, channel_name) if url else LocalTransport()
        _transport_key = key
    return _transport


def channel_name() -> str:
    """One broadcast channel per database: processes on another database never see these ids."""
    from django.db import connections, router

    from streams import conf
    from streams.models import Action

    configured = conf.get("BROADCAST_CHANNEL")
    if configured:
        return configured
    alias = router.db_for_write(Action)
    return f"streams.actions:{connections[alias].settings_dict['NAME']}"
