"""Actions counted per UTC day ahead of time, so a chart over months reads days, not actions.

A chart over a long window counts every action in it: a month of a busy
table is 100,000 index entries, the whole year a million (``bench.chart``).
``DailyCount`` holds, per UTC day, the number of actions of each verb,
visibility, object kind and target kind: the columns a broad filter uses.
A year of a million actions is about 4,000 of its rows.

No save pays for it. It is filled in batches, like SQLite's search index
(``streams.search_index``): everything up to a high-water mark of action
ids (``DailyCountMark``) is counted; the rows after it are the tail, which
a chart counts itself, in the same statement, and catches up once it has
grown past ``TAIL``. Deletes and updates of counted rows reach the counts
by triggers (``install()``; ``streams_prune``, a deleted route's undo, an
admin's delete), which cost nothing at insert time.

The mark only moves over settled ids: on SQLite, writers take turns, so
the highest id is committed; on PostgreSQL, ids are handed out before
their transactions commit, in any order, so the catch-up first takes a
SHARE lock on the action table for an instant (waiting at most
``LOCK_TIMEOUT`` for writers in flight, else it leaves the tail for the
next chart). Elsewhere (other databases) charts count actions directly.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from typing import Any

from django.db import DatabaseError, connections, transaction

from streams.query import ActionQuery

logger = logging.getLogger(__name__)

VENDORS = ("sqlite", "postgresql")
# A chart counts up to this many uncounted actions itself; past it, it catches up first.
TAIL = 5000
# At most this many actions are counted per catch-up (a request's share).
CATCH_UP = 200_000
# PostgreSQL: how long a catch-up waits for writers in flight before leaving it for later.
LOCK_TIMEOUT = "100ms"
# The filters a day's counts can answer (besides the window): any other one, and charts count actions.
FILTERS = frozenset({"verbs", "public_only", "object_type_id", "target_type_id", "since", "until"})
TRIGGERS = ("streams_dailycount_delete", "streams_dailycount_update")
FUNCTION = "streams_dailycount_follow"
# Columns of the action table whose change moves an action to another count.
KEY_COLUMNS = "timestamp, verb, public, object_type_id, target_type_id"


def answers(query: ActionQuery) -> bool:
    """Whether per-day counts answer ``query``: it filters only on the counts' columns and time."""
    defaults = ActionQuery()
    return all(
        getattr(query, field.name) == getattr(defaults, field.name)
        for field in dataclasses.fields(query)
        if field.name not in FILTERS
    )


def _names(connection: Any) -> dict[str, str]:
    from streams.models import Action, DailyCount, DailyCountMark

    qn = connection.ops.quote_name
    return {
        "action": qn(Action._meta.db_table),
        "counts": qn(DailyCount._meta.db_table),
        "mark": qn(DailyCountMark._meta.db_table),
    }


def _day_of(connection: Any, column: str) -> str:
    """SQL for the UTC day of a timestamp column (SQLite stores UTC text: its first ten characters)."""
    if connection.vendor == "sqlite":
        return f"substr({column}, 1, 10)"
    return f"({column} AT TIME ZONE 'UTC')::date"


