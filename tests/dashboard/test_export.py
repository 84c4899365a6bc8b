"""CSV export: exactly the filtered rows, in table order, injection-safe."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import AsyncClient

from streams.csvexport import neutralise
from streams.models import Action
from tests.dashboard.conftest import row_ids

pytestmark = pytest.mark.django_db


def read_csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


def test_csv_matches_the_filtered_table(history: dict[str, Any], alice: Any, client_for: Any) -> None:
    client = client_for(alice)
    params = {"verb": "read", "actor": "rae"}

    page_ids = row_ids(client.get("/feed/", params).content.decode())
    response = client.get("/feed/export.csv", params)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="feed-')
    rows = read_csv(response)
    assert rows[0] == ["timestamp", "actor", "verb", "object", "target"]
    expected = Action.objects.filter(pk__in=page_ids).order_by("-timestamp", "-id")
    assert rows[1:] == [
        [a.timestamp.isoformat(), a.actor_name, a.verb, a.object_repr, a.target_repr] for a in expected
    ]
    assert len(rows) == 3


def test_csv_follows_the_table_sort(history: dict[str, Any], alice: Any, client_for: Any) -> None:
    rows = read_csv(client_for(alice).get("/feed/export.csv", {"sort": "timestamp"}))
    stamps = [row[0] for row in rows[1:]]
    assert stamps == sorted(stamps)


def test_csv_neutralises_formulas(history: dict[str, Any], alice: Any, client_for: Any) -> None:
    rows = read_csv(client_for(alice).get("/feed/export.csv", {"verb": "commented"}))
    assert rows[1][3] == '\'=HYPERLINK("http://x")'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("Zoë ☕", "Zoë ☕"),
        (None, ""),
    ],
)
def test_neutralise(value: Any, expected: str) -> None:
    assert neutralise(value) == expected


def test_csv_ip_columns_only_for_staff(
    history: dict[str, Any], admin: Any, alice: Any, client_for: Any
) -> None:
    staff_client, author_client = client_for(admin), client_for(alice)  # logging in is recorded too
    staff = read_csv(staff_client.get("/feed/export.csv"))
    author = read_csv(author_client.get("/feed/export.csv"))

    assert staff[0] == [
        "timestamp",
        "actor",
        "verb",
        "object",
        "target",
        "changes",
        "ip",
        "user_agent",
        "request",
    ]
    assert author[0] == ["timestamp", "actor", "verb", "object", "target"]
    assert len(staff) == Action.objects.count() + 1
    assert len(author) == Action.objects.filter(public=True).count() + 1


def test_csv_with_no_rows_is_a_header(alice: Any, client_for: Any) -> None:
    assert read_csv(client_for(alice).get("/reads/export.csv")) == [
        ["timestamp", "actor", "verb", "object", "target"]
    ]


def test_csv_bad_filters_is_a_400_with_the_reason(alice: Any, client_for: Any) -> None:
    response = client_for(alice).get("/feed/export.csv", {"since": "soon"})
    assert response.status_code == 400
    assert "since" in response.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_csv_streams_asynchronously_under_asgi(alice: Any, rae: Any) -> None:
    from channels.db import database_sync_to_async as sync_to_async

    from publishing import services
    from tests import factories

    story = await sync_to_async(factories.story)(alice, "Zoë's café")
    for _ in range(5):
        await sync_to_async(services.story_read)(story=story, reader=rae)
    client = AsyncClient()
    # database_sync_to_async closes the connection it opens (PostgreSQL
    # refuses to drop a test database another thread still holds).
    await sync_to_async(client.force_login)(alice)

    response = await client.get("/reads/export.csv")

    assert response.is_async
    body = b"".join([chunk async for chunk in response.streaming_content]).decode("utf-8")
    assert body.count("Zoë's café") == 5


@pytest.mark.parametrize(
    ("who", "path"),
    [("admin", "/feed/export.csv"), ("rae", "/feed/export.csv"), ("admin", "/feed/"), ("admin", "/audit/")],
)
def test_exports_and_staff_pages_are_never_cached(
    admin: Any, rae: Any, client_for: Any, who: str, path: str
) -> None:
    response = client_for({"admin": admin, "rae": rae}[who]).get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_a_readers_page_without_staff_columns_is_not_marked_no_store(rae: Any, client_for: Any) -> None:
    response = client_for(rae).get("/feed/")
    assert "no-store" not in response.get("Cache-Control", "")
