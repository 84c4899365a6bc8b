"""Live latency: from commit to the open tables, what it costs the server, and the floor beside it.

Starts the site's ASGI server(s) (daphne or uvicorn, ``--workers`` processes
sharing the Redis layer when more than one) on a fresh database (SQLite, or
a new PostgreSQL database when ``DATABASE_URL`` is set), migrated and seeded
through ``manage.py``. Logs in over HTTP as the demo readers and authors
(at most ``--per-session`` sockets per session), opens ``--sockets``
websockets from ``--clients`` processes: half on ``/feed/``, half on the
``/reads/`` of alice and bob, spread round-robin over the workers. Then
``--rate`` events/s are committed for ``--duration`` s, by ``--source``:

- ``pages`` (default): another process goes through the site's pages (story
  reads, comment and story forms), so the server also renders them;
- ``simulator``: the site's own traffic simulator (``publishing.simulation.step``,
  the same business services, Poisson arrivals), so the figures are the live
  fan-out without page rendering. With 1 worker it runs inside the server
  (``SIMULATE=1``, ``SIMULATE_RATE``), as ``make run`` does; with more, as
  ``manage.py simulate --rate R --duration D`` in its own process, its events
  reaching every worker through Redis (its commits then cost no server CPU).

After ``--drain`` s each socket's rows are compared with the database:
expected = the actions with an id above its first ``after`` (with the
simulator: committed inside the load window) that its table shows; latency =
arrival minus ``Action.timestamp`` (same clock). Server CPU (utime + stime
from /proc) over the load window is divided by the rows delivered.

``--baseline S`` first runs the same page traffic with no socket open to
price the pages themselves, so the report can also give server CPU per row
net of them (not with the simulator: it renders no page). ``--floor`` also
runs ``bench.floor_asgi`` (a bare Channels consumer
forwarding a ready string, one ``group_send`` per event) under the same
server with the same sockets and rate; ``--repeat`` interleaves the runs.
With Redis, use a database index of its own (``redis://127.0.0.1:6379/7``):
the site's broadcast group is shared by every server on that index.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from bench import common
from bench.live_traffic import RunStats, SetupError, log_in, request
from tests.servers import ROOT, Server, free_port, manage, project_database, project_env, server_command

SITE_APP = "dashboard.asgi:application"
FLOOR_APP = "bench.floor_asgi:application"
FEED_READERS = ("rae", "ravi", "rita", "raj")  # not staff: their feed is the public actions
AUTHORS = ("alice", "bob")  # their /reads/; the stories the traffic reads and comments on
SETTLE = 1.0  # seconds between the last socket opening and the first event
START_DELAY = 0.5  # seconds to schedule the first event ahead, so every worker starts together
PROCESS_GRACE = 60.0  # seconds a child may take past its expected time before it counts as stuck
BUSY_CLIENT_PCT = 80.0  # past this, clients may be what limits the figures
BUSY_LAG_MS = 50.0
BUSY_MACHINE = 0.9  # share of all CPUs past which the machine was the limit
TAIL = 1.0  # seconds at the end of the drain in which an arrival means rows were still coming
SOURCES = ("pages", "simulator")
SIMULATOR_SEED = 8  # manage.py simulate --seed (N workers); the in-server simulator takes none
POLL = 0.05  # seconds between looks at the simulate process and the Action table


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Trial:
    """One run of the site or the floor, with its figures."""

    name: str
    latencies: list[float] = field(default_factory=list)
    expected: int = 0
    received: int = 0
    lost: int = 0
    duplicates: int = 0
    unexpected: int = 0
    resent: int = 0
    reconnects: int = 0
    frames: int = 0
    rows: int = 0
    row_frames: int = 0
    row_bytes: int = 0
    heartbeats: int = 0
    notices: int = 0
    others: int = 0
    other_sample: str = ""
    not_connected: int = 0
    opened: int = 0
    deflate: int = 0
    connect_errors: Counter[str] = field(default_factory=Counter)
    final_closes: Counter[int] = field(default_factory=Counter)
    server_cpu: float = 0.0
    window: float = 0.0
    window_end: float = 0.0  # wall clock at the end of the drain
    tail: int = 0  # rows that arrived in the drain's last TAIL seconds: still coming
    machine_busy: float = 0.0
    client_cpu: list[float] = field(default_factory=list)
    client_lag: list[float] = field(default_factory=list)
    client_loop: str = ""
    events: int = 0
    actions: int = 0
    http: RunStats | None = None
    pages_cpu_per_event: float | None = None
    source_notes: list[str] = field(default_factory=list)  # how the simulator made the events
    outside: int = 0  # rows of actions committed outside the simulator's load window: not judged
    load_seconds: float = 0.0  # the simulator's load window, without the drain

    def value(self, column: str) -> float | None:
        """A figure of the run by column name (None where it does not apply)."""
        return self.figures[column]

    @cached_property
    def figures(self) -> dict[str, float | None]:
        """Computed once, when the run is over: the latencies may be millions."""
        latencies = sorted(self.latencies)
        lag = sorted(self.client_lag) or [0.0]

        def latency(fraction: float) -> float | None:
            return common.percentile(latencies, fraction) if latencies else None

        return {
            "p50": latency(0.5),
            "p90": latency(0.9),
            "p99": latency(0.99),
            "max": latencies[-1] if latencies else None,
            "expected": self.expected,
            "received": self.received,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "unexpected": self.unexpected,
            "reconnects": self.reconnects,
            "frames": self.frames,
            "rows_per_frame": self.rows / self.row_frames if self.row_frames else None,
            "cpu_per_row": self.server_cpu * 1000 / self.rows if self.rows else None,
            "cpu_per_row_net": self.net_cpu_per_row(),
            "client_cpu": max(self.client_cpu) if self.client_cpu else None,
            "lag_p99": common.percentile(lag, 0.99) * 1000,
            "lag_max": lag[-1] * 1000,
            "server_pct": self.server_cpu / self.window * 100 if self.window else None,
            "machine_pct": self.machine_busy,
        }

    def net_cpu_per_row(self) -> float | None:
        """Server CPU per row without what the pages cost alone (the floor: its publisher stays in)."""
        if not self.rows:
            return None
        if self.http is None:
            return self.server_cpu * 1000 / self.rows
        if self.pages_cpu_per_event is None:
            return None
        pages = self.pages_cpu_per_event * self.http.planned
        return max(0.0, self.server_cpu - pages) * 1000 / self.rows


# (column, header, format) of the main table.
MAIN_COLUMNS = (
    ("p50", "p50 ms", "{:.1f}"),
    ("p90", "p90 ms", "{:.1f}"),
    ("p99", "p99 ms", "{:.1f}"),
    ("max", "max ms", "{:.1f}"),
    ("expected", "rows expected", "{:,.0f}"),
    ("received", "received", "{:,.0f}"),
    ("lost", "lost", "{:,.0f}"),
    ("duplicates", "duplicated", "{:,.0f}"),
    ("unexpected", "unexpected", "{:,.0f}"),
    ("reconnects", "reconnects", "{:,.0f}"),
    ("frames", "frames", "{:,.0f}"),
    ("rows_per_frame", "rows/frame", "{:.2f}"),
    ("cpu_per_row", "srv CPU ms/row", "{:.3f}"),
    ("client_cpu", "client CPU %", "{:.0f}"),
)
DETAIL_COLUMNS = (
    ("cpu_per_row_net", "srv ms/row net of pages", "{:.3f}"),
    ("server_pct", "srv CPU %", "{:.0f}"),
    ("machine_pct", "machine CPU %", "{:.0f}"),
    ("lag_p99", "client lag p99 ms", "{:.1f}"),
    ("lag_max", "client lag max ms", "{:.1f}"),
)


def process_cpu(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def servers_cpu(servers: Sequence[Server]) -> float:
    total = 0.0
    for server in servers:
        assert server.process is not None
        if server.process.poll() is not None:
            log = server.log.read_text()[-3000:] if server.log else ""
            raise SetupError(f"server on port {server.port} exited with {server.process.returncode}:\n{log}")
        total += process_cpu(server.process.pid)
    return total


def newest_action() -> int:
    from streams.models import Action

    return Action.objects.order_by("-id").values_list("id", flat=True).first() or 0


def action_time(pk: int) -> float:
    from streams.models import Action

    return Action.objects.get(pk=pk).timestamp.timestamp()


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_with_cpu(process: subprocess.Popen[bytes], timeout: float) -> float:
    """Reap the process when it ends; its utime + stime, in seconds."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            raise SetupError(f"pid {process.pid} still running {timeout:.0f} s later")
        time.sleep(POLL)