def install(connection: Any) -> None:
    """The triggers that keep counted days true when counted actions are deleted or changed."""
    if connection.vendor not in VENDORS:
        return
    names = _names(connection)
    action, counts, mark = names["action"], names["counts"], names["mark"]

    def key(row: str) -> tuple[str, str]:
        where = (
            f"day = {_day_of(connection, row + '.timestamp')} AND verb = {row}.verb AND public = {row}.public "
            f"AND object_kind = coalesce({row}.object_type_id, 0) "
            f"AND target_kind = coalesce({row}.target_type_id, 0)"
        )
        values = (
            f"{_day_of(connection, row + '.timestamp')}, {row}.verb, {row}.public, "
            f"coalesce({row}.object_type_id, 0), coalesce({row}.target_type_id, 0), 1"
        )
        return where, values

    old_where, _ = key("old")
    _, new_values = key("new")
    columns = "(day, verb, public, object_kind, target_kind, count)"
    conflict = "(day, verb, public, object_kind, target_kind)"
    decrement = f"UPDATE {counts} SET count = count - 1 WHERE {old_where};"
    increment = (
        f"INSERT INTO {counts} {columns} VALUES ({new_values}) "
        f"ON CONFLICT {conflict} DO UPDATE SET count = {counts}.count + 1;"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            counted = f"old.id <= (SELECT upto FROM {mark})"
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {TRIGGERS[0]} AFTER DELETE ON {action} "
                f"WHEN {counted} BEGIN {decrement} END"
            )
            cursor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {TRIGGERS[1]} AFTER UPDATE OF {KEY_COLUMNS} ON {action} "
                f"WHEN {counted} BEGIN {decrement} {increment} END"
            )
            return
        # PostgreSQL: the mark's row is read FOR SHARE, so a delete waits for a catch-up in
        # flight (which holds it FOR UPDATE) and then sees whether it counted the row. A
        # delete is taken out once per statement, grouped (a prune deletes thousands); an
        # update (rare) row by row, as a transition table cannot go with a column list.
        day = _day_of(connection, "gone.timestamp")
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"DECLARE counted bigint; BEGIN "
            f"SELECT upto INTO counted FROM {mark} FOR SHARE; "
            "IF TG_OP = 'DELETE' THEN "
            f"UPDATE {counts} SET count = {counts}.count - gone.n FROM ("
            f"SELECT {day} AS day, verb, public, coalesce(object_type_id, 0) AS object_kind, "
            "coalesce(target_type_id, 0) AS target_kind, count(*) AS n FROM gone WHERE id <= counted "
            "GROUP BY 1, 2, 3, 4, 5) gone "
            f"WHERE {counts}.day = gone.day AND {counts}.verb = gone.verb AND {counts}.public = gone.public "
            f"AND {counts}.object_kind = gone.object_kind AND {counts}.target_kind = gone.target_kind; "
            f"ELSIF old.id <= counted THEN {decrement} {increment} END IF; RETURN NULL; END $$"
        )
        cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGERS[0]} ON {action}")
        cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGERS[1]} ON {action}")
        cursor.execute(
            f"CREATE TRIGGER {TRIGGERS[0]} AFTER DELETE ON {action} REFERENCING OLD TABLE AS gone "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
        )
        cursor.execute(
            f"CREATE TRIGGER {TRIGGERS[1]} AFTER UPDATE OF {KEY_COLUMNS} ON {action} "
            f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        )


def uninstall(connection: Any) -> None:
    if connection.vendor not in VENDORS:
        return
    action = _names(connection)["action"]
    with connection.cursor() as cursor:
        for trigger in TRIGGERS:
            if connection.vendor == "sqlite":
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {action}")
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


def installed(connection: Any) -> bool:
    """Whether the triggers are in place (a migration that rebuilds the action table on SQLite drops them)."""
    if connection.vendor not in VENDORS:
        return False
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s)",
                list(TRIGGERS),
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname IN (%s, %s)",
                list(TRIGGERS),
            )
        return cursor.fetchone()[0] == len(TRIGGERS)


def rebuild(connection: Any) -> int:
    """Count every action again, from none (after the triggers were missing); how many were counted.

    Charts count actions while it runs: the counts and the mark are emptied
    together first, so the tail is everything until the catch-up ends.
    """
    from streams.models import DailyCount, DailyCountMark

    if connection.vendor not in VENDORS:
        return 0
    with transaction.atomic(using=connection.alias):
        DailyCount.objects.using(connection.alias).all().delete()
        DailyCountMark.objects.using(connection.alias).update(upto=0)
        install(connection)
    total = 0
    while counted := catch_up(connection):
        total += counted
    return total


def catch_up(connection: Any, limit: int = CATCH_UP) -> int:
    """Count up to ``limit`` settled actions past the mark into their days; how many (0 when none or busy)."""
    if connection.vendor not in VENDORS:
        return 0
    names = _names(connection)
    action, counts, mark = names["action"], names["counts"], names["mark"]
    try:
        settled = _settled(connection)
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                cursor.execute(f"SELECT upto FROM {mark} FOR UPDATE")
            else:
                cursor.execute(f"SELECT upto FROM {mark}")
            row = cursor.fetchone()
            done = row[0] if row else 0
            if row is None:
                cursor.execute(f"INSERT INTO {mark} (id, upto) VALUES (1, 0)")
            cursor.execute(
                f"SELECT count(*), max(id) FROM (SELECT id FROM {action} WHERE id > %s AND id <= %s "
                "ORDER BY id LIMIT %s) batch",
                [done, settled, limit],
            )
            count, last = cursor.fetchone()
            if not count:
                return 0
            day = _day_of(connection, "timestamp")
            cursor.execute(
                f"INSERT INTO {counts} (day, verb, public, object_kind, target_kind, count) "
                f"SELECT {day}, verb, public, coalesce(object_type_id, 0), coalesce(target_type_id, 0), count(*) "
                f"FROM {action} WHERE id > %s AND id <= %s GROUP BY 1, 2, 3, 4, 5 "
                "ON CONFLICT (day, verb, public, object_kind, target_kind) "
                f"DO UPDATE SET count = {counts}.count + excluded.count",
                [done, last],
            )
            cursor.execute(f"UPDATE {mark} SET upto = %s", [last])
    except DatabaseError:  # busy (a lock not had in time): the tail waits for the next chart
        logger.info("could not count the newest actions into their days now", exc_info=True)
        return 0
    return count


