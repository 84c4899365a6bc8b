"""Websocket clients for bench.live_latency, run in child processes (``client_main``).

Each socket records the arrival time (``time.time()``) of every action id it
is sent, counts frames by kind and ids sent twice, and reconnects as the
page does: on 1001/1006/1011/1012/1013/4012/4013 or a failed connect, after a
full-jitter backoff, with ``after`` = the newest id it holds and ``floor`` =
its first ``after``. With the ``count_from_start`` option, the frame and row
counters cover only what arrives after "start" (ids and times are kept from
the first connect either way).
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import time
from array import array
from collections import Counter
from contextlib import suppress
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

ROW = re.compile(r'<tr id="action-(\d+)"')
NOTICE = re.compile(r'<div id="[^"]*-new"')
HEARTBEAT = "<!--heartbeat-->"
# The page retries these (htmx ws extension, plus 1001 in streams/static/streams/live.js).
RECONNECT_CODES = frozenset({1001, 1006, 1011, 1012, 1013, 4012, 4013})
# htmx's full-jitter backoff: up to 1 s * 2**min(retries, 6).
BACKOFF_BASE = 1.0
BACKOFF_MAX_EXP = 6
MAX_ATTEMPTS = 50  # connects per socket in one run, bounded
OPEN_TIMEOUT = 30.0
CLOSE_TIMEOUT = 10.0
LAG_INTERVAL = 0.05
# What ``count_from_start`` restarts from zero at "start".
COUNTERS = (
    "frames", "row_frames", "rows", "row_bytes", "heartbeats", "notices", "others", "duplicates", "resent",
)  # fmt: skip


class Socket:
    """One simulated table page: its connections in turn, and what they received."""

    def __init__(self, spec: dict[str, Any], options: dict[str, Any], stopping: asyncio.Event) -> None:
        self.spec = spec
        self.options = options
        self.stopping = stopping
        self.initial = spec["after"]
        self.cursor = spec["after"]
        self.opened = asyncio.Event()
        self.ws: ClientConnection | None = None
        self.ids = array("q")  # first arrival of each id on this socket
        self.times = array("d")
        self.seen: set[int] = set()
        self.connections = 0
        self.attempts = 0
        self.connect_errors: Counter[str] = Counter()
        self.closes: Counter[int] = Counter()
        self.final_close: int | None = None
        self.frames = self.row_frames = self.rows = self.row_bytes = 0
        self.heartbeats = self.notices = self.others = 0
        self.duplicates = self.resent = 0
        self.other_sample = ""
        self.deflate = False  # permessage-deflate negotiated
        self.base = dict.fromkeys(COUNTERS, 0)  # the counters at "start", when counting from there

    def mark(self) -> None:
        """Count frames and rows from now on (the load window's start)."""
        self.base = {name: getattr(self, name) for name in COUNTERS}

    def url(self) -> str:
        return f"{self.spec['url']}&after={self.cursor}&floor={self.initial}"

    async def run(self, gate: asyncio.Semaphore) -> None:
        retries = 0
        while not self.stopping.is_set() and self.attempts < MAX_ATTEMPTS:
            if self.attempts:
                delay = BACKOFF_BASE * 2 ** min(retries, BACKOFF_MAX_EXP) * random.random()
                try:
                    await asyncio.wait_for(self.stopping.wait(), delay)
                    return
                except TimeoutError:
                    pass
            self.attempts += 1
            try:
                async with gate:
                    ws = await connect(
                        self.url(),
                        origin=self.spec["origin"],
                        additional_headers=self.spec["headers"],
                        compression=self.options["compression"],
                        proxy=None,
                        ping_interval=None,
                        open_timeout=OPEN_TIMEOUT,
                        close_timeout=CLOSE_TIMEOUT,
                        max_size=None,
                        max_queue=None,
                    )
            except (OSError, TimeoutError, InvalidHandshake) as error:
                self.connect_errors[type(error).__name__] += 1
                retries += 1
                continue
            retries = 0
            self.deflate = self.deflate or bool(ws.protocol.extensions)
            self.ws = ws
            self.connections += 1
            self.opened.set()
            await self.receive(ws)
            self.ws = None
            if self.stopping.is_set():
                return
            code = ws.close_code if ws.close_code is not None else 1006
            self.closes[code] += 1
            if code not in RECONNECT_CODES:
                self.final_close = code
                return

    async def receive(self, ws: ClientConnection) -> None:
        this_connection: set[int] = set()
        try:
            async for message in ws:
                arrived = time.time()
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self.count(text, arrived, this_connection)
        except ConnectionClosed:
            pass

    def count(self, text: str, arrived: float, this_connection: set[int]) -> None:
        self.frames += 1
        ids = ROW.findall(text)
        if ids:
            self.row_frames += 1
            self.row_bytes += len(text)
        for raw in ids:
            action = int(raw)
            self.rows += 1
            if action in this_connection:
                self.duplicates += 1
                continue
            this_connection.add(action)
            if action in self.seen:
                self.resent += 1  # sent again after a reconnect: allowed
                continue
            self.seen.add(action)
            self.ids.append(action)
            self.times.append(arrived)
            self.cursor = max(self.cursor, action)
        if NOTICE.search(text):
            self.notices += 1
        elif not ids:
            if HEARTBEAT in text:
                self.heartbeats += 1
            else:
                self.others += 1
                self.other_sample = self.other_sample or text[:200]

    async def close(self) -> None:
        ws = self.ws
        if ws is not None:
            with suppress(OSError, ConnectionClosed):
                await ws.close()

    def result(self) -> dict[str, Any]:
        return {
            "key": self.spec["key"],
            "opened": self.opened.is_set(),
            "deflate": self.deflate,
            "reconnects": max(0, self.connections - 1),
            "connect_errors": dict(self.connect_errors),
            "closes": dict(self.closes),
            "final_close": self.final_close,
            **{name: getattr(self, name) - self.base[name] for name in COUNTERS},
            "other_sample": self.other_sample,
            "ids": self.ids.tobytes(),
            "times": self.times.tobytes(),
        }


async def watch_lag(samples: list[float], done: asyncio.Event) -> None:
    """How late the event loop wakes up: a busy client delays every arrival time it records."""
    loop = asyncio.get_running_loop()
    while not done.is_set():
        start = loop.time()
        await asyncio.sleep(LAG_INTERVAL)
        samples.append(max(0.0, loop.time() - start - LAG_INTERVAL))


async def run(conn: Any, specs: list[dict[str, Any]], options: dict[str, Any]) -> None:
    stopping = asyncio.Event()
    sockets = [Socket(spec, options, stopping) for spec in specs]
    gate = asyncio.Semaphore(options["connect_concurrency"])
    tasks = [asyncio.create_task(socket.run(gate)) for socket in sockets]
    opened = [asyncio.create_task(socket.opened.wait()) for socket in sockets]
    await asyncio.wait(opened, timeout=options["connect_timeout"])
    for task in opened:
        task.cancel()
    conn.send(("ready", sum(socket.opened.is_set() for socket in sockets)))

    command = await asyncio.to_thread(conn.recv)
    if command != "start":
        stopping.set()
    elif options.get("count_from_start"):
        for socket in sockets:
            socket.mark()
    lags: list[float] = []
    lag_done = asyncio.Event()
    lag_task = asyncio.create_task(watch_lag(lags, lag_done))
    cpu, wall = time.process_time(), time.monotonic()
    if command == "start":
        await asyncio.to_thread(conn.recv)  # "stop"
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    lag_done.set()
    stopping.set()
    await asyncio.wait([asyncio.create_task(socket.close()) for socket in sockets], timeout=CLOSE_TIMEOUT)
    await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
    for task in (*tasks, lag_task):
        task.cancel()
    with suppress(OSError):  # the parent may have gone (Ctrl-C)
        conn.send(
            (
                "result",
                {
                    "cpu": cpu,
                    "wall": wall,
                    "lag": lags,
                    "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
                    "sockets": [socket.result() for socket in sockets],
                },
            )
        )


def client_main(conn: Any, specs: list[dict[str, Any]], options: dict[str, Any]) -> None:
    """Process entry: open the sockets, say ready, measure between "start" and "stop", send results."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent cleans up on Ctrl-C
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(conn, specs, options))
    else:
        uvloop.run(run(conn, specs, options))