class Child:
    """A spawned helper process and its pipe; stopped on exit whatever happened."""

    def __init__(self, target: Callable[..., None], *args: Any, name: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=target, args=(child_end, *args), name=name, daemon=True)
        self.process.start()
        child_end.close()
        self.name = name

    def send(self, message: Any) -> None:
        self.conn.send(message)

    def receive(self, timeout: float, what: str) -> Any:
        if not self.conn.poll(timeout):
            raise SetupError(f"{self.name}: no answer in {timeout:.0f} s ({what})")
        try:
            return self.conn.recv()
        except EOFError:
            raise SetupError(f"{self.name} exited ({what}), code {self.process.exitcode}") from None

    def stop(self) -> None:
        with suppress(OSError, ValueError):
            self.conn.send("quit")
        self.process.join(5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path, env: dict[str, str]) -> None:
        self.args = args
        self.tmp = tmp
        self.env = env
        self.password = env["DEMO_PASSWORD"]
        from django.contrib.auth import get_user_model

        from publishing.models import Story

        self.author_ids = dict(
            get_user_model().objects.filter(username__in=AUTHORS).values_list("username", "pk")
        )
        self.stories = list(
            Story.objects.published().filter(author__username__in=AUTHORS).values_list("pk", flat=True)
        )
        if len(self.author_ids) != len(AUTHORS) or not self.stories:
            raise SetupError("seed_demo made no stories by alice and bob: is it the project's seed_demo?")
        self.frame_bytes = 0  # the site's bytes per row, for the floor's frames
        self.session_count = 0

    # -- processes -------------------------------------------------------

    def start_servers(self, stack: ExitStack, app: str, env: dict[str, str], label: str) -> list[Server]:
        servers = []
        for number in range(self.args.workers):
            port = free_port()
            command = server_command(self.args.server, port)
            command[command.index(SITE_APP)] = app
            server = Server(
                url=f"http://127.0.0.1:{port}",
                port=port,
                env=env,
                command=command,
                log=self.tmp / f"{label}-{number}.log",
            )
            stack.callback(server.stop)
            try:
                server.start()
            except RuntimeError as error:
                raise SetupError(str(error)) from None
            servers.append(server)
        return servers

    def start_clients(self, stack: ExitStack, specs: list[dict[str, Any]]) -> list[Child]:
        from bench.live_clients import client_main

        count = min(self.args.clients, len(specs))
        options = {
            "compression": None if self.args.compression == "none" else self.args.compression,
            "connect_concurrency": self.args.connect_concurrency,
            "connect_timeout": self.connect_timeout(),
            # The in-server simulator commits from startup: count frames and rows in the window only.
            "count_from_start": self.args.source == "simulator",
        }
        clients = []
        for number in range(count):
            client = Child(client_main, specs[number::count], options, name=f"client process {number}")
            stack.callback(client.stop)
            clients.append(client)
        opened = 0
        for client in clients:
            status, value = client.receive(self.connect_timeout() + PROCESS_GRACE, "opening sockets")
            assert status == "ready", status
            opened += value
        if not opened:
            raise SetupError("no websocket opened: see the server logs")
        progress(f"{opened} of {len(specs)} sockets open; load for {self.args.duration:g} s")
        return clients

    def connect_timeout(self) -> float:
        return 30 + self.args.sockets * 0.05

    @staticmethod
    def collect(clients: list[Child]) -> list[dict[str, Any]]:
        for client in clients:
            client.send("stop")
        return [client.receive(PROCESS_GRACE, "results")[1] for client in clients]

    # -- the site ----------------------------------------------------------

    def socket_plan(self) -> list[tuple[str, str]]:
        """(table, login user) per socket: feed and reads alternate, so every process and worker gets both."""
        plan = []
        feed = reads = 0
        for index in range(self.args.sockets):
            if index % 2 == 0:
                plan.append(("feed", FEED_READERS[feed % len(FEED_READERS)]))
                feed += 1
            else:
                plan.append(("reads", AUTHORS[reads % len(AUTHORS)]))
                reads += 1
        return plan

    def sessions(self, plan: list[tuple[str, str]], ports: list[int]) -> list[str]:
        """A session id per socket: each user's sockets spread over as few logins as the cap allows."""
        per_user = Counter(user for _, user in plan)
        logins: dict[str, list[str]] = {}
        for number, (user, count) in enumerate(sorted(per_user.items())):
            sessions = math.ceil(count / self.args.per_session)
            logins[user] = [
                log_in(ports[(number + n) % len(ports)], user, self.password).session for n in range(sessions)
            ]
        self.session_count = sum(len(ids) for ids in logins.values())
        seen: Counter[str] = Counter()
        result = []
        for _, user in plan:
            result.append(logins[user][seen[user] % len(logins[user])])
            seen[user] += 1
        return result

    def site_trial(self, number: int) -> Trial:
        from bench.live_traffic import generator_main
        from dashboard import verbs
        from streams.models import Action

        trial = Trial(f"ours #{number}")
        simulator = self.args.source == "simulator"
        env = self.env
        if simulator and self.args.workers == 1:
            # The in-process broadcast reaches this server's sockets only from its own process.
            env = {**env, "SIMULATE": "1", "SIMULATE_RATE": str(self.args.rate)}
        with ExitStack() as stack:
            servers = self.start_servers(stack, SITE_APP, env, f"site{number}")
            ports = [server.port for server in servers]
            plan = self.socket_plan()
            sessions = self.sessions(plan, ports)
            generator = None
            if not simulator:
                spec = {"ports": ports, "stories": self.stories, "password": self.password}
                spec |= {"readers": FEED_READERS, "authors": AUTHORS, "seed": 8}
                generator = Child(generator_main, spec, name="event generator")
                stack.callback(generator.stop)
                status, value = generator.receive(PROCESS_GRACE, "logging in")
                if status != "ready":
                    raise SetupError(f"event generator: {value}")

            if generator is not None and self.args.baseline > 0:
                progress(f"ours #{number}: {self.args.baseline:g} s of pages with no socket open")
                before = servers_cpu(servers)
                stats = self.run_traffic(generator, self.args.baseline)
                trial.pages_cpu_per_event = (servers_cpu(servers) - before) / max(stats.planned, 1)

            after = newest_action()
            specs = []
            for index, ((table, user), session) in enumerate(zip(plan, sessions, strict=True)):
                port = ports[index % len(ports)]
                specs.append(
                    {
                        "key": table if table == "feed" else f"reads:{user}",
                        "url": f"ws://127.0.0.1:{port}/ws/live/?table={table}",
                        "origin": f"http://127.0.0.1:{port}",
                        "headers": {"Cookie": f"sessionid={session}"},
                        "after": after,
                    }
                )
            clients = self.start_clients(stack, specs)
            time.sleep(SETTLE)
            loaded: tuple[int, int] | None = None  # (first, last] action ids judged
            if generator is None:
                loaded = self.simulate(stack, trial, servers, clients, number)
            else:
                window = self.open_window(servers, clients)
                trial.http = self.run_traffic(generator, self.args.duration)
                time.sleep(self.args.drain)
                self.close_window(trial, window, servers)
            results = self.collect(clients)

        judged = Action.objects.filter(id__gt=after)
        if loaded is not None:
            judged = Action.objects.filter(id__gt=loaded[0], id__lte=loaded[1])
        actions = list(judged.values_list("id", "timestamp", "public", "verb", "owner_id"))
        committed = {pk: timestamp.timestamp() for pk, timestamp, *_ in actions}
        # What the tables' queries keep for a reader who is not staff (dashboard.tables: FEED, READS).
        expected: dict[str, set[int]] = {
            "feed": {pk for pk, _, public, verb, _ in actions if public and verb in verbs.PUBLIC_VERBS}
        }
        for author, author_id in self.author_ids.items():
            expected[f"reads:{author}"] = {
                pk
                for pk, _, public, verb, owner in actions
                if public and verb == verbs.READ and owner == author_id
            }
        trial.actions = len(actions)
        trial.events = trial.http.planned if trial.http is not None else trial.actions
        self.analyse(trial, results, expected, committed, loaded)
        if trial.rows:
            self.frame_bytes = round(trial.row_bytes / trial.rows)
        return trial

    def simulate(
        self, stack: ExitStack, trial: Trial, servers: list[Server], clients: list[Child], number: int
    ) -> tuple[int, int]:
        """The load window with the site's simulator committing; the action ids it judges: (first, last].

        1 worker: the simulator has run inside the server since it started (uvicorn's
        lifespan, daphne's first request: the logins) and cannot be held back, and the
        sockets must connect before the window. Giving each socket ``after`` = the newest
        id at the window's start would not do: ``after`` only bounds the catch-up on
        connect, and the sockets are open before the window, so they also receive live
        every action committed between their connect and the start, and, through the
        drain (the simulator keeps going), after the end. So the actions judged are those
        with an id above the newest at the start and up to the newest at the end; rows of
        any other action are set aside, neither expected nor unexpected, and the clients
        count frames and rows from the start only, like the server CPU. N workers: the
        same bounds, around a ``manage.py simulate`` process: the window opens at its
        first commit (its Django start-up is not load) and the load ends at its exit.
        """
        rate, duration = f"{self.args.rate:g}", f"{self.args.duration:g}"
        if self.args.workers == 1:
            window = self.open_window(servers, clients)
            first, started = newest_action(), time.monotonic()
            time.sleep(self.args.duration)
            last, trial.load_seconds = newest_action(), time.monotonic() - started
            trial.source_notes.append(
                f"events by the site's simulator inside the server (SIMULATE=1 SIMULATE_RATE={rate}), running "
                "from its start-up to its stop: its commits are in srv CPU"
            )
        else:
            log = self.tmp / f"simulate{number}.log"
            command = [sys.executable, "manage.py", "simulate", "--rate", rate, "--duration", duration]
            command += ["--seed", str(SIMULATOR_SEED)]
            before = newest_action()
            with log.open("ab") as handle:  # the child keeps its own copy
                process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=handle, stderr=handle)
            launched = time.monotonic()
            stack.callback(stop_process, process)
            deadline = time.monotonic() + PROCESS_GRACE
            while newest_action() == before and process.poll() is None:
                if time.monotonic() > deadline:
                    raise SetupError(
                        f"manage.py simulate committed nothing in {PROCESS_GRACE:g} s: see {log}"
                    )
                time.sleep(POLL)
            if process.returncode is not None:
                raise SetupError(
                    f"manage.py simulate exited ({process.returncode}) before committing anything:\n"
                    f"{log.read_text()[-3000:]}"
                )
            window = self.open_window(servers, clients)
            first, opened = newest_action(), time.time()
            cpu = wait_with_cpu(process, self.args.duration + PROCESS_GRACE)
            last = newest_action()
            # Up to its last commit: the process takes a while to exit after its --duration.
            trial.load_seconds = max(0.0, action_time(last) - opened) if last > first else 0.0
            output = log.read_text()
            if process.returncode:
                raise SetupError(f"manage.py simulate exited with {process.returncode}:\n{output[-3000:]}")
            steps = re.search(r"Simulated (\d+) events", output)
            trial.source_notes.append(
                f"events by `manage.py simulate --rate {rate} --duration {duration} --seed {SIMULATOR_SEED}` "
                f"through Redis: {steps.group(1) if steps else '?'} steps in all; the load window runs from its "
                f"first commit ({window[2] - launched:.1f} s after its launch) to its last; its CPU {cpu:.2f} s "
                "(start-up included) is not in srv CPU"
            )
        time.sleep(self.args.drain)
        self.close_window(trial, window, servers)
        return first, last

    def run_traffic(self, generator: Child, seconds: float) -> RunStats:
        total = max(1, round(self.args.rate * seconds))
        args = {"rate": self.args.rate, "total": total, "start_at": time.time() + START_DELAY}
        generator.send(("run", args))
        status, stats = generator.receive(seconds + PROCESS_GRACE, "making events")
        assert status == "done", status
        return stats

    # -- the floor ---------------------------------------------------------

    def floor_trial(self, number: int) -> Trial:
        trial = Trial(f"floor #{number}")
        env = {
            **self.env,
            "DJANGO_SETTINGS_MODULE": "bench.floor_settings",
            "FLOOR_GROUP": f"bench.floor.{uuid.uuid4().hex}",
        }
        total = max(1, round(self.args.rate * self.args.duration))
        with ExitStack() as stack:
            servers = self.start_servers(stack, FLOOR_APP, env, f"floor{number}")
            ports = [server.port for server in servers]
            specs = [
                {
                    "key": "floor",
                    "url": f"ws://127.0.0.1:{ports[index % len(ports)]}/ws/live/?table=feed",
                    "origin": f"http://127.0.0.1:{ports[index % len(ports)]}",
                    "headers": {},
                    "after": 0,
                }
                for index in range(self.args.sockets)
            ]
            clients = self.start_clients(stack, specs)
            time.sleep(SETTLE)
            window = self.open_window(servers, clients)
            start_at = time.time() + START_DELAY
            for offset, port in enumerate(ports):
                query = f"rate={self.args.rate}&total={total}&offset={offset}&step={len(ports)}"
                query += f"&start_at={start_at}&size={self.frame_bytes}"
                status, _, body = request(port, "GET", f"/publish/?{query}")
                if status != 200:
                    raise SetupError(f"floor publisher on port {port}: HTTP {status} {body[:200]!r}")
            time.sleep(max(0.0, start_at + self.args.duration - time.time()))
            published = self.floor_published(ports)
            time.sleep(self.args.drain)
            self.close_window(trial, window, servers)
            results = self.collect(clients)
        trial.events = trial.actions = len(published)
        self.analyse(trial, results, {"floor": set(published)}, published)
        return trial

    @staticmethod
    def floor_published(ports: list[int]) -> dict[int, float]:
        import json

        deadline = time.monotonic() + PROCESS_GRACE
        while True:
            states = [json.loads(request(port, "GET", "/published/")[2]) for port in ports]
            if all(state["done"] for state in states):
                return {event: sent for state in states for event, sent in state["published"]}
            if time.monotonic() > deadline:
                # The floor fell behind its own schedule: judge what it managed to send.
                sent = {event: when for state in states for event, when in state["published"]}
                progress(f"floor publishers fell behind: {len(sent)} events sent by the deadline")
                return sent
            time.sleep(0.2)

    # -- measuring -----------------------------------------------------------

    @staticmethod
    def open_window(servers: list[Server], clients: list[Child]) -> tuple[float, tuple[float, float], float]:
        for client in clients:
            client.send("start")
        return servers_cpu(servers), machine_cpu(), time.monotonic()

    @staticmethod
    def close_window(
        trial: Trial, window: tuple[float, tuple[float, float], float], servers: list[Server]
    ) -> None:
        cpu, (busy, total), start = window
        trial.server_cpu = servers_cpu(servers) - cpu
        trial.window = time.monotonic() - start
        trial.window_end = time.time()
        busy_now, total_now = machine_cpu()
        trial.machine_busy = (busy_now - busy) / max(total_now - total, 1) * 100 * (os.cpu_count() or 1)

    @staticmethod
    def analyse(
        trial: Trial,
        results: list[dict[str, Any]],
        expected: dict[str, set[int]],
        sent: dict[int, float],
        judged: tuple[int, int] | None = None,
    ) -> None:
        """Each socket against what its table should have shown (only ids in ``judged``'s (first, last])."""
        for result in results:
            trial.client_cpu.append(result["cpu"] / max(result["wall"], 1e-9) * 100)
            trial.client_lag.extend(result["lag"])
            trial.client_loop = result["loop"]
            for socket in result["sockets"]:
                trial.connect_errors.update(socket["connect_errors"])
                if not socket["opened"]:
                    trial.not_connected += 1
                    continue
                trial.opened += 1
                trial.deflate += socket["deflate"]
                want = expected[socket["key"]]
                ids, times = array("q"), array("d")
                ids.frombytes(socket["ids"])
                times.frombytes(socket["times"])
                matched = received = 0
                for action, arrived in zip(ids, times, strict=True):
                    if judged is not None and not judged[0] < action <= judged[1]:
                        trial.outside += 1  # committed before or after the load window
                        continue
                    received += 1
                    trial.tail += arrived > trial.window_end - TAIL
                    if action in want:
                        matched += 1
                        trial.latencies.append((arrived - sent[action]) * 1000)
                    else:
                        trial.unexpected += 1
                trial.expected += len(want)
                trial.received += received
                trial.lost += len(want) - matched
                if socket["final_close"] is not None:
                    trial.final_closes[socket["final_close"]] += 1
                for name in ("duplicates", "resent", "reconnects", "frames", "rows", "row_frames"):
                    setattr(trial, name, getattr(trial, name) + socket[name])
                for name in ("row_bytes", "heartbeats", "notices", "others"):
                    setattr(trial, name, getattr(trial, name) + socket[name])
                trial.other_sample = trial.other_sample or socket["other_sample"]


