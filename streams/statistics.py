"""Planner statistics for the action table on SQLite.

PostgreSQL's autovacuum keeps statistics current; SQLite never gathers any
on its own. Without them its planner takes the first index that fits the
``WHERE`` clause, often the public-newest index, even when an actor or
owner filter would find the rows a thousand times faster. So, at most once
per ``CHECK_SECONDS`` in each process, a new SQLite connection starts a
background thread that looks at whether the action table has doubled since
``sqlite_stat1`` last saw it (or was never analyzed), and if so runs
``ANALYZE`` on it: about 1.5 s at a million rows, a handful of times in the
table's life, never inside a request. (A sampled ``ANALYZE`` with
``analysis_limit`` is no use here: it reads the first rows of each index,
all one actor, and concludes every actor has a thousand rows.)
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

CHECK_SECONDS = 600.0
# Below this many rows any plan is fast; no statistics needed.
SMALL_TABLE = 1000
# Analyze again once the table has grown by this factor.
GROWTH = 2.0

_checked: dict[str, float] = {}


def keep_current(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: analyze the action table if SQLite lacks statistics for it."""
    # An in-memory database lives in its own connection: another thread
    # could not reach it (and it is small and short-lived anyway).
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        return
    now = time.monotonic()
    if now - _checked.get(connection.alias, -CHECK_SECONDS) < CHECK_SECONDS:
        return
    _checked[connection.alias] = now
    threading.Thread(target=_check, args=(connection.alias,), name="streams-statistics", daemon=True).start()


def _check(alias: str) -> None:
    connection = connections[alias]  # this thread's own connection
    try:
        analyze_if_stale(connection)
    except DatabaseError:  # no table yet (before migrate), locked, or read-only
        logger.debug("statistics check skipped", exc_info=True)
    finally:
        connection.close()


def analyze_if_stale(connection: Any, *, force: bool = False) -> bool:
    """ANALYZE the action table when it has outgrown its statistics; whether it did."""
    from streams.models import Action

    table = Action._meta.db_table
    with connection.cursor() as cursor:
        # An estimate from the primary key: two index probes, never a scan.
        cursor.execute(f"SELECT max(rowid) - min(rowid) + 1 FROM {connection.ops.quote_name(table)}")
        rows = cursor.fetchone()[0] or 0
        if not force:
            if rows < SMALL_TABLE:
                return False
            try:
                cursor.execute(
                    "SELECT stat FROM sqlite_stat1 WHERE tbl = %s AND idx IS NOT NULL LIMIT 1", [table]
                )
                found = cursor.fetchone()
            except DatabaseError:  # sqlite_stat1 exists only after a first ANALYZE
                found = None
            if found is not None and rows <= GROWTH * int(found[0].split()[0]):
                return False
        cursor.execute("PRAGMA analysis_limit = 0")
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    logger.info("analyzed %s (%s rows) for the query planner", table, rows)
    return True
