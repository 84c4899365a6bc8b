"""The database side of text search: the index each database gets, and how a search uses it.

- PostgreSQL: the ``pg_trgm`` extension and a trigram GIN index on
  ``search_text``; a search is ``search_text LIKE '%needle%'`` (case-sensitive:
  both sides are folded by ``streams.search``).
- SQLite: an FTS5 table with the trigram tokenizer over ``search_text``
  (external content); a search asks it (``GLOB``) for the matching ids, or,
  for a common needle, tests rows in order. New actions are indexed in
  batches, not one by one: FTS5 writes a segment per transaction, which
  cost each recorded action more than its row and all its indexes on this
  machine (``docs/PERFORMANCE.md``). Rows above the index's high-water mark
  (``streams_action_search_upto``; on SQLite ids are committed in order) are
  the tail: a search tests them directly, by primary key, in the same
  statement that asks the index, and catches the index up first when the
  tail has grown past ``TAIL``. ``record_many()`` catches up after a bulk.
  Deletes and updates of indexed rows reach the index by triggers.
- Anything else, or PostgreSQL without the right to create the extension: no
  index; a search scans (the system check ``streams.W005`` says so).

The migration ``0003`` installs it; ``install()`` may be run again (for
example after a migration rebuilt the table on SQLite, which drops its
triggers; the system check notices that too).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet

from streams.search import glob_pattern

logger = logging.getLogger(__name__)

PG_INDEX = "streams_action_search"
FTS_TABLE = "streams_action_search"
# SQLite: one row, the highest action id the FTS table holds (all below it too).
UPTO_TABLE = "streams_action_search_upto"
# SQLite: a search tests up to this many unindexed rows itself; past it, it
# indexes them first (at most CATCH_UP rows per request).
TAIL = 5000
CATCH_UP = 50_000
# SQLite: record_many() indexes what it wrote from this many rows on.
BULK_CATCH_UP = 500
# Below this many characters a trigram index cannot narrow a search down.
MIN_INDEXED_LENGTH = 3
# SQLite: a needle with at most this many matches is looked up by id.
RARE = 2000


def _table(connection: Any) -> str:
    from streams.models import Action

    return Action._meta.db_table


def install(connection: Any, *, rebuild: bool = True) -> bool:
    """Create the search index on ``connection``; whether the database has one now.

    On SQLite, ``rebuild`` indexes every row again (the FTS table may be
    new or stale); without it the index is taken as complete.
    """
    table = connection.ops.quote_name(_table(connection))
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON {table} USING gin (search_text gin_trgm_ops)"
                )
        except DatabaseError:
            # No right to create the extension: searches scan; the check says so.
            return False
        return True
    if connection.vendor == "sqlite":
        fts = connection.ops.quote_name(FTS_TABLE)
        upto = connection.ops.quote_name(UPTO_TABLE)
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(search_text, content={table}, "
                "content_rowid='id', tokenize='trigram case_sensitive 1', detail='none', columnsize=0)"
            )
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {upto} (upto INTEGER NOT NULL)")
            # Only rows the index holds may be deleted from it: an external
            # content FTS5 table takes a 'delete' of a row it never had as
            # an instruction to corrupt itself.
            for trigger in _triggers(
                connection, ("delete", "update"), when=f"old.id <= (SELECT upto FROM {upto})"
            ):
                cursor.execute(trigger)
            # Everything there is, indexed now; the tail starts after it.
            if rebuild:
                cursor.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
            cursor.execute(f"DELETE FROM {upto}")
            cursor.execute(f"INSERT INTO {upto} (upto) SELECT coalesce(max(id), 0) FROM {table}")
        return True
    return False


def batch(connection: Any) -> None:
    """SQLite: move an index kept by an insert trigger (migration 0003) to batched indexing.

    The FTS table already holds every row, so nothing is indexed again:
    the triggers change and the high-water mark is set to the last row.
    """
    if connection.vendor != "sqlite" or not _has_table(connection, FTS_TABLE):
        return
    with connection.cursor() as cursor:
        for suffix in ("insert", "delete", "update"):
            cursor.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
    install(connection, rebuild=False)


def unbatch(connection: Any) -> None:
    """SQLite: back to the insert trigger of migration 0003, everything indexed first."""
    if connection.vendor != "sqlite" or not _has_table(connection, UPTO_TABLE):
        return
    while catch_up(connection):
        pass
    with connection.cursor() as cursor:
        for suffix in ("delete", "update"):
            cursor.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        cursor.execute(f"DROP TABLE {connection.ops.quote_name(UPTO_TABLE)}")
        for trigger in _triggers(connection, ("insert", "delete", "update")):
            cursor.execute(trigger)


def _triggers(connection: Any, events: tuple[str, ...], *, when: str = "") -> list[str]:
    """The statements that make the FTS table follow the action table on ``events``, when ``when`` holds."""
    qn = connection.ops.quote_name
    table, fts = qn(_table(connection)), qn(FTS_TABLE)
    add = f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text);"
    remove = f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text);"
    bodies = {
        "insert": ("AFTER INSERT", add),
        "delete": ("AFTER DELETE", remove),
        "update": ("AFTER UPDATE OF search_text", f"{remove} {add}"),
    }
    condition = f" WHEN {when}" if when else ""
    return [
        f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_{event} {bodies[event][0]} ON {table}{condition} "
        f"BEGIN {bodies[event][1]} END"
        for event in events
    ]


def _has_table(connection: Any, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [name])
        return cursor.fetchone() is not None


def uninstall(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for suffix in ("insert", "delete", "update"):  # "insert": before indexing was batched
                cursor.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(FTS_TABLE)}")
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(UPTO_TABLE)}")


def installed(connection: Any) -> bool:
    """Whether searches on ``connection`` have their index (and, on SQLite, its triggers)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [PG_INDEX])
            return cursor.fetchone() is not None
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE (type = 'table' AND name IN (%s, %s)) "
                "OR (type = 'trigger' AND name IN (%s, %s))",
                [FTS_TABLE, UPTO_TABLE, f"{FTS_TABLE}_delete", f"{FTS_TABLE}_update"],
            )
            return cursor.fetchone()[0] == 4
    return False


