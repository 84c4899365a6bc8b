"""What the engine keeps beside the action table is checked, and made again by streams_repair."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from streams import rollup, search_index
from streams.checks import check_database_parts
from streams.models import Action, DailyCount

pytestmark = pytest.mark.django_db


def warnings() -> list[str]:
    return [message.id for message in check_database_parts(databases=["default"])]


def counted() -> int:
    return DailyCount.objects.aggregate(n=Sum("count"))["n"] or 0


def test_a_migrated_database_has_both_and_the_check_says_nothing() -> None:
    assert warnings() == []
    assert check_database_parts() == []  # plain `check`: no database is looked at


def test_missing_count_triggers_are_named_and_the_repair_counts_again() -> None:
    Action.objects.bulk_create(Action(verb="read", actor_name=f"r{n}") for n in range(5))
    rollup.catch_up(connection)
    rollup.uninstall(connection)  # as a table rebuilt by a migration on SQLite
    Action.objects.filter(actor_name__in=["r0", "r1"]).delete()  # nothing takes them out of their day
    assert warnings() == ["streams.W006"]
    assert counted() == 5

    out = io.StringIO()
    call_command("streams_repair", stdout=out)
    assert "Per-day counts made again from 3 actions" in out.getvalue()
    assert warnings() == []
    assert counted() == Action.objects.count() == 3


def test_a_missing_search_index_is_named_and_made_again() -> None:
    Action.objects.bulk_create([Action(verb="read", actor_name="ada", search_text="ada read quincunx")])
    search_index.uninstall(connection)
    assert warnings() == ["streams.W005"]
    call_command("streams_repair", stdout=io.StringIO())
    assert warnings() == []
    from streams import search

    found = search_index.search(Action.objects.all(), search.needle("quincunx"))
    assert [a.actor_name for a in found] == ["ada"]