# -- report ----------------------------------------------------------------


def cell(value: float | None, spec: str) -> str:
    return "—" if value is None else spec.format(value)


def summary_rows(trials: list[Trial], columns: Sequence[tuple[str, str, str]]) -> list[list[str]]:
    rows = [[trial.name, *(cell(trial.value(name), spec) for name, _, spec in columns)] for trial in trials]
    kinds = sorted({trial.name.split(" #")[0] for trial in trials}, reverse=True)
    for kind in kinds:
        runs = [trial for trial in trials if trial.name.startswith(f"{kind} #")]
        if len(runs) < 2:
            continue
        medians, spreads = [f"{kind} median"], [f"{kind} min–max"]
        for name, _, spec in columns:
            values = [v for v in (trial.value(name) for trial in runs) if v is not None]
            medians.append(cell(common.median(values), spec) if values else "—")
            spreads.append(f"{cell(min(values), spec)}–{cell(max(values), spec)}" if values else "—")
        rows += [medians, spreads]
    return rows


def kind_median(trials: list[Trial], kind: str, column: str) -> float | None:
    values = [v for t in trials if t.name.startswith(f"{kind} #") and (v := t.value(column)) is not None]
    return common.median(values) if values else None


def notes(trial: Trial) -> Iterator[str]:
    """What the table cannot show: refusals, errors, odd frames, a busy client or machine."""
    if trial.http is not None:
        http = trial.http
        span = http.last_end - http.first_start
        late = common.percentile(http.start_lag_ms, 0.99) if http.start_lag_ms else 0.0
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(http.kinds.items()))
        yield (
            f"{http.planned} page requests ({kinds}) in {span:.1f} s ({http.planned / max(span, 1e-9):.1f}/s), "
            f"{trial.actions} actions committed; request ms p50 {common.percentile(http.latencies_ms, 0.5):.0f}"
            f" p99 {common.percentile(http.latencies_ms, 0.99):.0f}; start late p99 {late:.0f} ms"
        )
        if http.errors:
            yield f"{http.errors} page requests failed, e.g. {'; '.join(http.error_samples)}"
    elif trial.source_notes:
        yield from trial.source_notes
        seconds = max(trial.load_seconds, 1e-9)
        yield (
            f"{trial.actions} actions committed in the {trial.load_seconds:.1f} s load window "
            f"({trial.actions / seconds:.1f}/s), judged; {trial.outside:,} rows of actions committed before or "
            "after it (on connect, before the start, in the drain) set aside"
        )
    else:
        yield f"{trial.events} events published"
    if trial.pages_cpu_per_event is not None:
        yield f"pages alone (baseline, no socket open): {trial.pages_cpu_per_event * 1000:.1f} ms server CPU per request"
    yield (
        f"frames: {trial.row_frames:,} with rows, {trial.heartbeats:,} heartbeats, {trial.notices:,} notices, "
        f"{trial.others:,} other; {trial.resent:,} rows sent again after a reconnect; "
        f"{trial.row_bytes / max(trial.rows, 1):.0f} bytes per row"
    )
    yield f"permessage-deflate negotiated on {trial.deflate} of {trial.opened} sockets"
    if trial.tail:
        yield (
            f"WARNING: {trial.tail:,} rows arrived in the last {TAIL:g} s of the drain: rows were still "
            "coming, so 'lost' may count late rows (raise --drain)"
        )
    if trial.not_connected:
        yield f"{trial.not_connected} sockets never opened"
    if trial.connect_errors:
        yield f"failed connects: {dict(trial.connect_errors)}"
    if trial.final_closes:
        yield f"closed by the server for good (code: sockets): {dict(sorted(trial.final_closes.items()))}"
    if trial.others:
        yield f"an unexpected frame: {trial.other_sample!r}"
    client_cpu, lag = trial.value("client_cpu") or 0.0, trial.value("lag_p99") or 0.0
    capacity = 100 * (os.cpu_count() or 1)
    if client_cpu > BUSY_CLIENT_PCT:
        yield f"WARNING: a client process used {client_cpu:.0f} % of a CPU; raise --clients"
    elif lag > BUSY_LAG_MS:
        yield (
            f"WARNING: client event loops woke {lag:.0f} ms late (p99) at {client_cpu:.0f} % CPU: "
            "they waited for a CPU, and so did their arrival times"
        )
    if trial.machine_busy > BUSY_MACHINE * capacity:
        yield (
            f"WARNING: the machine was {trial.machine_busy:.0f} % busy of {capacity} %: "
            "everything here (servers, clients, database, anything else running) competed for CPU"
        )


