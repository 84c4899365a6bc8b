"""The chart above each table: its counts are the table's rows, bucketed, in one query."""

from __future__ import annotations

import datetime
import re
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams import charts
from streams.models import Action
from streams.query import ActionQuery

UTC = datetime.UTC
NOW = datetime.datetime(2026, 12, 2, 15, 40, 12, tzinfo=UTC)


def test_the_window_is_the_last_day_by_hour_or_longer_ranges_by_day() -> None:
    start, end, unit = charts.window(None, None, NOW)
    assert (start, end, unit) == (
        NOW.replace(hour=16, minute=0, second=0) - charts.DAY,
        NOW.replace(hour=16, minute=0, second=0),
        "hour",
    )
    since = datetime.datetime(2026, 11, 20, tzinfo=UTC)
    assert charts.window(since, None, NOW) == (since, datetime.datetime(2026, 12, 3, tzinfo=UTC), "day")
    long_ago = datetime.datetime(2001, 1, 1, tzinfo=UTC)
    start, end, unit = charts.window(long_ago, None, NOW)
    assert unit == "day" and (end - start).days == charts.MAX_DAYS
    two_days = charts.window(NOW - datetime.timedelta(hours=47), NOW, NOW)
    assert two_days[2] == "hour"


VERBS = ["read", "commented", "logged in"]
ACTORS = ["ada", "bo", "Zoë"]


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(VERBS),
            st.sampled_from(ACTORS),
            st.integers(min_value=-3 * 24 * 3600, max_value=3600),  # seconds from NOW
            st.booleans(),
        ),
        max_size=40,
    ),
    verb=st.none() | st.sampled_from(VERBS),
    actor=st.none() | st.sampled_from(ACTORS),
    public_only=st.booleans(),
    since_days=st.none() | st.integers(min_value=1, max_value=5),
)
def test_the_charts_counts_are_the_tables_rows_for_any_filters(
    rows: list[tuple[str, str, int, bool]],
    verb: str | None,
    actor: str | None,
    public_only: bool,
    since_days: int | None,
) -> None:
    Action.objects.all().delete()
    Action.objects.bulk_create(
        Action(verb=v, actor_name=a, timestamp=NOW + datetime.timedelta(seconds=s), public=p)
        for v, a, s, p in rows
    )
    since = NOW - datetime.timedelta(days=since_days) if since_days else None
    query = ActionQuery(
        verbs=frozenset({verb}) if verb else None, actor=actor, public_only=public_only, since=since
    )
    drawn = charts.chart(query, now=NOW)
    start, end, unit = charts.window(since, None, NOW)
    step = charts.HOUR if unit == "hour" else charts.DAY
    # The table's own rows in the window, bucketed here by hand.
    expected: Counter[datetime.datetime] = Counter()
    for action in query.apply(Action.objects.filter(timestamp__gte=start, timestamp__lt=end)):
        at = action.timestamp.astimezone(UTC)
        expected[start + step * ((at - start) // step)] += 1
    assert {b.start: b.count for b in drawn.bins if b.count} == dict(expected)
    assert drawn.bins[0].start == start and drawn.bins[-1].start + step == end
    assert all(b.start < c.start for b, c in zip(drawn.bins, drawn.bins[1:], strict=False))


@pytest.mark.django_db
def test_a_chart_is_one_query() -> None:
    with CaptureQueriesContext(connection) as captured:
        charts.chart(ActionQuery(text="read", verbs=frozenset({"read"})), now=NOW)
    assert len(captured) == 1


@pytest.mark.django_db
def test_the_figure_draws_a_bar_per_hour_and_says_what_it_counts(rae: Any, admin: Any) -> None:
    from django.test import Client

    from streams import record

    def client_for(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    record(verb="read", actor=rae)
    record(verb="logged in", actor=rae, public=False)
    html = client_for(rae).get("/feed/chart/").content.decode()
    assert len(re.findall(r"<rect ", html)) == 24
    assert re.search(r'Actions over the last day, by hour: <span class="chart-total">1</span>;', html)
    since = (datetime.datetime.now(UTC) - datetime.timedelta(days=9)).date().isoformat()
    by_day = client_for(rae).get(f"/feed/chart/?since={since}").content.decode()
    assert len(re.findall(r"<rect ", by_day)) == 10
    assert re.search(
        r'Actions over 10 days, by day: <span class="chart-total">1</span>; the busiest day', by_day
    )
    empty = client_for(rae).get("/feed/chart/?verb=bookmarked").content.decode()
    assert 'by hour: <span class="chart-total">0</span>.</figcaption>' in empty and "busiest" not in empty
    staff = client_for(admin).get("/feed/chart/?verb=logged+in").content.decode()
    logins = Action.objects.filter(verb="logged in").count()  # logging in is audited too
    assert f'<span class="chart-total">{logins}</span>' in staff and logins >= 2
    assert client_for(rae).get("/feed/chart/?since=nope").status_code == 400
    assert client_for(rae).get("/audit/chart/").status_code == 403
    page = client_for(rae).get("/feed/?verb=read").content.decode()
    assert 'id="feed-chart"' in page and 'hx-get="/feed/chart/?verb=read"' in page
