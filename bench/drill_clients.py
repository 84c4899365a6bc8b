"""The drill's clients: a logged-in HTTP client and live-table sockets that reconnect like the page.

Only 127.0.0.1. HTTP is ``http.client``, one connection per request, with the
two cookies the site sets (session and CSRF); sockets use ``websockets``
(asyncio) on one event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

ROW = re.compile(r'<tr id="action-(\d+)"')
NOTICE = re.compile(r'<div id="[^"]*-new"')
HEARTBEAT = "<!--heartbeat-->"
# The page (htmx ws extension + live.js) reconnects on these; any other close is final.
RETRY_CODES = frozenset({1001, 1006, 1011, 1012, 1013, 4012, 4013})
SHORT_ERRORS = {
    "ConnectionRefusedError": "refused",
    "TimeoutError": "timeout",
    "ConnectionResetError": "reset",
}
HTTP_TIMEOUT = 30.0


class Refused(Exception):
    """No worker accepted the connection: the request was certainly not sent."""


@dataclass
class Response:
    status: int
    location: str
    body: str


class HttpClient:
    """One browser-like session against the workers (cookies ignore the port, as browsers do)."""

    def __init__(self, ports: list[int], username: str = "") -> None:
        self.ports = ports
        self.username = username
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, port: int, form: dict[str, str] | None = None) -> Response:
        headers = {"Host": f"127.0.0.1:{port}", "User-Agent": "signalboard-fault-drill"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{port}{path}"
            headers["Origin"] = f"http://127.0.0.1:{port}"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
        try:
            try:
                connection.connect()
            except ConnectionRefusedError as error:
                raise Refused(str(error)) from error
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(
            response.status, response.headers.get("Location", ""), data.decode("utf-8", "replace")
        )

    def send(
        self, method: str, path: str, *, prefer: int = 0, form: dict[str, str] | None = None
    ) -> tuple[Response, int]:
        """Like a proxy with a dead upstream: a refused connection moves on to the next worker."""
        last: Refused | None = None
        for offset in range(len(self.ports)):
            port = self.ports[(prefer + offset) % len(self.ports)]
            try:
                return self.request(method, path, port=port, form=form), port
            except Refused as error:
                last = error
        raise last or Refused("no worker")

    def log_in(self, username: str, password: str, *, port: int) -> None:
        self.username = username
        self.request("GET", "/accounts/login/", port=port)
        form = {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": self.cookies.get("csrftoken", ""),
        }
        response = self.request("POST", "/accounts/login/", port=port, form=form)
        if response.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"login as {username} on :{port} failed: HTTP {response.status}")

    def post_form(self, path: str, form: dict[str, str], *, prefer: int = 0) -> tuple[Response, int]:
        return self.send(
            "POST",
            path,
            prefer=prefer,
            form={**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")},
        )


@dataclass
class SocketSpec:
    name: str
    username: str
    table: str  # feed or reads
    port: int
    worker: int
    cookie: str  # "sessionid=..."


@dataclass
class SocketStats:
    """What one socket saw, over all its connections."""

    spec: SocketSpec
    start_after: int
    cursor: int = 0
    received: set[int] = field(default_factory=set)
    connection_ids: set[int] = field(default_factory=set)
    dup_within: int = 0
    dup_across: int = 0
    notices: int = 0
    heartbeats: int = 0
    other_frames: int = 0
    opens: int = 0
    connect_failures: int = 0
    closes: Counter[str] = field(default_factory=Counter)
    disconnected: float = 0.0
    down_since: float | None = None
    is_open: bool = False
    final: str = ""  # a close the page would not retry: the socket gave up

    @property
    def reconnects(self) -> int:
        return max(0, self.opens - 1)

    def down_seconds(self, now: float) -> float:
        return self.disconnected + (now - self.down_since if self.down_since is not None else 0.0)

    def frame(self, text: str) -> None:
        ids = [int(found) for found in ROW.findall(text)]
        if not ids:
            if HEARTBEAT in text:
                self.heartbeats += 1
            elif NOTICE.search(text):
                self.notices += 1
            else:
                self.other_frames += 1
            return
        if NOTICE.search(text):
            self.notices += 1
        for action_id in ids:
            if action_id in self.connection_ids:
                self.dup_within += 1
            elif action_id in self.received:
                self.dup_across += 1
            self.connection_ids.add(action_id)
            self.received.add(action_id)
            self.cursor = max(self.cursor, action_id)


class LiveSocket:
    """One live table socket, reconnecting as the page does: ``after`` = newest row seen."""

    def __init__(self, spec: SocketSpec, after: int, stopping: asyncio.Event) -> None:
        self.spec = spec
        self.stats = SocketStats(spec=spec, start_after=after, cursor=after)
        self.stopping = stopping
        self.rng = random.Random(spec.name)

    def url(self) -> str:
        query = urlencode(
            {"table": self.spec.table, "after": self.stats.cursor, "floor": self.stats.start_after}
        )
        return f"ws://127.0.0.1:{self.spec.port}/ws/live/?{query}"

    def _lost(self, why: str) -> None:
        stats = self.stats
        stats.closes[why] += 1
        if stats.is_open or (stats.opens == 0 and stats.down_since is None):
            stats.is_open = False  # down from now (or from the start, if it never opened)
            stats.down_since = time.monotonic()

    async def run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        stats = self.stats
        failures = 0
        while not self.stopping.is_set():
            try:
                async with connect(
                    self.url(),
                    origin=f"http://127.0.0.1:{self.spec.port}",  # type: ignore[arg-type]
                    additional_headers={"Cookie": self.spec.cookie},
                    proxy=None,
                    ping_interval=None,  # a browser never pings; the server's pings are answered
                    max_size=None,
                    open_timeout=10,
                    close_timeout=2,
                ) as ws:
                    stats.opens += 1
                    stats.is_open = True
                    stats.connection_ids = set()
                    if stats.down_since is not None:
                        stats.disconnected += time.monotonic() - stats.down_since
                        stats.down_since = None
                    failures = 0
                    try:
                        async for message in ws:
                            stats.frame(message if isinstance(message, str) else message.decode())
                    except ConnectionClosed:
                        pass
                    code = ws.close_code if ws.close_code is not None else 1006
            except InvalidStatus as error:
                code = None
                self._connect_failed(f"HTTP {error.response.status_code}")
            except (OSError, TimeoutError, InvalidHandshake) as error:
                code = None
                self._connect_failed(SHORT_ERRORS.get(type(error).__name__, type(error).__name__))
            except Exception as error:  # anything else: counted, and retried like a drop
                code = None
                self._lost(f"error: {type(error).__name__}")
            if self.stopping.is_set():
                break
            if code is not None:
                self._lost(str(code))
                if code not in RETRY_CODES:
                    stats.final = str(code)
                    break
            failures += 1
            # As the page: 0.5-2 s with jitter, longer after repeated failures.
            delay = min(2.0, 0.5 * 2 ** (failures - 1)) * self.rng.uniform(0.6, 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), timeout=max(0.5, delay))

    def _connect_failed(self, why: str) -> None:
        self.stats.connect_failures += 1
        self._lost(f"connect {why}")


class SocketFleet:
    """Many live sockets on one event loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="drill-sockets", daemon=True)
        self.thread.start()
        self.sockets: list[LiveSocket] = []
        self.tasks: list[asyncio.Future[Any]] = []
        self.stopping: asyncio.Event | None = None

    def call[T](self, func: Callable[[], T], timeout: float = 10) -> T:
        """Run ``func`` on the sockets' loop (so it sees consistent state) and return its result."""

        async def run() -> T:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def open(self, specs: Iterable[SocketSpec], after: int) -> None:
        async def start() -> None:
            self.stopping = asyncio.Event()
            for spec in specs:
                socket = LiveSocket(spec, after, self.stopping)
                self.sockets.append(socket)
                self.tasks.append(asyncio.ensure_future(socket.run()))

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def wait_open(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call(lambda: all(s.stats.is_open for s in self.sockets)):
                return True
            time.sleep(0.1)
        return False

    def snapshot(self) -> tuple[float, list[SocketStats]]:
        """A copy of every socket's figures, with the moment they were taken."""

        def copy() -> tuple[float, list[SocketStats]]:
            now = time.monotonic()
            out = []
            for socket in self.sockets:
                stats = socket.stats
                out.append(
                    SocketStats(
                        **{
                            **stats.__dict__,
                            "received": set(stats.received),
                            "connection_ids": set(stats.connection_ids),
                            "closes": Counter(stats.closes),
                        }
                    )
                )
            return now, out

        return self.call(copy)

    def close_all(self) -> None:
        """Stop every socket of this round (they close cleanly, 1000)."""

        async def stop() -> None:
            if self.stopping is not None:
                self.stopping.set()
            for task in self.tasks:
                task.cancel()  # a socket waiting for frames closes on the way out
            await asyncio.gather(*self.tasks, return_exceptions=True)

        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(15)
        self.sockets, self.tasks = [], []

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.close_all()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()
