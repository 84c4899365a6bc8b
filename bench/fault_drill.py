"""Fault drill: live tables on two ASGI workers through Redis, worker and PostgreSQL faults.

Starts its own PostgreSQL cluster and Redis on free ports (never the shared
ones), a fresh migrated and seeded database, and two workers (uvicorn, or
daphne with ``--server daphne``). Per scenario it opens ``--sockets`` live
sockets across both workers (non-staff readers on ``/feed/``, authors on
``/reads/``), logged in over HTTP and reconnecting as the page does, while
writers commit events: HTTP users opening story pages (a read each) and
posting comments, and direct service callers (``bench.drill_writer``) of
which a share roll back on purpose. Then it injects the scenario's fault.

Per scenario it prints what the writers committed against the Action rows
of the window, what each socket received against what its table shows
(lost, unexpected, duplicated within one connection and across
reconnects), failed writes, time disconnected, and write latency (every
attempt, HTTP and direct) during the fault against the baseline; then
PASS/FAIL for: committed = recorded; every socket got exactly its rows;
no duplicate within a connection; fault p99 at most 100 ms above baseline.
A socket's expected rows are the window's Action rows its table shows that
viewer (public verbs for a reader's feed; an author's own reads).

Everything it starts it stops, on errors and Ctrl-C too; its logs are kept
(and their folder printed) when a check fails. With the defaults a run takes
about 3 minutes plus ``--idle-minutes``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common
from bench.drill_clients import HttpClient, SocketFleet, SocketSpec, SocketStats
from bench.drill_load import DirectWriter, HttpWriter, StoryRef, Write, WriteLog, bulk_reads
from bench.drill_services import Postgres, Redis
from dashboard.verbs import PUBLIC_VERBS, READ
from tests.servers import Server, free_port, manage, project_env, server_command

PASSWORD = "drill-demo"
FEED_USERS = ("rae", "ravi", "rita", "raj")  # non-staff readers: the feed's public actions
AUTHORS = ("alice", "bob")  # /reads/: reads of their own stories
WRITER_USERS = ("rae", "ravi", "rita", "raj", "admin", "alice", "bob")
DIRECT_ACTORS = ("colm", "cleo", "carmen", "chloe")
ROLLBACK_ACTOR = "cato"  # only ever rolled back: any row of theirs in a window is a leak
BULK_ACTOR = "cyrus"
ROLLBACK_TARGET = 0.10  # of all writes
READS_SHARE = 0.3  # of the sockets
RECOVERY_TAIL = 2.0  # seconds after recovery still counted as "during the fault"
P99_MARGIN_MS = 100.0
KILLED_WORKER = 0

SCENARIOS = {
    "baseline": "no fault",
    "redis-stop": "Redis stopped (SHUTDOWN NOSAVE), then started again",
    "redis-hang": "Redis frozen (SIGSTOP), then SIGCONT",
    "worker-kill": "one worker SIGKILLed, restarted on the same port",
    "postgres-restart": "PostgreSQL restarted (pg_ctl restart -m fast)",
    "bulk": "one transaction bulk-creates story reads while sockets are open",
    "idle": "sockets idle, then one read of an alice story and one of a bob story",
}


@dataclass(frozen=True)
class Row:
    id: int
    actor: str
    verb: str
    public: bool
    owner: int | None


@dataclass(frozen=True)
class Fault:
    start: float
    end: float
    what: str


@dataclass
class SocketResult:
    stats: SocketStats
    expected: int
    got: int
    lost: int
    extra: int
    down: float
    lost_ids: list[int] = field(default_factory=list)


@dataclass
class Result:
    name: str
    seconds: float = 0.0
    fault: Fault | None = None
    writes: list[Write] = field(default_factory=list)
    committed: int = 0
    recorded: int = 0
    first_id: int = 0
    last_id: int = 0
    mismatches: list[str] = field(default_factory=list)
    baseline: tuple[float, float, int] | None = None
    baseline_source: str = ""
    during: tuple[float, float, int] | None = None
    sockets: list[SocketResult] = field(default_factory=list)
    browser: str = ""
    notes: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool | None, str]] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and all(ok is not False for _, ok, _ in self.checks)


def latency(writes: list[Write]) -> tuple[float, float, int] | None:
    """p50 and p99 ms of the write attempts (a bulk transaction is the fault, not a write)."""
    ms = [write.ms for write in writes if write.kind != "bulk"]
    if not ms:
        return None
    return common.percentile(ms, 0.5), common.percentile(ms, 0.99), len(ms)


class Database:
    """Plain SQL on the drill's database, retried while PostgreSQL restarts."""

    def __init__(self, url: str) -> None:
        self.url = url

    def rows(self, sql: str, params: tuple[Any, ...] = (), timeout: float = 60) -> list[tuple[Any, ...]]:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def max_id(self) -> int:
        return int(self.rows("SELECT coalesce(max(id), 0) FROM streams_action")[0][0])

    def window(self, after: int) -> list[Row]:
        return [
            Row(*found)
            for found in self.rows(
                "SELECT a.id, coalesce(u.username, a.actor_name), a.verb, a.public, a.owner_id "
                "FROM streams_action a LEFT JOIN auth_user u ON u.id = a.actor_id "
                "WHERE a.id > %s ORDER BY a.id",
                (after,),
            )
        ]


