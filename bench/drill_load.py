"""The drill's writers: HTTP users of the site's pages (threads) and direct service callers (processes).

Every write attempt lands in one ``WriteLog`` with its start and end on
``time.monotonic()``, the actor, and what the writer believes happened.
"""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.drill_clients import HttpClient, Refused

ROOT = Path(__file__).resolve().parent.parent
COMMENT_SHARE = 0.25


@dataclass(frozen=True)
class Write:
    source: str  # http or direct
    kind: str  # read, comment, rollback, bulk
    actor: str
    start: float
    end: float
    outcome: str  # committed, rolled back, failed (not committed), unknown
    detail: str = ""
    action: int | None = None  # the action id, when the writer knows it
    count: int = 1  # actions the write makes (a bulk makes many)

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


class WriteLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._writes: list[Write] = []

    def add(self, write: Write) -> None:
        with self._lock:
            self._writes.append(write)

    def between(self, start: float, end: float) -> list[Write]:
        """Writes that started in [start, end)."""
        with self._lock:
            return [w for w in self._writes if start <= w.start < end]


@dataclass(frozen=True)
class StoryRef:
    pk: int
    author: str


class HttpWriter:
    """A logged-in user who opens story pages (each a read) and posts comments, as a browser would."""

    def __init__(
        self,
        client: HttpClient,
        stories: list[StoryRef],
        log: WriteLog,
        *,
        prefer: int,
        interval: float,
        seed: int,
    ) -> None:
        self.client = client
        self.stories = stories
        self.log = log
        self.prefer = prefer
        self.interval = interval
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.serial = 0

    def write(self, story: StoryRef, *, comment: bool = False) -> Write:
        self.serial += 1
        kind = "comment" if comment else "read"
        start = time.monotonic()
        outcome, detail = "failed", ""
        try:
            if comment:
                body = f"Fault drill comment {self.client.username}-{self.serial}"
                response, _ = self.client.post_form(
                    f"/stories/{story.pk}/comments/", {"body": body}, prefer=self.prefer
                )
                ok = response.status == 302 and f"/stories/{story.pk}/" in response.location
            else:
                response, _ = self.client.send("GET", f"/stories/{story.pk}/", prefer=self.prefer)
                ok = response.status == 200
            if ok:
                outcome = "committed"
            else:
                # A 5xx may come after the INSERT committed (a later query failed).
                outcome = "unknown" if response.status >= 500 else "failed"
                detail = f"HTTP {response.status}"
        except Refused:
            detail = "refused"
        except Exception as error:  # sent, no (whole) answer: it may have committed
            outcome, detail = "unknown", type(error).__name__
        write = Write("http", kind, self.client.username, start, time.monotonic(), outcome, detail)
        self.log.add(write)
        return write

    def _run(self) -> None:
        while not self.stop.is_set():
            self.write(self.rng.choice(self.stories), comment=self.rng.random() < COMMENT_SHARE)
            self.stop.wait(self.interval * self.rng.uniform(0.5, 1.5))

    def start(self) -> None:
        self.stop.clear()
        self.thread = threading.Thread(target=self._run, name=f"writer-{self.client.username}", daemon=True)
        self.thread.start()

    def halt(self) -> None:
        self.stop.set()

    def join(self, timeout: float) -> None:
        if self.thread is not None:
            self.thread.join(timeout)
            self.thread = None


def _direct_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.drill_writer", *args]


def _to_write(line: str) -> Write | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return Write(
        "direct",
        data["kind"],
        data["actor"],
        data["start"],
        data["end"],
        data["outcome"],
        data.get("detail", ""),
        data.get("action"),
        data.get("count", 1),
    )


class DirectWriter:
    """A ``bench.drill_writer loop`` process; its lines go to the log as they come."""

    def __init__(
        self,
        env: dict[str, str],
        log: WriteLog,
        stderr: Path,
        *,
        interval: float,
        rollback_share: float,
        commit_actor: str,
        rollback_actor: str,
        seed: int,
    ) -> None:
        self.env = env
        self.log = log
        self.stderr = stderr
        self.args = [
            "loop", "--interval", str(interval), "--rollback-share", str(rollback_share),
            "--commit-actor", commit_actor, "--rollback-actor", rollback_actor, "--seed", str(seed),
        ]  # fmt: skip
        self.process: subprocess.Popen[str] | None = None
        self.reader: threading.Thread | None = None

    def start(self) -> None:
        with self.stderr.open("a") as handle:
            self.process = subprocess.Popen(
                _direct_command(*self.args),
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=handle,
                text=True,
                start_new_session=True,
            )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            write = _to_write(line)
            if write is not None:
                self.log.add(write)

    def halt(self) -> None:
        """Ask it to finish its write in progress and exit (stdin closes)."""
        if self.process is not None and self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def join(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.reader is not None:
            self.reader.join(5)
        self.process = None


def bulk_reads(env: dict[str, str], log: WriteLog, stderr: Path, *, count: int, actor: str) -> Write:
    """``bench.drill_writer bulk``: ``count`` reads in one transaction, waited for."""
    with stderr.open("a") as handle:
        result = subprocess.run(
            _direct_command("bulk", "--count", str(count), "--actor", actor),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=handle,
            text=True,
            timeout=600,
            check=False,
            start_new_session=True,
        )
    write = next((w for w in map(_to_write, result.stdout.splitlines()) if w is not None), None)
    if write is None:
        now = time.monotonic()
        write = Write("direct", "bulk", actor, now, now, "failed", f"exit {result.returncode}", count=count)
    log.add(write)
    return write
