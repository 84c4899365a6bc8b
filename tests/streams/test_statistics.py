"""SQLite gets planner statistics for the action table without anyone running ANALYZE."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from streams import statistics
from streams.models import Action

pytestmark = pytest.mark.django_db


def _stat_rows() -> list[Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return []
        cursor.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'streams_action'")
        return cursor.fetchall()


def test_a_grown_action_table_is_analyzed_once_then_left_alone(monkeypatch: Any) -> None:
    monkeypatch.setattr(statistics, "_checked", {})
    now = timezone.now()
    Action.objects.bulk_create(
        Action(timestamp=now, actor_name=f"user{n % 50}", verb="read") for n in range(1500)
    )
    if connection.vendor != "sqlite":
        # PostgreSQL's autovacuum keeps its statistics: the receiver does nothing.
        with CaptureQueriesContext(connection) as captured:
            statistics.keep_current(sender=None, connection=connection)
        assert len(captured) == 0
        return

    assert statistics.analyze_if_stale(connection) is True
    stats = dict(_stat_rows())
    assert "streams_action_actor_newest" in stats
    assert stats["streams_action_actor_newest"].split()[:2] == ["1500", "30"]  # a full count, not a sample
    assert statistics.analyze_if_stale(connection) is False  # current now


def test_a_new_connection_checks_in_the_background_once_per_interval(monkeypatch: Any) -> None:
    monkeypatch.setattr(statistics, "_checked", {})
    started: list[Any] = []

    class Thread:
        def __init__(self, *, target: Any, args: Any, **kwargs: Any) -> None:
            started.append(args)

        def start(self) -> None:
            pass

    monkeypatch.setattr(statistics.threading, "Thread", Thread)
    if connection.vendor == "sqlite":
        # The suite's database is in memory, which no other thread reaches; a file is what counts.
        monkeypatch.setattr(connection, "is_in_memory_db", lambda: False)
    for _ in range(3):
        with CaptureQueriesContext(connection) as captured:
            statistics.keep_current(sender=None, connection=connection)
        assert len(captured) == 0  # never in the request's own connection
    assert started == ([(connection.alias,)] if connection.vendor == "sqlite" else [])