class Drill:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="signalboard-drill-"))
        self.pg = Postgres()
        self.redis = Redis(self.tmp)
        self.db = Database(self.pg.url)
        self.env: dict[str, str] = {}
        self.servers: list[Server] = []
        self.log = WriteLog()
        self.fleet: SocketFleet | None = None
        self.specs: list[SocketSpec] = []
        self.writers: list[HttpWriter] = []
        self.direct: list[DirectWriter] = []
        self.user_ids: dict[str, int] = {}
        self.stories: list[StoryRef] = []
        self.browser: Any = None
        self.baseline_writes: list[Write] | None = None
        self.rollback_share = 0.0
        self.round = 0

    # Setting up and tearing down.

    def say(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def setup(self) -> None:
        args = self.args
        self.say(f"PostgreSQL on :{self.pg.port}, Redis on :{self.redis.port} (logs in {self.tmp})")
        self.pg.start()
        self.pg.create_database()
        self.redis.start()
        self.env = project_env(self.pg.url, REDIS_URL=self.redis.url, DEMO_PASSWORD=PASSWORD)
        self.say("migrate and seed_demo")
        manage(self.env, "migrate", "--noinput", "-v", "0")
        manage(self.env, "seed_demo", "--actions", str(args.seed_actions))
        for index in range(2):
            port = free_port()
            server = Server(
                url=f"http://127.0.0.1:{port}",
                port=port,
                env=self.env,
                command=server_command(args.server, port),
                log=self.tmp / f"worker{index}.log",
            )
            server.start()
            self.servers.append(server)
        self.say("workers: " + ", ".join(f"{args.server} :{s.port}" for s in self.servers))
        self.user_ids = {name: pk for pk, name in self.db.rows("SELECT id, username FROM auth_user")}
        self.stories = [
            StoryRef(pk, author)
            for pk, author in self.db.rows(
                "SELECT s.id, u.username FROM publishing_story s JOIN auth_user u ON u.id = s.author_id "
                "WHERE s.published_at IS NOT NULL ORDER BY s.id"
            )
        ]
        ports = [server.port for server in self.servers]
        reads = round(args.sockets * READS_SHARE)
        for index in range(args.sockets):
            table = "reads" if index < reads else "feed"
            users = AUTHORS if table == "reads" else FEED_USERS
            username = users[index % len(users)]
            worker = index % 2
            client = HttpClient(ports, username)
            client.log_in(username, PASSWORD, port=ports[worker])
            self.specs.append(
                SocketSpec(
                    name=f"{table}-{index:02d}",
                    username=username,
                    table=table,
                    port=ports[worker],
                    worker=worker,
                    cookie=f"sessionid={client.cookies['sessionid']}",
                )
            )
        direct = args.direct_writers
        if direct:
            self.rollback_share = min(1.0, ROLLBACK_TARGET * (args.writers + direct) / direct)
        for index, username in enumerate(WRITER_USERS[: args.writers]):
            client = HttpClient(ports, username)
            client.log_in(username, PASSWORD, port=ports[index % 2])
            self.writers.append(
                HttpWriter(
                    client, self.stories, self.log, prefer=index % 2, interval=args.interval, seed=index
                )
            )
        # Warm both workers up (templates, connections), outside any scenario's window.
        for writer in self.writers:
            for worker in range(len(self.servers)):
                writer.client.send("GET", f"/stories/{self.stories[0].pk}/", prefer=worker)
        self.fleet = SocketFleet()
        if args.browser:
            from bench.drill_browser import ReadsPage

            self.say("Chromium: alice on /reads/")
            self.browser = ReadsPage(self.servers[KILLED_WORKER].url, "alice", PASSWORD)

    def teardown(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("writers", self.stop_writers),
            ("sockets", lambda: self.fleet.shutdown() if self.fleet else None),
            ("browser", lambda: self.browser.close() if self.browser else None),
            *((f"worker {i}", server.stop) for i, server in enumerate(self.servers)),
            ("Redis", self.redis.stop),
            ("PostgreSQL", self.pg.stop),
        ]
        for what, step in steps:
            try:
                step()
            except BaseException as error:  # keep going: everything started must stop
                print(f"teardown of {what} failed: {error!r}", file=sys.stderr)

    def heal(self) -> list[str]:
        """Before a scenario: every service and worker up, whatever the last one left."""
        notes = []
        self.redis.resume()
        if not self.redis.is_running():
            notes.append("Redis was down: started")
            self.redis.start()
        if not self.pg.is_ready():
            notes.append("PostgreSQL was down: restarted")
            self.pg.restart()
        for index, server in enumerate(self.servers):
            if server.process is None or server.process.poll() is not None:
                notes.append(f"worker {index} was down: started")
                server.stop()
                server.start()
        return notes

    # Writers.

    def start_writers(self) -> None:
        self.round += 1
        for writer in self.writers:
            writer.start()
        for index in range(self.args.direct_writers):
            writer = DirectWriter(
                self.env,
                self.log,
                self.tmp / "direct-writer.log",
                interval=self.args.interval,
                rollback_share=self.rollback_share,
                commit_actor=DIRECT_ACTORS[index],
                rollback_actor=ROLLBACK_ACTOR,
                seed=self.round * 100 + index,
            )
            writer.start()
            self.direct.append(writer)

    def stop_writers(self) -> None:
        for writer in [*self.writers, *self.direct]:
            writer.halt()
        for writer in [*self.writers, *self.direct]:
            writer.join(40)
        self.direct = []

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    # One scenario.

    def run(self, name: str) -> Result:
        assert self.fleet is not None
        result = Result(name, notes=self.heal())
        start_id = self.db.max_id()
        self.fleet.open(self.specs, start_id)
        if not self.fleet.wait_open(15):
            result.notes.append("not every socket was open 15 s after connecting")
        begin = time.monotonic()
        try:
            result.fault = SCENARIO_RUNS[name](self)
        except KeyboardInterrupt:
            self.stop_writers()
            self.fleet.close_all()
            raise
        except Exception as error:
            traceback.print_exc()
            result.error = f"{type(error).__name__}: {error}"
        self.stop_writers()
        try:
            end = time.monotonic()
            result.writes = self.log.between(begin, end)
            result.seconds = end - begin
            for index, server in enumerate(self.servers):
                if server.process is None or server.process.poll() is not None:
                    result.notes.append(f"worker {index} is not running at the end")
            rows, stats, now = self.settle(start_id)
            self.evaluate(result, start_id, rows, stats, now)
            if self.browser is not None:
                self.check_browser(result, rows)
        finally:
            self.fleet.close_all()
        if name == "baseline":
            self.baseline_writes = result.writes
        return result

    def expected(self, spec: SocketSpec, rows: list[Row]) -> set[int]:
        """What this socket's table shows of the window's rows (DESIGN: who sees what)."""
        if spec.table == "feed":
            return {row.id for row in rows if row.public and row.verb in PUBLIC_VERBS}
        owner = self.user_ids[spec.username]
        return {row.id for row in rows if row.public and row.verb == READ and row.owner == owner}

    def settle(self, start_id: int) -> tuple[list[Row], list[SocketStats], float]:
        """Wait (up to --settle-seconds) until every socket has every row its table shows."""
        assert self.fleet is not None
        deadline = time.monotonic() + self.args.settle_seconds
        while True:
            rows = self.db.window(start_id)
            now, stats = self.fleet.snapshot()
            if all(self.expected(s.spec, rows) <= s.received for s in stats) or time.monotonic() > deadline:
                return rows, stats, now
            time.sleep(0.5)

    def evaluate(
        self, result: Result, start_id: int, rows: list[Row], stats: list[SocketStats], now: float
    ) -> None:
        writes = result.writes
        committed = Counter[str]()
        for write in writes:
            if write.outcome == "committed":
                committed[write.actor] += write.count
        recorded = Counter(row.actor for row in rows)
        result.committed, result.recorded = sum(committed.values()), len(rows)
        result.first_id, result.last_id = start_id + 1, rows[-1].id if rows else start_id
        unknown = Counter(w.actor for w in writes if w.outcome == "unknown")
        for actor in sorted(set(committed) | set(recorded)):
            if committed[actor] != recorded[actor]:
                text = f"{actor}: committed {committed[actor]}, recorded {recorded[actor]}"
                if 0 < recorded[actor] - committed[actor] <= unknown[actor]:
                    text += f" (of {unknown[actor]} writes that failed with unknown outcome, some committed)"
                result.mismatches.append(text)
        ids = {row.id for row in rows}
        lost_direct = [w.action for w in writes if w.source == "direct" and w.outcome == "committed"]
        lost_direct = [a for a in lost_direct if a is not None and a not in ids]
        if lost_direct:
            result.mismatches.append(f"direct commits missing from Action: ids {lost_direct[:10]}")
        leaked = [w.action for w in writes if w.outcome == "rolled back" and w.action in ids]
        if leaked:
            result.mismatches.append(f"rolled-back ids present in Action: {leaked[:10]}")
        detail = f"{result.committed} = {result.recorded}"
        if result.mismatches:
            detail = f"{result.committed} ≠ {result.recorded}: " + "; ".join(result.mismatches)
        result.checks.append(("committed = recorded", not result.mismatches, detail))

        for socket in stats:
            expected = self.expected(socket.spec, rows)
            got = len(expected & socket.received)
            result.sockets.append(
                SocketResult(
                    stats=socket,
                    expected=len(expected),
                    got=got,
                    lost=len(expected) - got,
                    extra=len(socket.received - expected),
                    down=socket.down_seconds(now),
                    lost_ids=sorted(expected - socket.received),
                )
            )
        lost = sum(s.lost for s in result.sockets)
        extra = sum(s.extra for s in result.sockets)
        short = sum(1 for s in result.sockets if s.lost or s.extra)
        notices = sum(s.stats.notices for s in result.sockets)
        detail = f"{short} of {len(result.sockets)} sockets off: {lost} rows lost, {extra} unexpected"
        if notices:
            detail += f" ({notices} 'new' notices shown)"
        result.checks.append(("every socket got exactly its rows", short == 0, detail))
        within = sum(s.stats.dup_within for s in result.sockets)
        across = sum(s.stats.dup_across for s in result.sockets)
        result.checks.append(
            (
                "no duplicate within one connection",
                within == 0,
                f"{within} within, {across} across reconnects (allowed)",
            )
        )
        if result.name == "idle":
            closed = [s.stats.spec.name for s in result.sockets if not s.stats.is_open]
            result.checks.append(
                (
                    "every socket still connected after idling",
                    not closed,
                    f"{len(closed)} not connected" + (f": {', '.join(closed)}" if closed else ""),
                )
            )
        self.latency_check(result)

    def latency_check(self, result: Result) -> None:
        fault = result.fault
        if fault is None or result.name == "idle":
            result.baseline = latency(result.writes)
            result.checks.append(("write p99 within 100 ms of baseline", None, "no fault in this scenario"))
            return
        if self.baseline_writes:
            result.baseline, result.baseline_source = latency(self.baseline_writes), "baseline scenario"
        else:
            before = [w for w in result.writes if w.end < fault.start]
            result.baseline, result.baseline_source = latency(before), "before the fault"
        during = [w for w in result.writes if w.start < fault.end + RECOVERY_TAIL and w.end > fault.start]
        result.during = latency(during)
        if result.baseline is None or result.during is None:
            result.checks.append(("write p99 within 100 ms of baseline", None, "not enough writes"))
            return
        base, now = result.baseline[1], result.during[1]
        result.checks.append(
            (
                "write p99 within 100 ms of baseline",
                now <= base + P99_MARGIN_MS,
                f"{now:.1f} ms during the fault vs {base:.1f} ms baseline",
            )
        )

    def check_browser(self, result: Result, rows: list[Row]) -> None:
        owner = self.user_ids["alice"]
        expected = {row.id for row in rows if row.public and row.verb == READ and row.owner == owner}
        missing = self.browser.wait_for(expected, self.args.settle_seconds)
        state = self.browser.state()
        result.browser = (
            f"Chromium, alice on /reads/ (worker {KILLED_WORKER}, never reloaded): {len(expected)} reads "
            f"expected, {len(expected) - len(missing)} shown, {len(missing)} missing; status {state}"
        )
        result.checks.append(("browser shows every read", not missing, f"{len(missing)} missing"))


# The scenarios: each runs its writers and fault, and says when the fault was.


def run_baseline(d: Drill) -> Fault | None:
    d.start_writers()
    d.sleep(d.args.baseline_seconds)
    return None


def _redis_fault(d: Drill, begin: Any, finish: Any, what: str) -> Fault:
    """Writers on, then Redis broken by ``begin`` for --fault-seconds, then ``finish``."""
    d.start_writers()
    d.sleep(d.args.pre_seconds)
    start = time.monotonic()
    begin()
    try:
        d.sleep(d.args.fault_seconds)
    finally:
        finish()
    end = time.monotonic()
    d.sleep(d.args.post_seconds)
    return Fault(start, end, f"Redis {what} {end - start:.1f} s")


def run_redis_stop(d: Drill) -> Fault:
    return _redis_fault(d, d.redis.shutdown, d.redis.start, "down")


def run_redis_hang(d: Drill) -> Fault:
    return _redis_fault(d, d.redis.pause, d.redis.resume, "frozen")


def run_worker_kill(d: Drill) -> Fault:
    d.start_writers()
    d.sleep(d.args.pre_seconds)
    server = d.servers[KILLED_WORKER]
    assert server.process is not None
    start = time.monotonic()
    server.process.kill()
    server.process.wait()
    server.process = None
    d.sleep(d.args.down_seconds)
    server.start()
    end = time.monotonic()
    d.sleep(d.args.post_seconds)
    return Fault(
        start, end, f"worker {KILLED_WORKER} (:{server.port}) gone {end - start:.1f} s until listening"
    )


def run_postgres_restart(d: Drill) -> Fault:
    d.start_writers()
    d.sleep(d.args.pre_seconds)
    start = time.monotonic()
    d.pg.restart()
    end = time.monotonic()
    d.sleep(d.args.post_seconds)
    return Fault(start, end, f"pg_ctl restart -m fast took {end - start:.1f} s")


def run_bulk(d: Drill) -> Fault:
    d.start_writers()
    d.sleep(d.args.pre_seconds)
    write = bulk_reads(d.env, d.log, d.tmp / "direct-writer.log", count=d.args.bulk, actor=BULK_ACTOR)
    d.sleep(d.args.post_seconds)
    what = f"{write.count:,} reads in one transaction: {write.outcome} in {write.ms / 1000:.1f} s"
    return Fault(write.start, write.end, what + (f" ({write.detail})" if write.detail else ""))


def run_idle(d: Drill) -> Fault | None:
    d.say(f"idle: sockets open, no writes for {d.args.idle_minutes:g} min")
    d.sleep(d.args.idle_minutes * 60)
    writer = d.writers[0]
    for author in AUTHORS:
        story = next(story for story in d.stories if story.author == author)
        writer.write(story)
    return None


SCENARIO_RUNS: dict[str, Callable[[Drill], Fault | None]] = {
    "baseline": run_baseline,
    "redis-stop": run_redis_stop,
    "redis-hang": run_redis_hang,
    "worker-kill": run_worker_kill,
    "postgres-restart": run_postgres_restart,
    "bulk": run_bulk,
    "idle": run_idle,
}


# Output.


def id_runs(ids: list[int], most: int = 4) -> str:
    """Sorted ids as runs: ``"12..40 (29), 57"``, the first few only."""
    runs: list[list[int]] = []
    for action_id in ids:
        if runs and action_id == runs[-1][1] + 1:
            runs[-1][1] = action_id
        else:
            runs.append([action_id, action_id])
    text = [f"{a}..{b} ({b - a + 1})" if b > a else str(a) for a, b in runs[:most]]
    if len(runs) > most:
        text.append(f"… {len(runs) - most} more runs")
    return ", ".join(text)


def _ms(figures: tuple[float, float, int] | None) -> str:
    return "n/a" if figures is None else f"p50 {figures[0]:.1f} / p99 {figures[1]:.1f} (n={figures[2]})"


def _outcomes(writes: list[Write]) -> str:
    count = Counter(w.outcome for w in writes)
    attempts = sum(1 for w in writes if w.kind != "bulk")
    rolled = count["rolled back"]
    share = f"{100 * rolled / attempts:.1f} %" if attempts else "n/a"
    failed = Counter(w.detail or w.outcome for w in writes if w.outcome in ("failed", "unknown"))
    failures = ", ".join(f"{what}×{n}" for what, n in failed.most_common())
    return (
        f"{attempts} writes: {count['committed']} committed, {rolled} rolled back ({share}), "
        f"{count['failed']} failed, {count['unknown']} unknown outcome"
        + (f" [{failures}]" if failures else "")
    )


def render(result: Result) -> str:
    lines = [f"== {result.name}: {SCENARIOS[result.name]} =="]
    lines += [f"note: {note}" for note in result.notes]
    if result.error:
        lines.append(f"ERROR: {result.error}")
        if not result.checks:
            return "\n".join(lines)
    if result.fault is not None:
        lines.append(f"fault: {result.fault.what}")
    lines.append(f"{_outcomes(result.writes)}, in {result.seconds:.1f} s")
    lines.append(
        f"actions: committed {result.committed}, recorded {result.recorded} "
        f"(window ids {result.first_id}..{result.last_id})"
    )
    baseline = f"baseline {_ms(result.baseline)}"
    if result.baseline_source:
        baseline += f" [{result.baseline_source}]"
    if result.during is not None or result.fault is not None:
        baseline += f"; during the fault (+{RECOVERY_TAIL:g} s) {_ms(result.during)}"
    lines.append(f"write latency ms: {baseline}")
    lines.append("")
    header = [
        "socket", "worker", "user", "expected", "got", "lost", "extra", "dup/conn", "dup/reconn",
        "reconnects", "down s", "notices", "other", "beats", "closes", "state",
    ]  # fmt: skip
    rows = []
    for s in result.sockets:
        st = s.stats
        closes = ",".join(f"{code}×{n}" for code, n in st.closes.most_common()) or "-"
        state = "open" if st.is_open else (f"gave up ({st.final})" if st.final else "reconnecting")
        row: list[object] = [st.spec.name, st.spec.worker, st.spec.username, s.expected, s.got, s.lost]
        row += [s.extra, st.dup_within, st.dup_across, st.reconnects, f"{s.down:.1f}", st.notices]
        row += [st.other_frames, st.heartbeats, closes, state]
        rows.append(row)
    if rows:
        lines.append(common.table(header, rows))
        lines.append("")
    for s in result.sockets:
        if s.lost_ids:
            lines.append(f"{s.stats.spec.name} lost ids {id_runs(s.lost_ids)}")
    if result.browser:
        lines.append(result.browser)
    for name, ok, detail in result.checks:
        verdict = "n/a " if ok is None else ("PASS" if ok else "FAIL")
        lines.append(f"{verdict} {name}: {detail}")
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    rows = []
    for r in results:
        failed = [name for name, ok, _ in r.checks if ok is False]
        verdict = "ERROR" if r.error else ("PASS" if r.passed else "FAIL: " + "; ".join(failed))
        rows.append(
            [
                r.name,
                r.committed,
                r.recorded,
                sum(1 for w in r.writes if w.outcome == "rolled back"),
                sum(1 for w in r.writes if w.outcome in ("failed", "unknown")),
                sum(s.lost for s in r.sockets),
                sum(s.stats.dup_within for s in r.sockets),
                sum(s.stats.dup_across for s in r.sockets),
                f"{max((s.down for s in r.sockets), default=0):.1f}",
                "-" if r.baseline is None else f"{r.baseline[1]:.0f}",
                "-" if r.during is None else f"{r.during[1]:.0f}",
                verdict,
            ]
        )
    header = [
        "scenario", "committed", "recorded", "rolled back", "failed", "lost", "dup/conn", "dup/reconn",
        "max down s", "p99 base", "p99 fault", "result",
    ]  # fmt: skip
    return common.table(header, rows)


def reproduce(args: argparse.Namespace) -> str:
    options: dict[str, object] = {"scenario": ",".join(args.scenarios), "server": args.server}
    defaults = vars(parser().parse_args([]))
    for name in (
        "sockets", "writers", "direct_writers", "interval", "baseline_seconds", "pre_seconds",
        "fault_seconds", "down_seconds", "post_seconds", "settle_seconds", "idle_minutes", "bulk",
        "seed_actions",
    ):  # fmt: skip
        if getattr(args, name) != defaults[name]:
            options[name] = getattr(args, name)
    line = common.command("bench.fault_drill", options)
    if args.browser:
        line += " --browser"
    # The drill runs on a PostgreSQL of its own: an outer DATABASE_URL plays no part.
    return line[line.index("python -m") :]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--scenario",
        dest="scenarios",
        action="extend",
        nargs="+",
        default=[],
        metavar="NAME",
        help=f"scenarios to run, in this order (comma or space separated; default all): {', '.join(SCENARIOS)}",
    )
    p.add_argument("--server", choices=["uvicorn", "daphne"], default="uvicorn")
    p.add_argument("--sockets", type=int, default=20, help="live sockets across both workers (default 20)")
    p.add_argument("--writers", type=int, default=4, help=f"HTTP writers, at most {len(WRITER_USERS)}")
    p.add_argument(
        "--direct-writers", type=int, default=1, help=f"service writers, at most {len(DIRECT_ACTORS)}"
    )
    p.add_argument("--interval", type=float, default=0.25, help="mean seconds between one writer's writes")
    p.add_argument("--baseline-seconds", type=float, default=20)
    p.add_argument("--pre-seconds", type=float, default=5, help="writes before each fault")
    p.add_argument("--fault-seconds", type=float, default=10, help="Redis down or frozen this long")
    p.add_argument("--down-seconds", type=float, default=3, help="killed worker stays down this long")
    p.add_argument("--post-seconds", type=float, default=5, help="writes after each fault")
    p.add_argument(
        "--settle-seconds", type=float, default=15, help="wait at most this for sockets to catch up"
    )
    p.add_argument("--idle-minutes", type=float, default=10)
    p.add_argument("--bulk", type=int, default=5000, help="reads in the bulk transaction")
    p.add_argument("--seed-actions", type=int, default=100, help="seed_demo --actions")
    p.add_argument("--browser", action="store_true", help="also a real Chromium page on /reads/")
    return p


