"""Settings of ``bench.write_overhead``'s own project: the engine, the tools it is compared with, the items.

The database comes from ``DATABASE_URL`` (default: a throwaway SQLite file,
with the options the site runs SQLite with). django-pgtrigger and
django-pghistory, and the app holding pghistory's item, are installed only
on PostgreSQL.
"""

from __future__ import annotations

import atexit
import os
import tempfile

import dj_database_url


def _throwaway_sqlite() -> str:
    tmpdir = tempfile.TemporaryDirectory(prefix="signalboard-overhead-")
    atexit.register(tmpdir.cleanup)
    return f"sqlite:///{tmpdir.name}/overhead.sqlite3"


SECRET_KEY = os.environ.get("SECRET_KEY") or "bench-overhead-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"

DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or _throwaway_sqlite())}
POSTGRESQL = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # As dashboard/settings.py: the site's SQLite is what a write costs there.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "streams",
    "actstream",
    "auditlog",
    "simple_history",
    *(["pgtrigger", "pghistory"] if POSTGRESQL else []),
    "bench.overhead",
    *(["bench.overhead.pg"] if POSTGRESQL else []),
]

# No request is ever served; streams' system check (streams.E001) asks for
# its middleware, placed here as the site has it.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "streams.middleware.RequestContextMiddleware",
]

# Route health stays in memory: a flush would add statements to timed saves.
STREAMS = {"STATS_FLUSH_SECONDS": None}
