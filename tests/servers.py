"""Start the real ASGI server in a subprocess, on its own database, for end-to-end tests.

Django's ``live_server`` is WSGI and serves no websockets, so browser and
multi-worker tests run daphne (or uvicorn) as the project does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# Playwright drives the system Chromium (never a downloaded one), headless.
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    command: list[str] = field(default_factory=list)
    log: Path | None = None

    def start(self) -> None:
        assert self.log is not None
        with self.log.open("ab") as handle:  # the child keeps its own copy
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=handle, stderr=handle
            )
        wait_for_port(self.port, self.process, self.log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not listen on {port} in {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def project_database(tmp_path: Path) -> Iterator[str]:
    """A fresh database for the server: a SQLite file, or a new PostgreSQL database."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
        return
    import psycopg

    name = f"signalboard_e2e_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(base)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def project_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "e2e-not-secret",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DEBUG": "0",
        "SIMULATE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def server_command(kind: str, port: int) -> list[str]:
    if kind == "uvicorn":
        return [
            str(BIN / "uvicorn"), "dashboard.asgi:application", "--host", "127.0.0.1", "--port", str(port),
            "--ws-max-size", "4096", "--ws-per-message-deflate", "false", "--no-access-log",
        ]  # fmt: skip
    return [
        str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port),
        # Only the frame limit: daphne (autobahn) applies its message limit to
        # outgoing messages too, and a live frame carries many rows.
        "--websocket-max-frame-size", "4096",
        "dashboard.asgi:application",
    ]  # fmt: skip


def make_server(env: dict[str, str], log: Path, kind: str = "uvicorn") -> Server:
    port = free_port()
    return Server(
        url=f"http://127.0.0.1:{port}", port=port, env=env, command=server_command(kind, port), log=log
    )