def parse_args() -> argparse.Namespace:
    p = parser()
    args = p.parse_args()
    names = [name for value in args.scenarios for name in value.split(",") if name]
    if not names or names == ["all"]:
        names = list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = names
    if not 1 <= args.writers <= len(WRITER_USERS):
        p.error(f"--writers must be 1..{len(WRITER_USERS)}")
    if not 0 <= args.direct_writers <= len(DIRECT_ACTORS):
        p.error(f"--direct-writers must be 0..{len(DIRECT_ACTORS)}")
    if args.sockets < 2:
        p.error("--sockets must be 2 or more")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    drill = Drill(args)
    results: list[Result] = []
    interrupted = False
    try:
        drill.setup()
        environment = (
            f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"PostgreSQL {drill.pg.version()}, Redis {drill.redis.version()}, 2 × {args.server}, "
            f"{args.sockets} sockets, {args.writers} HTTP + {args.direct_writers} direct writers"
        )
        drill.say(environment)
        for name in args.scenarios:
            drill.say(f"scenario {name}")
            try:
                result = drill.run(name)
            except KeyboardInterrupt:
                raise
            except Exception as error:
                traceback.print_exc()
                result = Result(name, error=f"{type(error).__name__}: {error}")
            results.append(result)
            print()
            print(render(result), flush=True)
            print()
    except KeyboardInterrupt:
        interrupted = True
        print("\ninterrupted: stopping everything the drill started", file=sys.stderr)
    finally:
        drill.teardown()
    if results:
        print("Summary (p99 in ms; base = baseline scenario or the writes before the fault)")
        print(summary(results))
        print()
    print(f"Reproduce: {reproduce(args)}")
    ok = results and all(r.passed for r in results) and not interrupted
    if ok:
        shutil.rmtree(drill.tmp, ignore_errors=True)
    else:
        print(f"Logs kept in {drill.tmp}")
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
