"""Counts kept per day: a chart over months reads them, and they stay the table's rows."""

from __future__ import annotations

import datetime
import io
import threading
from collections import Counter
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import charts, rollup
from streams.models import Action, DailyCount, DailyCountMark
from streams.query import ActionQuery

UTC = datetime.UTC
NOW = datetime.datetime(2026, 12, 2, 15, 40, 12, tzinfo=UTC)
VERBS = ["read", "commented", "logged in"]


def table_rows(query: ActionQuery, start: datetime.datetime, end: datetime.datetime) -> dict[Any, int]:
    """The table's own rows in the window, bucketed by UTC day here by hand."""
    found: Counter[datetime.datetime] = Counter()
    for action in query.apply(Action.objects.filter(timestamp__gte=start, timestamp__lt=end)):
        at = action.timestamp.astimezone(UTC)
        found[start + charts.DAY * ((at - start) // charts.DAY)] += 1
    return dict(found)


def counted_total() -> int:
    return DailyCount.objects.aggregate(n=Sum("count"))["n"] or 0


def upto() -> int:
    mark = DailyCountMark.objects.first()
    return mark.upto if mark else 0


def add(rows: list[tuple[str, int, bool]]) -> None:
    Action.objects.bulk_create(
        Action(verb=v, actor_name="ada", timestamp=NOW + datetime.timedelta(seconds=s), public=p)
        for v, s, p in rows
    )


ROWS = st.lists(
    st.tuples(
        st.sampled_from(VERBS),
        st.integers(min_value=-12 * 24 * 3600, max_value=3600),  # seconds from NOW
        st.booleans(),
    ),
    max_size=30,
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=ROWS,
    later=ROWS,
    counted=st.integers(min_value=0, max_value=30),
    deleted=st.sets(st.integers(min_value=0, max_value=29), max_size=8),
    renamed=st.sets(st.integers(min_value=0, max_value=29), max_size=4),
    verb=st.none() | st.sampled_from(VERBS),
    public_only=st.booleans(),
    since_days=st.integers(min_value=4, max_value=14),
    since_hour=st.sampled_from([0, 0, 7]),  # a since inside a day cuts that day
    until_days=st.none() | st.integers(min_value=0, max_value=1),
)
def test_a_days_count_is_the_tables_rows_whatever_was_counted_deleted_or_changed(
    rows: list[tuple[str, int, bool]],
    later: list[tuple[str, int, bool]],
    counted: int,
    deleted: set[int],
    renamed: set[int],
    verb: str | None,
    public_only: bool,
    since_days: int,
    since_hour: int,
    until_days: int | None,
) -> None:
    Action.objects.all().delete()
    DailyCount.objects.all().delete()
    DailyCountMark.objects.update(upto=0)
    add(rows)
    rollup.catch_up(connection, limit=counted)  # some counted into their days, the rest a tail
    ids = list(Action.objects.order_by("id").values_list("id", flat=True))
    Action.objects.filter(id__in=[ids[i] for i in deleted if i < len(ids)]).delete()
    for i in renamed:
        if i < len(ids):  # a changed verb, public flag and day move the action to another count
            Action.objects.filter(id=ids[i]).update(
                verb="bookmarked", public=False, timestamp=NOW - datetime.timedelta(days=4)
            )
    add(later)
    midnight = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    since = midnight - datetime.timedelta(days=since_days) + datetime.timedelta(hours=since_hour)
    until = midnight - datetime.timedelta(days=until_days) if until_days is not None else None
    query = ActionQuery(
        verbs=frozenset({verb}) if verb else None, public_only=public_only, since=since, until=until
    )
    drawn = charts.chart(query, now=NOW)
    start, end, unit = charts.window(since, until, NOW)
    assert unit == "day"
    assert {b.start: b.count for b in drawn.bins if b.count} == table_rows(query, start, end)
    assert drawn.bins[0].start == start and drawn.bins[-1].start + charts.DAY == end
    # And the counts hold exactly the counted actions that are left.
    assert counted_total() == Action.objects.filter(id__lte=upto()).count()


@pytest.mark.django_db
def test_a_long_window_caught_up_is_one_statement_that_reads_days_not_actions() -> None:
    add([("read", -s * 3600, True) for s in range(0, 24 * 40, 5)])
    rollup.catch_up(connection)
    add([("read", -60, True)])  # a tail, counted by the same statement
    since = NOW.replace(hour=0, minute=0, second=0, microsecond=0) - datetime.timedelta(days=30)
    query = ActionQuery(verbs=frozenset({"read"}), since=since)
    with CaptureQueriesContext(connection) as captured:
        drawn = charts.chart(query, now=NOW)
    assert len(captured) == 1
    assert "dailycount" in captured[0]["sql"]
    start, end, _ = charts.window(query.since, None, NOW)
    assert {b.start: b.count for b in drawn.bins if b.count} == table_rows(query, start, end)


@pytest.mark.django_db
def test_a_selective_filter_or_an_hourly_window_counts_actions() -> None:
    add([("read", -3600, True)])
    rollup.catch_up(connection)
    for query in (
        ActionQuery(actor="ada", since=NOW - datetime.timedelta(days=30)),
        ActionQuery(text="ada", since=NOW - datetime.timedelta(days=30)),
        ActionQuery(owner_id=1, since=NOW - datetime.timedelta(days=30)),
        ActionQuery(request_id="r1", since=NOW - datetime.timedelta(days=30)),
        ActionQuery(verbs=frozenset({"read"})),  # the last day, by hour
    ):
        with CaptureQueriesContext(connection) as captured:
            charts.chart(query, now=NOW)
        assert not any("dailycount" in q["sql"] for q in captured), query
    assert rollup.answers(ActionQuery(verbs=frozenset({"read"}), public_only=True, object_type_id=3))
    assert not rollup.answers(ActionQuery(followed_by=1))


@pytest.mark.django_db
def test_a_tail_grown_past_its_limit_is_counted_in_by_the_chart_that_meets_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rollup, "TAIL", 3)
    add([("read", -s * 86400, True) for s in range(10)])
    before = upto()
    query = ActionQuery(since=NOW - datetime.timedelta(days=20))
    drawn = charts.chart(query, now=NOW)
    assert drawn.total == 10
    if connection.vendor == "sqlite":  # PostgreSQL does not catch up inside the test's transaction
        assert upto() == Action.objects.latest("id").id > before
        assert counted_total() == 10


@pytest.mark.django_db
def test_pruning_counted_actions_takes_them_out_of_their_days() -> None:
    add([("read", -s * 86400, True) for s in range(40)])
    rollup.catch_up(connection)
    assert counted_total() == 40
    call_command(
        "streams_prune", before=(NOW - datetime.timedelta(days=10)).date().isoformat(), stdout=io.StringIO()
    )
    assert counted_total() == Action.objects.count() < 40
    assert (
        charts.chart(ActionQuery(since=NOW - datetime.timedelta(days=60)), now=NOW).total
        == Action.objects.count()
    )


@pytest.mark.django_db
def test_the_triggers_are_installed_and_can_be_removed_and_put_back() -> None:
    assert rollup.installed(connection)
    rollup.uninstall(connection)
    assert not rollup.installed(connection)
    rollup.install(connection)
    assert rollup.installed(connection)


@pytest.mark.django_db(transaction=True)
def test_postgresql_counts_only_ids_no_uncommitted_action_can_still_take() -> None:
    """A writer holds id n uncommitted while n + 1 commits: n + 1 is not counted before n is settled."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite has one writer at a time: every id it shows is settled (make test-services runs this)"
        )
    held = threading.Event()
    release = threading.Event()

    def writer() -> None:
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(
                    "INSERT INTO streams_action (timestamp, actor_name, verb, object_id, object_repr, "
                    "target_id, target_repr, public, user_agent, search_text) "
                    "VALUES (now(), 'ada', 'read', '', '', '', '', true, '', '')"
                )
                held.set()
                release.wait(10)
                cursor.execute("COMMIT")
        finally:
            other.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert held.wait(10)
        add([("read", -60, True)])  # commits, with a higher id than the writer's
        assert rollup.catch_up(connection) == 0  # the writer is in flight: nothing moves
        assert counted_total() == 0
    finally:
        release.set()
        thread.join(10)
    assert rollup.catch_up(connection) == 2
    assert counted_total() == Action.objects.count() == 2


@pytest.mark.django_db
def test_recording_an_action_writes_no_count_the_chart_counts_it_from_the_tail() -> None:
    from streams import record

    add([("read", -3 * 86400, True)])
    rollup.catch_up(connection)
    before = list(DailyCount.objects.values_list("day", "verb", "count"))
    record(verb="read", actor=None, timestamp=NOW - datetime.timedelta(days=2))
    assert list(DailyCount.objects.values_list("day", "verb", "count")) == before  # no save pays
    since = NOW.replace(hour=0, minute=0, second=0, microsecond=0) - datetime.timedelta(days=5)
    assert charts.chart(ActionQuery(since=since), now=NOW).total == 2