def search(queryset: QuerySet, needle: str) -> QuerySet:
    """``queryset`` narrowed to actions whose ``search_text`` holds ``needle`` (from ``search.needle``)."""
    if not needle:
        return queryset
    connection = connections[queryset.db]
    if connection.vendor == "sqlite" and len(needle) >= MIN_INDEXED_LENGTH:
        # SQLite has no statistics on the FTS table: it would materialise
        # every match of a common word before sorting. So ask the index for
        # a few more than RARE matches, and the tail for its own: a rare
        # needle becomes a list of ids (no query at all when there are
        # none); a common one is tested row by row in the table's order,
        # where matches come soon.
        found = _probe(connection, glob_pattern(needle))
        if found is None:  # a long tail: index it, then ask again
            try:
                catch_up(connection)
            except DatabaseError:  # busy for longer than the timeout: scan this time
                logger.warning("could not catch the search index up; this search scans", exc_info=True)
            else:
                found = _probe(connection, glob_pattern(needle))
        if found is not None and len(found) <= RARE:
            return queryset.filter(pk__in=found)
    # PostgreSQL: LIKE '%needle%' (case-sensitive), which the trigram index
    # answers from three characters on. Both sides are folded already, so on
    # SQLite's case-insensitive LIKE the answer is the same.
    return queryset.filter(search_text__contains=needle)


def _probe(connection: Any, pattern: str) -> list[int] | None:
    """Ids matching ``pattern``, indexed and in the tail, up to RARE + 1 of each; None if the tail is long.

    One statement, so the index and the tail are read at the same moment:
    a row is in exactly one of them.
    """
    qn = connection.ops.quote_name
    table, fts, upto = qn(_table(connection)), qn(FTS_TABLE), qn(UPTO_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 0, (SELECT max(id) FROM {table}) - upto FROM {upto} "
            f"UNION ALL SELECT 1, rowid FROM (SELECT rowid FROM {fts} WHERE search_text GLOB %s LIMIT %s) "
            f"UNION ALL SELECT 1, id FROM (SELECT id FROM {table} WHERE id > (SELECT upto FROM {upto}) "
            f"AND search_text GLOB %s LIMIT %s)",
            [pattern, RARE + 1, pattern, RARE + 1],
        )
        rows = cursor.fetchall()
    tail = next((value for kind, value in rows if kind == 0), None)
    if tail is not None and tail > TAIL:
        return None
    return [value for kind, value in rows if kind == 1]


def catch_up(connection: Any, limit: int = CATCH_UP) -> int:
    """SQLite: index up to ``limit`` actions past the high-water mark, in one batch; how many."""
    if connection.vendor != "sqlite":
        return 0
    qn = connection.ops.quote_name
    table, fts, upto = qn(_table(connection)), qn(FTS_TABLE), qn(UPTO_TABLE)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"SELECT upto FROM {upto}")
        (done,) = cursor.fetchone()
        cursor.execute(
            f"SELECT count(*), max(id) FROM (SELECT id FROM {table} WHERE id > %s ORDER BY id LIMIT %s)",
            [done, limit],
        )
        count, last = cursor.fetchone()
        if not count:
            return 0
        cursor.execute(
            f"INSERT INTO {fts}(rowid, search_text) SELECT id, search_text FROM {table} "
            "WHERE id > %s AND id <= %s",
            [done, last],
        )
        cursor.execute(f"UPDATE {upto} SET upto = %s", [last])
    return count
