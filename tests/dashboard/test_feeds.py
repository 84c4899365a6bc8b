"""Feeds: each table as Atom and as JSON Activity Streams, same filters and scope, for a token holder."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.test import Client

from publishing import services
from streams import feeds, record
from streams.models import Action
from tests import factories

ATOM = "{http://www.w3.org/2005/Atom}"


def entry_ids(response: Any) -> list[int]:
    if response["Content-Type"].startswith("application/atom+xml"):
        root = ET.fromstring(response.content)
        return [int(e.find(f"{ATOM}id").text.rsplit("-", 1)[1]) for e in root.findall(f"{ATOM}entry")]
    body = json.loads(response.content)
    return [int(item["id"].rsplit("-", 1)[1]) for item in body["orderedItems"]]


@pytest.fixture
def stories(alice: Any, bob: Any, rae: Any) -> dict[str, Any]:
    dawn, dusk = factories.story(alice, "Dawn"), factories.story(bob, "Dusk")
    services.story_read(story=dawn, reader=rae)
    services.story_read(story=dusk, reader=rae)
    services.comment_create(story=dawn, author=rae, body="Lovely")
    record(verb="logged in", actor=rae, public=False)
    return {"dawn": dawn, "dusk": dusk}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["atom", "json"])
def test_a_token_shows_its_holders_rows_with_the_tables_filters(stories: Any, alice: Any, kind: str) -> None:
    token = feeds.regenerate(alice)
    anonymous = Client()  # a feed reader: no session
    response = anonymous.get(f"/reads/feed.{kind}", {"token": token})
    assert response.status_code == 200
    expected = list(
        Action.objects.filter(verb="read", owner=alice)
        .order_by("-timestamp", "-id")
        .values_list("pk", flat=True)
    )
    assert entry_ids(response) == expected and expected
    filtered = anonymous.get(f"/feed/feed.{kind}", {"token": token, "verb": "commented"})
    assert entry_ids(filtered) == list(Action.objects.filter(verb="commented").values_list("pk", flat=True))
    staff_only = Action.objects.get(verb="logged in").pk
    assert staff_only not in entry_ids(anonymous.get(f"/feed/feed.{kind}", {"token": token}))
    assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_atom_and_activity_streams_are_well_formed(stories: Any, alice: Any) -> None:
    token = feeds.regenerate(alice)
    atom = Client().get("/inbox/feed.atom", {"token": token})
    assert atom["Content-Type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(atom.content)
    entry = root.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}title").text.startswith("rae ")
    assert entry.find(f"{ATOM}link").get("href").startswith("http://testserver/stories/")
    assert entry.find(f"{ATOM}author/{ATOM}name").text == "rae"
    stream = Client().get("/inbox/feed.json", {"token": token})
    assert stream["Content-Type"] == "application/activity+json; charset=utf-8"
    body = json.loads(stream.content)
    assert body["type"] == "OrderedCollection" and "https://www.w3.org/ns/activitystreams" in body["@context"]
    types = {item["signalboard:verb"]: item["type"] for item in body["orderedItems"]}
    assert types == {"read": "View", "commented": "Create"}
    assert body["orderedItems"][0]["actor"] == {"type": "Person", "name": "rae"}


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["wrong", "", "x" * 65, "revoked"])
def test_a_wrong_or_revoked_token_is_a_404_never_anyones_rows(stories: Any, alice: Any, token: str) -> None:
    if token == "revoked":
        token = feeds.regenerate(alice)
        feeds.revoke(alice)
    for path in ("/reads/feed.atom", "/feed/feed.json"):
        response = Client().get(path, {"token": token})
        assert response.status_code == 404 and b"Dawn" not in response.content


@pytest.mark.django_db
def test_a_new_token_stops_the_old_one_and_a_forbidden_table_stays_forbidden(
    stories: Any, alice: Any, rae: Any
) -> None:
    old = feeds.regenerate(alice)
    new = feeds.regenerate(alice)
    assert Client().get("/reads/feed.atom", {"token": old}).status_code == 404
    assert Client().get("/reads/feed.atom", {"token": new}).status_code == 200
    assert Client().get("/reads/feed.atom", {"token": feeds.regenerate(rae)}).status_code == 403
    assert Client().get("/reads/feed.atom")["Location"].startswith("/accounts/login/")
    assert Client().get("/feed/feed.json", {"token": new, "since": "nope"}).status_code == 400


@pytest.mark.django_db
def test_the_feeds_page_shows_makes_and_revokes_the_token(alice: Any, client_for: Any) -> None:
    client = client_for(alice)
    page = client.get("/feeds/")
    assert "no-store" in page["Cache-Control"] and "You have no feed token yet" in page.content.decode()
    assert client.post("/feeds/", {"action": "regenerate"}).status_code == 303
    token = feeds.token_of(alice)
    html = client.get("/feeds/").content.decode()
    assert f"http://testserver/reads/feed.atom?token={token}" in html
    assert "/replies/feed.atom" not in html  # only the tables alice may open
    client.post("/feeds/", {"action": "revoke"})
    assert feeds.token_of(alice) is None
    assert Client(enforce_csrf_checks=True).post("/feeds/").status_code in (302, 403)
