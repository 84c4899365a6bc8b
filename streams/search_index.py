"""The database side of text search: the index each database gets, and how a search uses it.

- PostgreSQL: the ``pg_trgm`` extension and a trigram GIN index on
  ``search_text``; a search is ``search_text LIKE '%needle%'`` (case-sensitive:
  both sides are folded by ``streams.search``).
- SQLite: an FTS5 table with the trigram tokenizer over ``search_text``
  (external content, kept in step by triggers); a search asks it (``GLOB``)
  for the matching ids, or, for a common needle, tests rows in order.
- Anything else, or PostgreSQL without the right to create the extension: no
  index; a search scans (the system check ``streams.W003`` says so).

The migration ``0003`` installs it; ``install()`` may be run again (for
example after a migration rebuilt the table on SQLite, which drops its
triggers; the system check notices that too).
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connections, transaction
from django.db.models import QuerySet

from streams.search import glob_pattern

PG_INDEX = "streams_action_search"
FTS_TABLE = "streams_action_search"
# Below this many characters a trigram index cannot narrow a search down.
MIN_INDEXED_LENGTH = 3
# SQLite: a needle with at most this many matches is looked up by id.
RARE = 2000


def _table(connection: Any) -> str:
    from streams.models import Action

    return Action._meta.db_table


def install(connection: Any) -> bool:
    """Create the search index on ``connection``; whether the database has one now."""
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
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(search_text, content={table}, "
                "content_rowid='id', tokenize='trigram case_sensitive 1', detail='none', columnsize=0)"
            )
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON {table} BEGIN "
                f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END"
            )
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_delete AFTER DELETE ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END"
            )
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_update AFTER UPDATE OF search_text ON {table} BEGIN "
                f"INSERT INTO {fts}({fts}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
                f"INSERT INTO {fts}(rowid, search_text) VALUES (new.id, new.search_text); END"
            )
            cursor.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
        return True
    return False


def uninstall(connection: Any) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for suffix in ("insert", "delete", "update"):
                cursor.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(FTS_TABLE)}")


def installed(connection: Any) -> bool:
    """Whether searches on ``connection`` have their index (and, on SQLite, its triggers)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [PG_INDEX])
            return cursor.fetchone() is not None
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE (type = 'table' AND name = %s) "
                "OR (type = 'trigger' AND name LIKE %s)",
                [FTS_TABLE, f"{FTS_TABLE}_%"],
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
        # a few more than RARE matches: a rare needle becomes a list of ids
        # (no query at all when there are none); a common one is tested row
        # by row in the table's order, where matches come soon.
        fts = connection.ops.quote_name(FTS_TABLE)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT rowid FROM {fts} WHERE search_text GLOB %s LIMIT %s",
                [glob_pattern(needle), RARE + 1],
            )
            ids = [row[0] for row in cursor.fetchall()]
        if len(ids) <= RARE:
            return queryset.filter(pk__in=ids)
    # PostgreSQL: LIKE '%needle%' (case-sensitive), which the trigram index
    # answers from three characters on. Both sides are folded already, so on
    # SQLite's case-insensitive LIKE the answer is the same.
    return queryset.filter(search_text__contains=needle)
