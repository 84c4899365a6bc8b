"""The search index stays off the write path and never misses a row.

On SQLite new actions are indexed in batches; a search tests the
unindexed tail itself. On PostgreSQL the trigram index is kept by the
database on each INSERT. Either way a search finds each matching action
exactly once, whatever has or has not been indexed yet.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from streams import record, record_many, search, search_index
from streams.models import Action
from streams.query import ActionQuery

pytestmark = pytest.mark.django_db


def found(text: str) -> list[int]:
    return list(ActionQuery(text=text).apply(Action.objects.all()).values_list("id", flat=True))


def indexed(word: str) -> set[int]:
    """Ids the SQLite FTS index itself holds for ``word`` (not the tail)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT rowid FROM {search_index.FTS_TABLE} WHERE search_text GLOB %s",
            [search.glob_pattern(search.needle(word))],
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_new_action_is_found_before_and_after_it_is_indexed() -> None:
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        action = record(verb="wrote", actor="zephyrine")

    assert len(captured) == 1  # the INSERT; on SQLite no trigger feeds the index either
    assert found("zephyrine") == [action.pk]
    if connection.vendor == "sqlite":
        assert indexed("zephyrine") == set()  # in the tail, found all the same
        assert search_index.catch_up(connection) >= 1
        assert indexed("zephyrine") == {action.pk}
    assert found("zephyrine") == [action.pk]  # once, not once per place


def test_a_long_tail_is_indexed_by_the_search_that_meets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_index, "TAIL", 3)
    ids = [record(verb="wrote", actor=f"quillon{n}").pk for n in range(6)]

    assert sorted(found("quillon")) == ids
    if connection.vendor == "sqlite":
        assert indexed("quillon") == set(ids)
        assert search_index.catch_up(connection) == 0  # nothing left behind


def test_a_bulk_is_indexed_at_once() -> None:
    actions = record_many([{"verb": "imported", "actor": f"marlinspike{n}"} for n in range(600)])

    assert sorted(found("marlinspike")) == sorted(actions.ids)
    if connection.vendor == "sqlite":
        assert indexed("marlinspike") == set(actions.ids)


def test_deleting_indexed_and_unindexed_actions_keeps_the_index_sound() -> None:
    first = record(verb="wrote", actor="gossamer")
    search_index.catch_up(connection)
    second = record(verb="wrote", actor="gossamer")  # in the tail
    changed = record(verb="wrote", actor="gossamer")
    search_index.catch_up(connection)
    Action.objects.filter(pk=changed.pk).update(search_text=search.document("filigree", "wrote", "", ""))

    Action.objects.filter(pk__in=[first.pk, second.pk]).delete()

    assert found("gossamer") == []
    assert found("filigree") == [changed.pk]
    if connection.vendor == "sqlite":
        assert indexed("gossamer") == set()
        with connection.cursor() as cursor:  # raises if the index disagrees with the table
            cursor.execute(
                f"INSERT INTO {search_index.FTS_TABLE}({search_index.FTS_TABLE}, rank) VALUES ('integrity-check', 1)"
            )


def test_the_index_is_installed_in_its_batched_form() -> None:
    assert search_index.installed(connection)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'streams_action' "
                "AND name LIKE 'streams_action_search%'"
            )
            assert sorted(row[0] for row in cursor.fetchall()) == [
                "streams_action_search_delete",
                "streams_action_search_update",
            ]


def test_the_batched_form_can_be_undone_and_done_again() -> None:
    record(verb="wrote", actor="halyard")  # in the tail when undone: indexed first
    search_index.unbatch(connection)
    try:
        if connection.vendor == "sqlite":
            assert not search_index.installed(connection)
            later = record(verb="wrote", actor="halyard")  # through the old insert trigger
            assert later.pk in indexed("halyard")
    finally:
        search_index.batch(connection)
    assert search_index.installed(connection)
    assert len(found("halyard")) == (2 if connection.vendor == "sqlite" else 1)


def test_a_bulk_the_index_cannot_take_now_is_still_recorded_and_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import OperationalError

    def busy(*args: Any, **kwargs: Any) -> int:
        raise OperationalError("database is locked")

    with transaction.atomic():
        monkeypatch.setattr(search_index, "catch_up", busy)
        actions = record_many([{"verb": "imported", "actor": f"windlass{n}"} for n in range(600)])
        monkeypatch.undo()
        Action.objects.filter(pk=actions.ids[0]).exists()  # the transaction goes on

    assert sorted(found("windlass")) == sorted(actions.ids)  # from the tail
