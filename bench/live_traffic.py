"""Plain-HTTP traffic for bench.live_latency: logins, and events made through the site's pages.

The event generator runs in its own process (``generator_main``): logged-in
readers open story pages (a ``read``) and post comments, authors publish
stories, each request a normal form post with its CSRF token. Event ``j``
starts at ``start_at + j / rate`` on worker ``j % N``.
"""

from __future__ import annotations

import http.client
import random
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

TIMEOUT = 30.0
# Requests running at once in the generator; past this, the schedule waits (and the report says so).
THREADS = 8
IN_FLIGHT = THREADS * 4
# What an event is, with its weight: mostly reads, as on the demo site.
MIX = (("read", 75), ("comment", 20), ("publish", 5))
ERROR_SAMPLES = 5


class SetupError(Exception):
    """The benchmark cannot run: a clear message for the user."""


_local = threading.local()


def request(
    port: int,
    method: str,
    path: str,
    *,
    cookies: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on this thread's keep-alive connection to the port; retried once on a stale one."""
    connections = _local.__dict__.setdefault("connections", {})
    headers = {"Referer": f"http://127.0.0.1:{port}{path}"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    for attempt in range(2):
        connection = connections.get(port)
        if connection is None:
            connection = connections[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            connection.close()
            del connections[port]
            if attempt:
                raise
            continue
        if response.will_close:
            connection.close()
            del connections[port]
        return response.status, response.headers, data
    raise AssertionError("unreachable")


def set_cookies(headers: http.client.HTTPMessage) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for header in headers.get_all("Set-Cookie") or []:
        jar = SimpleCookie()
        jar.load(header)
        cookies.update({name: morsel.value for name, morsel in jar.items()})
    return cookies


@dataclass
class Login:
    username: str
    cookies: dict[str, str]

    @property
    def session(self) -> str:
        return self.cookies["sessionid"]

    @property
    def csrf(self) -> str:
        return self.cookies["csrftoken"]


def log_in(port: int, username: str, password: str) -> Login:
    """A new session for the user, as a browser gets it: the login form, then its POST."""
    try:
        status, headers, _ = request(port, "GET", "/accounts/login/")
        csrf = set_cookies(headers).get("csrftoken")
        if status != 200 or not csrf:
            raise SetupError(f"GET /accounts/login/ on port {port}: HTTP {status}, csrftoken {bool(csrf)}")
        form = {"username": username, "password": password, "csrfmiddlewaretoken": csrf}
        status, headers, _ = request(port, "POST", "/accounts/login/", cookies={"csrftoken": csrf}, form=form)
    except OSError as error:
        raise SetupError(f"login as {username} on port {port}: {error}") from error
    cookies = {"csrftoken": csrf, **set_cookies(headers)}
    if status != 302 or "sessionid" not in cookies:
        raise SetupError(f"login as {username} on port {port} failed: HTTP {status} (wrong DEMO_PASSWORD?)")
    return Login(username, {name: cookies[name] for name in ("sessionid", "csrftoken")})


@dataclass
class RunStats:
    """What the generator did in one run."""

    planned: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    start_lag_ms: list[float] = field(default_factory=list)
    first_start: float = 0.0
    last_end: float = 0.0


class Generator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.ports: list[int] = spec["ports"]
        self.stories: list[int] = spec["stories"]
        password = spec["password"]
        self.readers = [
            log_in(self.ports[i % len(self.ports)], name, password) for i, name in enumerate(spec["readers"])
        ]
        self.authors = [
            log_in(self.ports[i % len(self.ports)], name, password) for i, name in enumerate(spec["authors"])
        ]
        self.rng = random.Random(spec.get("seed", 8))
        self.lock = threading.Lock()

    def event(
        self, stats: RunStats, number: int, kind: str, port: int, who: Login, story: int, scheduled: float
    ) -> None:
        start = time.time()
        try:
            if kind == "read":
                status, _, _ = request(port, "GET", f"/stories/{story}/", cookies=who.cookies)
                ok = status == 200
            elif kind == "comment":
                form = {"body": f"Bench comment {number}", "csrfmiddlewaretoken": who.csrf}
                status, _, _ = request(
                    port, "POST", f"/stories/{story}/comments/", cookies=who.cookies, form=form
                )
                ok = status == 302
            else:
                form = {
                    "title": f"Bench story {number}",
                    "body": "Written by bench.live_latency.",
                    "publish": "on",
                    "csrfmiddlewaretoken": who.csrf,
                }
                status, _, _ = request(port, "POST", "/stories/new/", cookies=who.cookies, form=form)
                ok = status == 302
            problem = "" if ok else f"{kind} as {who.username}: HTTP {status}"
        except OSError as error:
            problem = f"{kind} as {who.username}: {error!r}"
        end = time.time()
        with self.lock:
            stats.kinds[kind] += 1
            stats.latencies_ms.append((end - start) * 1000)
            stats.start_lag_ms.append((start - scheduled) * 1000)
            stats.first_start = min(stats.first_start or start, start)
            stats.last_end = max(stats.last_end, end)
            if problem:
                stats.errors += 1
                if len(stats.error_samples) < ERROR_SAMPLES:
                    stats.error_samples.append(problem)

    def run(self, rate: float, total: int, start_at: float) -> RunStats:
        stats = RunStats(planned=total)
        kinds, weights = zip(*MIX, strict=True)
        slots = threading.BoundedSemaphore(IN_FLIGHT)

        def task(*args: Any) -> None:
            try:
                self.event(*args)
            finally:
                slots.release()

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            for index in range(total):
                scheduled = start_at + index / rate
                delay = scheduled - time.time()
                if delay > 0:
                    time.sleep(delay)
                kind = self.rng.choices(kinds, weights)[0]
                people = self.authors if kind == "publish" else self.readers
                who = people[index % len(people)]
                port = self.ports[index % len(self.ports)]
                slots.acquire()  # bounded: a stalled server holds the schedule, never a backlog
                story = self.rng.choice(self.stories)
                pool.submit(task, stats, index, kind, port, who, story, scheduled)
        return stats


def generator_main(conn: Any, spec: dict[str, Any]) -> None:
    """Process entry: log in, say ready, then run what the parent asks until it says quit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent cleans up on Ctrl-C
    try:
        generator = Generator(spec)
    except (SetupError, OSError) as error:
        conn.send(("error", str(error)))
        return
    conn.send(("ready", None))
    while True:
        message = conn.recv()
        if not (isinstance(message, tuple) and message[0] == "run"):
            return
        conn.send(("done", generator.run(**message[1])))
