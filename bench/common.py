"""What every benchmark shares: its own Django environment, and plain output."""

from __future__ import annotations

import atexit
import math
import os
import platform
import shlex
import statistics
import sys
import tempfile
import warnings
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

# Set before setup() runs, so the printed command says whether it was chosen.
_DATABASE_URL_GIVEN = os.environ.get("DATABASE_URL", "")


def setup() -> None:
    """Test settings, a throwaway SQLite file unless DATABASE_URL is set, migrated."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    if not _DATABASE_URL_GIVEN:
        tmpdir = tempfile.TemporaryDirectory(prefix="signalboard-bench-")
        atexit.register(tmpdir.cleanup)
        os.environ["DATABASE_URL"] = f"sqlite:///{tmpdir.name}/bench.sqlite3"

    # Whitenoise looks for collectstatic's output, which no benchmark serves.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0)
    atexit.register(connection.close)  # registered last: runs before the cleanup


def ensure_postgresql_database(url: str) -> None:
    """Create the database ``url`` names if missing, through the ``postgres`` maintenance database."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        return
    connect = {
        "dbname": "postgres",
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    with psycopg.connect(**connect, autocommit=True) as maintenance:
        name = config["NAME"]
        if maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            print(f"creating database {name}", file=sys.stderr, flush=True)
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _shown_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        parts = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@"))
    return urlunsplit(parts)


def command(module: str, args: dict[str, object]) -> str:
    """The command line that reproduces a run, from /work/main (the repository root)."""
    words = ["python", "-m", module]
    for name, value in args.items():
        words += [f"--{name.replace('_', '-')}", str(value)]
    prefix = f"DATABASE_URL={shlex.quote(_shown_url(_DATABASE_URL_GIVEN))} " if _DATABASE_URL_GIVEN else ""
    return prefix + shlex.join(words)


def environment() -> str:
    from django.db import connection

    database = connection.vendor
    if database == "sqlite":
        import sqlite3

        database += f" {sqlite3.sqlite_version}"
    else:
        database += " " + ".".join(str(part) for part in connection.get_database_version())
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{database}, {sys.platform}"
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of the values (0 < fraction <= 1)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain, aligned text table: first column left, the others right."""
    cells = [list(map(str, header)), *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])