def _settled(connection: Any) -> int:
    """The highest action id below which no uncommitted action can appear any more."""
    action = _names(connection)["action"]
    highest = f"SELECT coalesce(max(id), 0) FROM {action}"
    if connection.vendor == "sqlite":  # one writer at a time: every id there is committed
        with connection.cursor() as cursor:
            cursor.execute(highest)
            return cursor.fetchone()[0]
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        # Writers hold ROW EXCLUSIVE from their INSERT (which draws the id) to their
        # commit; SHARE waits for them and lets none start: what is there is settled.
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f"LOCK TABLE {action} IN SHARE MODE")
        cursor.execute(highest)
        return cursor.fetchone()[0]


def counts(query: ActionQuery, days: list[datetime.date], using: str) -> dict[datetime.date, int] | None:
    """Actions of ``query`` on each of ``days`` (whole UTC days), from the counts and the tail.

    One statement reads the mark, the days' counts and the uncounted tail
    at one moment. None when the tail is longer than ``TAIL`` and cannot be
    caught up now, or the database keeps no counts: count actions instead.
    """
    connection = connections[using]
    if connection.vendor not in VENDORS or not days:
        return None
    if query.verbs is not None and not query.verbs:
        return dict.fromkeys(days, 0)
    for attempt in range(2):
        found = _read(connection, query, days)
        if found is not None:
            return found
        # Not inside a caller's transaction on PostgreSQL: the lock would last as long as it.
        if attempt or (connection.vendor == "postgresql" and connection.in_atomic_block):
            return None
        if not catch_up(connection):
            return None
    return None


def _read(connection: Any, query: ActionQuery, days: list[datetime.date]) -> dict[datetime.date, int] | None:
    names = _names(connection)
    action, counts_table, mark = names["action"], names["counts"], names["mark"]
    ops = connection.ops
    first, end = days[0], days[-1] + datetime.timedelta(days=1)
    start_at = datetime.datetime.combine(first, datetime.time.min, tzinfo=datetime.UTC)
    end_at = datetime.datetime.combine(end, datetime.time.min, tzinfo=datetime.UTC)

    def where(kind_columns: tuple[str, str]) -> tuple[str, list[Any]]:
        sql, params = [], []
        if query.verbs is not None:
            sql.append(f"verb IN ({', '.join(['%s'] * len(query.verbs))})")
            params += sorted(query.verbs)
        if query.public_only:
            sql.append("public = %s")
            params.append(True)
        for column, value in zip(kind_columns, (query.object_type_id, query.target_type_id), strict=True):
            if value is not None:
                sql.append(f"{column} = %s")
                params.append(value)
        return "".join(f" AND {clause}" for clause in sql), params

    counted_where, counted_params = where(("object_kind", "target_kind"))
    tail_where, tail_params = where(("object_type_id", "target_type_id"))
    # The tail, by primary key, one more than the most a chart counts itself, read once.
    day = _day_of(connection, "timestamp")
    sql = (
        f"WITH tail AS (SELECT id, timestamp, verb, public, object_type_id, target_type_id FROM {action} "
        f"WHERE id > coalesce((SELECT upto FROM {mark}), 0) ORDER BY id LIMIT %s) "
        "SELECT 0, NULL, count(*) FROM tail "
        f"UNION ALL SELECT 1, day, count FROM {counts_table} WHERE day >= %s AND day < %s{counted_where} "
        f"UNION ALL SELECT 1, {day}, count(*) FROM tail WHERE timestamp >= %s AND timestamp < %s{tail_where} "
        "GROUP BY 2"
    )
    params = [
        TAIL + 1,
        ops.adapt_datefield_value(first),
        ops.adapt_datefield_value(end),
        *counted_params,
        ops.adapt_datetimefield_value(start_at),
        ops.adapt_datetimefield_value(end_at),
        *tail_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    tail = next((n for kind, _, n in rows if kind == 0), None)
    if tail is None or tail > TAIL:
        return None
    found = dict.fromkeys(days, 0)
    for kind, at, n in rows:
        if kind == 1:
            at = at if isinstance(at, datetime.date) else datetime.date.fromisoformat(at)
            found[at] += int(n)
    return found