def report(args: argparse.Namespace, trials: list[Trial], sessions: int) -> None:
    from django.conf import settings

    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    feed = (args.sockets + 1) // 2
    clients = min(args.clients, args.sockets)
    if args.source == "pages":
        source = "pages: story reads, comment and story forms over HTTP"
    elif args.workers == 1:
        source = "simulator: publishing.simulation.step inside the server (SIMULATE=1), no page rendered"
    else:
        source = "simulator: publishing.simulation.step in a manage.py simulate process, no page rendered"
    print(
        f"{args.sockets} sockets ({feed} /feed/, {args.sockets - feed} /reads/; {sessions} sessions, at most "
        f"{args.per_session} sockets each) from {clients} client processes ({trials[0].client_loop} loop, "
        f"compression {args.compression}); {args.rate:g} events/s for {args.duration:g} s, drain {args.drain:g} s; "
        f"{args.workers} × {args.server}, {layer}; {common.environment()}"
    )
    print(f"Source of the events (--source {args.source}): {source}.")
    if args.baseline_skipped:
        print(
            f"--baseline {args.baseline_skipped:g} not run: the simulator renders no page, so there is nothing "
            "to price; the net column equals the gross one."
        )
    print(
        "Latency: arrival at the client minus Action.timestamp (ours) or the publisher's send time (floor). "
        "Server CPU: utime+stime of the server processes over the load window, per row delivered. "
        f"Machine CPU: all {os.cpu_count()} CPUs, 100 % each."
    )
    print()
    header = ["run", *(title for _, title, _ in MAIN_COLUMNS)]
    print(common.table(header, summary_rows(trials, MAIN_COLUMNS)))
    print()
    header = ["run", *(title for _, title, _ in DETAIL_COLUMNS)]
    print(common.table(header, summary_rows(trials, DETAIL_COLUMNS)))
    print()
    for trial in trials:
        for line in notes(trial):
            print(f"{trial.name}: {line}")
    ours, floor = kind_median(trials, "ours", "cpu_per_row"), kind_median(trials, "floor", "cpu_per_row")
    if ours is not None and floor:
        ratio = f"Server CPU per delivered row, ours / floor: {ours / floor:.1f}×"
        net = kind_median(trials, "ours", "cpu_per_row_net")
        if net is not None and args.baseline > 0:
            ratio += f" (net of the pages' own cost: {net / floor:.1f}×)"
        print()
        print(ratio + (" (medians)" if args.repeat > 1 else ""))
    print()
    print(f"Reproduce: {reproduce(args)}")


