"""Who sees what: every role × every table × page, htmx partial, CSV and socket."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db.models import Q
from django.test import Client

from dashboard.asgi import application
from streams import record
from streams.models import Action, Follow
from tests import factories

ROLES = ("anonymous", "reader", "author", "reviewer", "staff")
TABLES = ("feed", "inbox", "following", "reads", "replies", "audit")
ALLOWED = {
    "reader": {"feed", "inbox", "following"},
    "author": {"feed", "inbox", "following", "reads"},
    "reviewer": {"feed", "inbox", "following", "replies"},
    "staff": set(TABLES),
}
PUBLIC_VERBS = ["published", "read", "commented", "bookmarked", "reviewed", "replied", "liked"]


def build_world() -> dict[str, Any]:
    people = {
        "reader": factories.user("rae"),
        "author": factories.user("alice", "author"),
        "other_author": factories.user("bob", "author"),
        "reviewer": factories.user("rita", "reviewer"),
        "other_reviewer": factories.user("raj", "reviewer"),
        "staff": factories.user("admin", "staff"),
    }
    dawn = factories.story(people["author"], "Dawn")
    dusk = factories.story(people["other_author"], "Dusk")
    reader = people["reader"]
    record(verb="read", actor=reader, object=dawn, owner=people["author"].pk)
    record(verb="read", actor=reader, object=dusk, owner=people["other_author"].pk)
    record(verb="replied", actor=reader, object=dawn, owner=people["reviewer"].pk)
    record(verb="liked", actor=reader, object=dusk, owner=people["other_reviewer"].pk)
    record(
        verb="changed state",
        actor=people["staff"],
        object=reader,
        public=False,
        changes={"state": ["active", "locked"]},
    )
    record(verb="failed login", actor="rae", public=False)
    # For you: everyone owns something; what is staff-only stays out even for its owner.
    record(verb="commented", actor=people["other_author"], object=dusk, owner=people["staff"].pk)
    record(verb="liked", actor=people["other_author"], object=dusk, owner=reader.pk)
    record(verb="updated", actor=people["staff"], object=dawn, owner=reader.pk, public=False)
    # Following: whom each follows; the reader's staff-only actions stay out even so.
    for follower, followed in (
        ("reader", "other_author"),
        ("author", "reader"),
        ("reviewer", "reader"),
        ("staff", "reader"),
    ):
        Follow.objects.create(follower=people[follower], followed=people[followed])
    Action.objects.update(ip="192.0.2.44", user_agent="Agent/1")
    return people


def expected_ids(role: str, table: str, people: dict[str, Any]) -> set[int]:
    """Independent of the selectors: the DESIGN's table, written as plain ORM filters."""
    me = people.get(role)
    scopes = {
        "feed": Q() if role == "staff" else Q(public=True),
        "reads": Q(verb="read") & (Q() if role == "staff" else Q(owner=me)),
        "replies": Q(verb__in=["replied", "liked"]) & (Q() if role == "staff" else Q(owner=me)),
        "audit": Q(verb__in=["changed state", "logged in", "logged out", "failed login"]),
        # Everyone's own public actions, staff included (no one sees another's).
        "inbox": Q(owner=me, public=True, verb__in=PUBLIC_VERBS),
        "following": Q(
            actor_id__in=Follow.objects.filter(follower=me).values("followed"),
            public=True,
            verb__in=PUBLIC_VERBS,
        ),
    }
    return set(Action.objects.filter(scopes[table]).values_list("id", flat=True))


def shown_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<tr id="action-(\d+)"', html)}


def client_for(role: str, people: dict[str, Any]) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(people[role])
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_page_partial_and_csv(role: str, table: str) -> None:
    people = build_world()
    client = client_for(role, people)
    page = client.get(f"/{table}/")
    partial = client.get(f"/{table}/", headers={"HX-Request": "true"})
    export = client.get(f"/{table}/export.csv")

    if role == "anonymous":
        for response in (page, partial, export):
            assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        return
    if table not in ALLOWED[role]:
        assert (page.status_code, partial.status_code, export.status_code) == (403, 403, 403)
        assert not shown_ids(page.content.decode())
        return

    expected = expected_ids(role, table, people)
    assert expected, "the world has something for every allowed cell"
    assert shown_ids(page.content.decode()) == expected
    assert shown_ids(partial.content.decode()) == expected
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert len(rows) - 1 == len(expected)
    html = page.content.decode()
    if role == "staff" and table not in ("inbox", "following"):
        assert "192.0.2.44" in html and rows[0][-3:] == ["ip", "user_agent", "request"]
    else:
        assert "192.0.2.44" not in html and "Agent/1" not in html
        assert "ip" not in rows[0] and all("192.0.2.44" not in ",".join(row) for row in rows)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
async def test_socket(role: str, table: str) -> None:
    people = await database_sync_to_async(build_world)()
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver")]
    if role != "anonymous":
        client = await database_sync_to_async(client_for)(role, people)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    socket = WebsocketCommunicator(application, f"/ws/live/?table={table}&after=0", headers=headers)
    assert (await socket.connect())[0]

    if role == "anonymous" or table not in ALLOWED[role]:
        closing = await socket.receive_output(timeout=3)
        assert (closing["type"], closing["code"]) == (
            "websocket.close",
            4401 if role == "anonymous" else 4403,
        )
        await socket.wait()
        return

    expected = await database_sync_to_async(expected_ids)(role, table, people)
    received: set[int] = set()
    while len(received) < len(expected):
        received |= shown_ids(await socket.receive_from(timeout=3))
    assert received == expected
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("role", ROLES)
def test_feeds_by_token(role: str, table: str) -> None:
    from streams import feeds
    from tests.dashboard.test_feeds import entry_ids

    people = build_world()
    reader = Client()  # a feed reader holds no session, only the address
    for kind in ("atom", "json"):
        assert reader.get(f"/{table}/feed.{kind}", {"token": "not-a-token"}).status_code == 404
    if role == "anonymous":
        assert reader.get(f"/{table}/feed.atom")["Location"].startswith("/accounts/login/")
        return
    token = feeds.regenerate(people[role])
    for kind in ("atom", "json"):
        response = reader.get(f"/{table}/feed.{kind}", {"token": token})
        if table not in ALLOWED[role]:
            assert response.status_code == 403
            continue
        assert response.status_code == 200
        assert set(entry_ids(response)) == expected_ids(role, table, people)
        assert b"192.0.2.44" not in response.content and b"Agent/1" not in response.content
