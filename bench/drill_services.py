"""The fault drill's own PostgreSQL cluster and Redis, on free ports, in throwaway directories.

Never the machine's shared services: the drill stops, pauses and restarts
these, so they must be its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers import free_port

PGBIN = Path(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "signalboard_drill"


def _as_postgres(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL binary as the postgres user (initdb refuses root)."""
    command = [str(arg) for arg in args]
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, start_new_session=True
    )


class Postgres:
    """A PostgreSQL cluster of the drill's own, in a temporary directory."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="signalboard-drill-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.running = False

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL {what} failed:\n{result.stdout}{result.stderr}{tail}")

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._check(
                _as_postgres(PGBIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres"), "initdb"
            )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._check(
            _as_postgres(PGBIN / "pg_ctl", "-D", self.data, "-l", self.log, "-o", options, "-w", "start"),
            "start",
        )
        self.running = True

    def create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: sessions are cut, then the server comes back."""
        self._check(
            _as_postgres(PGBIN / "pg_ctl", "-D", self.data, "-l", self.log, "-m", "fast", "-w", "restart"),
            "restart",
        )
        self.running = True

    def is_ready(self) -> bool:
        result = subprocess.run(
            [PGBIN / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
        )
        return result.returncode == 0

    def version(self) -> str:
        result = subprocess.run(
            [PGBIN / "postgres", "--version"], capture_output=True, text=True, check=False
        )
        return result.stdout.strip().removeprefix("postgres (PostgreSQL) ") or "?"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            result = _as_postgres(PGBIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            if result.returncode != 0:
                # Last resort: the postmaster's pid is the first line of its pid file.
                with contextlib.suppress(OSError, ValueError, IndexError):
                    pid = int((self.data / "postmaster.pid").read_text().split()[0])
                    os.kill(pid, signal.SIGKILL)
        self.running = False
        shutil.rmtree(self.root, ignore_errors=True)


class Redis:
    """A Redis of the drill's own: no persistence, a child process it can stop, pause and start."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.log = workdir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("ab") as handle:
            command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            command += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
            self.process = subprocess.Popen(
                command,
                stdout=handle,
                stderr=handle,
                start_new_session=True,  # Ctrl-C reaches the drill, which stops this in order
            )
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def ping(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return result.stdout.strip() == "PONG"

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def shutdown(self) -> None:
        """``SHUTDOWN NOSAVE``, as an operator would; killed if it does not go."""
        if not self.is_running():
            return
        assert self.process is not None
        self.resume()
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
            capture_output=True,
            timeout=5,
            check=False,
        )
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing answers."""
        if self.is_running() and not self.paused:
            assert self.process is not None
            self.process.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.is_running() and self.paused:
            assert self.process is not None
            self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def version(self) -> str:
        result = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False)
        words = dict(word.split("=", 1) for word in result.stdout.split() if "=" in word)
        return words.get("v", "?")

    def stop(self) -> None:
        self.shutdown()
        self.process = None