def reproduce(args: argparse.Namespace) -> str:
    values = {
        name: int(value) if isinstance(value := getattr(args, name), float) and value.is_integer() else value
        for name in (
            "server",
            "workers",
            "sockets",
            "rate",
            "duration",
            "repeat",
            "clients",
            "per_session",
            "compression",
            "drain",
            "baseline",
        )
    }
    values["source"] = args.source
    if args.source == "simulator":
        del values["baseline"]  # meaningless there: no page is rendered
    line = common.command("bench.live_latency", values) + (" --floor" if args.floor else "")
    redis = os.environ.get("REDIS_URL")
    return f"REDIS_URL={common._shown_url(redis)} {line}" if redis else line


# -- setup -----------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.live_latency", description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=("daphne", "uvicorn"), default="daphne")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (default 1; >1 needs REDIS_URL)"
    )
    parser.add_argument("--sockets", type=int, default=1000, help="websockets (default 1000)")
    parser.add_argument("--rate", type=float, default=20, help="events per second (default 20)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of events (default 60)")
    parser.add_argument("--floor", action="store_true", help="also run the floor (bare Channels consumer)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, interleaved (default 1)")
    default_clients = max(1, min(os.cpu_count() or 1, 4))
    parser.add_argument(
        "--clients", type=int, default=default_clients, help=f"client processes (default {default_clients})"
    )
    parser.add_argument("--per-session", type=int, default=15, help="sockets per login session (default 15)")
    parser.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="permessage-deflate offered by the clients, as browsers do (default deflate)",
    )
    parser.add_argument(
        "--drain", type=float, default=3, help="seconds to wait after the last event (default 3)"
    )
    parser.add_argument(
        "--baseline",
        type=float,
        default=5,
        help="seconds of the same traffic with no socket open, to price the pages (default 5; 0: skip; "
        "not run with --source simulator)",
    )
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="pages",
        help="what commits the events: the site's pages over HTTP (default), or the site's traffic simulator "
        "(in the server with 1 worker, manage.py simulate with more), without page rendering",
    )
    parser.add_argument("--connect-concurrency", type=int, default=20, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name in ("workers", "sockets", "repeat", "clients", "per_session", "connect_concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more")
    if args.rate <= 0 or args.duration <= 0 or args.drain < 0 or args.baseline < 0:
        parser.error("--rate and --duration must be positive, --drain and --baseline not negative")
    if args.workers > 1 and not os.environ.get("REDIS_URL"):
        parser.error("--workers above 1 needs REDIS_URL: the workers share the broadcast through Redis")
    args.baseline_skipped = 0.0
    if args.source == "simulator" and args.baseline > 0:
        args.baseline_skipped, args.baseline = args.baseline, 0.0
    return args


def check_redis() -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        raise SetupError(
            f"Redis at {common._shown_url(url)} does not answer ({error}): scripts/services.sh start"
        ) from None


def fresh_database(stack: ExitStack, tmp: Path) -> str:
    """A new SQLite file, or a new PostgreSQL database when DATABASE_URL names one; dropped on exit."""
    errors: tuple[type[Exception], ...] = (OSError,)
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        import psycopg

        errors += (psycopg.Error,)
    try:
        return stack.enter_context(project_database(tmp))
    except errors as error:
        raise SetupError(f"cannot create the database ({error}): scripts/services.sh start") from error


def setup_django(database_url: str) -> None:
    """This process reads the same database (ids, timestamps) as the servers."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = database_url
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    import django

    django.setup()


def run(args: argparse.Namespace) -> None:
    check_redis()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="signalboard-live-")))
        database_url = fresh_database(stack, tmp)
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        env = project_env(database_url, DEMO_PASSWORD=password)
        progress("migrating and seeding a fresh database")
        try:
            manage(env, "migrate", "--noinput", "-v", "0")
            manage(env, "seed_demo")
        except RuntimeError as error:
            raise SetupError(str(error)) from None
        setup_django(database_url)
        from django.db import connections

        stack.callback(connections.close_all)  # before the database is dropped
        bench = Bench(args, tmp, env)
        trials = []
        for number in range(1, args.repeat + 1):
            trials.append(bench.site_trial(number))
            progress(f"ours #{number} done")
            if args.floor:
                trials.append(bench.floor_trial(number))
                progress(f"floor #{number} done")
        report(args, trials, bench.session_count)


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up as on Ctrl-C
    try:
        run(args)
    except SetupError as error:
        print(f"bench.live_latency: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("bench.live_latency: interrupted; what it started is stopped", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
