"""Keyset paging: every row exactly once in any order, no COUNT or OFFSET, few queries, bad cursors refused."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from publishing import services
from streams import record
from streams.models import Action
from streams.paging import Cursor, Order
from tests import factories
from tests.dashboard.conftest import pager_link, row_ids

pytestmark = pytest.mark.django_db

SORTS = [
    f"{sign}{name}"
    for name in ("timestamp", "actor_name", "verb", "object_repr", "target_repr")
    for sign in ("", "-")
]


@pytest.fixture
def ties(admin: Any) -> list[int]:
    """70 actions whose sort keys mostly tie, and whose timestamps tie in threes."""
    moment = timezone.now() - datetime.timedelta(days=1)
    ids = []
    for number in range(70):
        action = record(
            verb="read" if number % 10 else "commented",
            actor="same" if number % 7 else "other",
            public=True,
            timestamp=moment + datetime.timedelta(seconds=number // 3),
        )
        ids.append(action.pk)
    # Equal texts too: the object and target columns all hold one value.
    Action.objects.filter(pk__in=ids).update(object_repr="Same title", target_repr="")
    return ids


def walk(client: Client, url: str, rel: str, limit: int = 20) -> list[list[int]]:
    """The row ids of each page, following ``rel`` links from ``url``."""
    pages = []
    while url and len(pages) < limit:
        response = client.get(url)
        assert response.status_code == 200, response.content[:500]
        html = response.content.decode()
        pages.append(row_ids(html))
        url = pager_link(html, rel)
    return pages


@pytest.mark.parametrize("sort", SORTS)
def test_paging_through_tied_keys_shows_every_row_once_in_order(
    ties: list[int], admin: Any, client_for: Any, sort: str
) -> None:
    client = client_for(admin)
    forward = walk(client, f"/feed/?sort={sort}", "next")
    seen = [pk for page in forward for pk in page]

    # Staff see every action: the tied ones and the logins of the cast.
    expected = list(Action.objects.order_by(*Order.by(sort).order_by()).values_list("pk", flat=True))
    assert set(ties) <= set(expected)
    assert seen == expected
    assert len(forward) == 3 and [len(page) for page in forward[:-1]] == [25, 25]

    # From the last page back to the first, the same pages.
    last = pager_link(client.get(f"/feed/?sort={sort}").content.decode(), "last")
    backward = walk(client, last, "prev")
    assert backward[0] == expected[-25:]  # the last page is full, ending at the last row
    assert sorted(pk for page in backward for pk in page) == sorted(expected)
    assert len({pk for page in backward for pk in page}) == len(expected)


def test_links_keep_their_rows_when_new_ones_arrive(ties: list[int], admin: Any, client_for: Any) -> None:
    client = client_for(admin)
    second = pager_link(client.get("/feed/").content.decode(), "next")
    before = row_ids(client.get(second).content.decode())
    for _ in range(5):
        record(verb="read", actor="late", public=True)
    assert row_ids(client.get(second).content.decode()) == before


def test_page_views_never_count_or_offset(ties: list[int], admin: Any, rae: Any, client_for: Any) -> None:
    for user in (admin, rae):
        client = client_for(user)
        html = client.get("/feed/?sort=actor_name").content.decode()
        urls = [
            "/feed/",
            "/feed/?sort=actor_name",
            pager_link(html, "next"),
            pager_link(html, "last"),
            "/feed/?actor=nobody",
            "/feed/?q=same",
        ]
        for url in urls:
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200
            for query in captured:
                sql = query["sql"].upper()
                assert "COUNT(" not in sql and "OFFSET" not in sql, (url, sql)


@pytest.fixture
def cast(alice: Any, bob: Any, rae: Any, admin: Any) -> dict[str, Any]:
    rita = factories.user("rita", "reviewer")
    story = factories.story(alice, "Dawn")
    review = factories.review(story, rita)
    for _ in range(30):
        services.story_read(story=story, reader=rae)
        services.reply_create(review=review, author=bob, body="Thanks")
    record(verb="logged in", actor=rae, public=False)
    return {"alice": alice, "rae": rae, "rita": rita, "admin": admin}


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("rae", "/feed/"),
        ("alice", "/feed/"),
        ("alice", "/reads/"),
        ("rita", "/replies/"),
        ("admin", "/feed/"),
        ("admin", "/reads/?author=alice"),
        ("admin", "/replies/?reviewer=rita"),
        ("admin", "/audit/"),
    ],
)
def test_a_full_page_takes_at_most_five_queries_for_each_role(
    cast: dict[str, Any], client_for: Any, who: str, path: str
) -> None:
    client = client_for(cast[who])
    joiner = "&" if "?" in path else "?"
    filtered = f"{path}{joiner}actor=bob&since=2020-01-01&q=Bob"
    # Warm what any running server keeps: content types, the recorded kinds, whom the viewer follows.
    client.get(path)
    client.get(filtered)
    html = client.get(f"{path}{joiner}sort=-verb").content.decode()
    deep = pager_link(html, "next") or f"{path}{joiner}sort=-verb"
    for url in (path, filtered, deep):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        assert len(captured) <= 5, (url, [query["sql"] for query in captured])


def test_an_unknown_actor_and_a_hidden_one_answer_alike(
    history: dict[str, Any], rae: Any, client_for: Any
) -> None:
    client = client_for(rae)
    # "ghost" acted, but only in staff-only actions; "nobody" never did anything.
    record(verb="logged in", actor="ghost", public=False)
    hidden = client.get("/feed/", {"actor": "ghost"})
    unknown = client.get("/feed/", {"actor": "nobody"})
    assert hidden.status_code == unknown.status_code == 200
    assert row_ids(hidden.content.decode()) == row_ids(unknown.content.decode()) == []
    strip = re.compile(r'(ghost|nobody|after=\d+|floor=\d+|nonce="[^"]+"|csrfmiddlewaretoken" value="[^"]+)')
    assert strip.sub("", hidden.content.decode()) == strip.sub("", unknown.content.decode())
    # The export and the socket answer alike too.
    exports = [client.get("/feed/export.csv", {"actor": name}) for name in ("ghost", "nobody")]
    assert [b"".join(export.streaming_content) for export in exports] == [
        b"timestamp,actor,verb,object,target\r\n"
    ] * 2
    from django.http import QueryDict

    from streams.live.tables import subscribe

    for name in ("ghost", "nobody"):
        subscription = subscribe(rae, QueryDict(f"table=feed&actor={name}"))
        assert subscription.query.actor == name


def _token(values: tuple[Any, ...], sort: str = "-timestamp") -> str:
    return Cursor(values).encode(Order.by(sort))


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        "x" * 3000,
        _token(("rae", timezone.now(), 1), sort="actor_name"),  # another order
        _token((timezone.now(), 10**30)),  # an id past the database's integers
        _token(("not a time", 5)),
        _token((timezone.now().replace(tzinfo=None), 5)),  # a time without its zone
        _token((timezone.now(), [5])),  # not a value at all
    ],
)
@pytest.mark.parametrize("path", ["/feed/", "/feed/export.csv"])
def test_a_bad_cursor_is_a_form_error_on_page_partial_and_csv(
    rae: Any, client_for: Any, path: str, cursor: str
) -> None:
    client = client_for(rae)
    response = client.get(path, {"cursor": cursor})
    assert response.status_code == 400
    if not path.endswith(".csv"):
        assert "These filters can’t be used" in response.content.decode()
        assert "cursor:" in response.content.decode()
        partial = client.get(path, {"cursor": cursor}, HTTP_HX_REQUEST="true")
        assert partial.status_code == 400 and "cursor:" in partial.content.decode()


@pytest.mark.parametrize(
    "params", [{"since": "0000-12-31"}, {"until": "10000-01-01"}, {"since": "2026-02-30"}]
)
@pytest.mark.parametrize("path", ["/feed/", "/feed/export.csv"])
def test_an_out_of_range_date_is_a_form_error(
    rae: Any, client_for: Any, path: str, params: dict[str, str]
) -> None:
    client = client_for(rae)
    assert client.get(path, params).status_code == 400
    if not path.endswith(".csv"):
        assert client.get(path, params, HTTP_HX_REQUEST="true").status_code == 400


def test_the_search_uses_its_index(history: dict[str, Any], admin: Any) -> None:
    from streams import search, search_index

    with CaptureQueriesContext(connection) as captured:
        found = list(
            search_index.search(Action.objects.order_by("-timestamp", "-id"), search.needle("DAWN"))[:26]
        )
    assert found and all("Dawn" in (action.object_repr, action.target_repr) for action in found)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            (page,) = captured.captured_queries
            # A handful of rows: the planner would rather scan the table or the
            # newest-first index; forbid both to see the search index serves it.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute(f"EXPLAIN {page['sql']}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "streams_action_search" in plan, plan
        else:
            # The ids come from the FTS5 index, then the page is those ids.
            probe = next(q["sql"] for q in captured.captured_queries if search_index.FTS_TABLE in q["sql"])
            cursor.execute(f"EXPLAIN QUERY PLAN {probe}")
            plan = "\n".join(str(row) for row in cursor.fetchall())
            assert "VIRTUAL TABLE INDEX" in plan, plan


@pytest.mark.parametrize("q", ["ab", " x ", "ß"])
def test_a_search_too_short_for_the_index_says_so(rae: Any, client_for: Any, q: str) -> None:
    response = client_for(rae).get("/feed/", {"q": q})
    assert response.status_code == 400
    assert "Type at least 3 characters to search." in response.content.decode()


def test_live_cursors_need_no_query_of_their_own(ties: list[int], admin: Any, client_for: Any) -> None:
    client = client_for(admin)
    newest = Action.objects.order_by("-pk").first().pk
    client.get("/feed/")  # warm what pages keep: content types, the recorded kinds (streams.kinds)
    # Another order: the count starts at the newest id of all, read inside the page's query.
    with CaptureQueriesContext(connection) as captured:
        html = client.get("/feed/?sort=verb").content.decode()
    assert f"after={newest}&amp;floor={newest}&amp;mode=count" in html
    assert len([query for query in captured if "streams_action" in query["sql"]]) == 1
    # Nothing matches: whatever matches later is new to this page.
    html = client.get("/feed/?q=nothing+like+this").content.decode()
    assert "after=0&amp;floor=0" in html
