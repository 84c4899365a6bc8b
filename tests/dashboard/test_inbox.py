"""For you (/inbox/): each viewer's own public actions, and an unseen badge kept live on every tab."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client

from publishing import services
from streams import record
from streams.models import Action, Seen
from tests import factories
from tests.dashboard.test_live_socket import open_socket, world  # noqa: F401 - the socket tests' cast

pytestmark = pytest.mark.django_db(transaction=True)


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="action-(\d+)"', html)]


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def cast(alice: Any, bob: Any, rae: Any, admin: Any) -> dict[str, Any]:
    rita = factories.user("rita", "reviewer")
    dawn, dusk = factories.story(alice, "Dawn"), factories.story(bob, "Dusk")
    services.story_read(story=dawn, reader=rae)
    services.story_read(story=dusk, reader=rae)
    services.comment_create(story=dawn, author=rae, body="Lovely")
    review = services.review_create(story=dawn, reviewer=rita, rating=4, body="Good")
    services.reply_create(review=review, author=alice, body="Thanks")
    record(verb="updated", object=dawn, owner=alice, public=False)  # staff-only, though alice owns it
    return {"alice": alice, "bob": bob, "rae": rae, "rita": rita, "admin": admin, "dawn": dawn}


def own_public(user: Any) -> list[int]:
    return list(
        Action.objects.filter(owner=user, public=True)
        .order_by("-timestamp", "-id")
        .values_list("pk", flat=True)
    )


@pytest.mark.parametrize("who", ["alice", "bob", "rae", "rita", "admin"])
def test_each_viewer_sees_their_own_public_actions_on_page_and_csv(cast: dict[str, Any], who: str) -> None:
    user = cast[who]
    client = logged_in(user)
    page = client.get("/inbox/?author=alice&owner=alice")  # no one picks someone else's
    assert page.status_code == 200
    assert row_ids(page.content.decode()) == own_public(user)
    export = client.get("/inbox/export.csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0] == ["timestamp", "actor", "verb", "object", "target"]  # no staff columns, even for staff
    assert len(rows) - 1 == len(own_public(user))


def test_alices_inbox_holds_reads_comments_and_replies_to_her_not_staff_only_rows(
    cast: dict[str, Any],
) -> None:
    verbs = Action.objects.filter(pk__in=own_public(cast["alice"])).values_list("verb", flat=True)
    assert sorted(verbs) == ["commented", "read", "reviewed"]
    rita_verbs = Action.objects.filter(pk__in=own_public(cast["rita"])).values_list("verb", flat=True)
    assert list(rita_verbs) == ["replied"]


def test_opening_the_inbox_marks_what_it_shows_as_seen_and_never_back(cast: dict[str, Any]) -> None:
    alice = cast["alice"]
    client = logged_in(alice)
    assert not Seen.objects.filter(user=alice).exists()
    client.get("/inbox/?verb=read")  # filtered: not everything new was shown
    assert not Seen.objects.filter(user=alice).exists()
    client.get("/inbox/")
    assert Seen.objects.get(user=alice, table="inbox").upto == own_public(alice)[0]
    Seen.objects.filter(user=alice).update(upto=10**9)
    client.get("/inbox/")
    assert Seen.objects.get(user=alice, table="inbox").upto == 10**9


def test_the_navigation_holds_the_badge_and_its_socket_for_everyone(cast: dict[str, Any]) -> None:
    html = logged_in(cast["rae"]).get("/stories/").content.decode()
    assert 'ws-connect="/ws/live/?table=inbox&amp;badge=1"' in html
    assert '<span id="inbox-count" class="streams-count" data-count="0"' in html
    assert "inbox-count" not in Client().get("/stories/").content.decode()


async def count_of(socket: Any, timeout: float = 3) -> int:
    frame = await socket.receive_from(timeout=timeout)
    found = re.search(r'<span id="inbox-count"[^>]* data-count="(\d+)"[^>]*hx-swap-oob="true"', frame)
    assert found, frame
    return int(found.group(1))


async def test_the_badge_counts_what_is_new_and_drops_on_every_tab_when_the_inbox_opens(
    world: dict[str, Any],  # noqa: F811
) -> None:
    alice, bob, rae = world["alice"], world["bob"], world["rae"]
    await sync_to_async(services.story_read)(story=world["dawn"], reader=rae)
    first, connected, _ = await open_socket(alice, "table=inbox&badge=1")
    assert connected
    assert await count_of(first) == 1  # never opened: what is hers so far
    second, _, _ = await open_socket(alice, "table=inbox&badge=1")
    assert await count_of(second) == 1
    bobs, _, _ = await open_socket(bob, "table=inbox&badge=1")
    assert await bobs.receive_nothing(timeout=0.3)  # nothing for bob: no frame at all

    await sync_to_async(services.story_read)(story=world["dawn"], reader=rae)
    assert [await count_of(first), await count_of(second)] == [2, 2]
    assert await bobs.receive_nothing(timeout=0.3)

    await sync_to_async(lambda: logged_in(alice).get("/inbox/"))()
    assert [await count_of(first), await count_of(second)] == [0, 0]
    # A reconnecting badge starts from the cursor.
    third, _, _ = await open_socket(alice, "table=inbox&badge=1")
    assert await third.receive_nothing(timeout=0.3)
    for socket in (first, second, bobs, third):
        await socket.disconnect()


async def test_a_badge_of_a_table_without_a_cursor_is_refused(world: dict[str, Any]) -> None:  # noqa: F811
    socket, _, _ = await open_socket(world["alice"], "table=feed&badge=1")
    closing = await socket.receive_output(timeout=3)
    assert (closing["type"], closing["code"]) == ("websocket.close", 4400)


def test_live_rows_shown_on_the_open_inbox_are_marked_seen_and_never_back(cast: dict[str, Any]) -> None:
    alice = cast["alice"]
    client = logged_in(alice)
    newest, older = own_public(alice)[0], own_public(alice)[-1]
    assert client.post("/inbox/seen/", {"upto": str(newest)}).status_code == 204
    assert Seen.objects.get(user=alice, table="inbox").upto == newest
    assert client.post("/inbox/seen/", {"upto": str(older)}).status_code == 204
    assert Seen.objects.get(user=alice, table="inbox").upto == newest


@pytest.mark.parametrize("upto", ["", "abc", "-1", "0", "9" * 19, "1" * 30, "１２", "1.5"])
def test_marking_seen_takes_an_action_id(cast: dict[str, Any], upto: str) -> None:
    response = logged_in(cast["alice"]).post("/inbox/seen/", {"upto": upto})
    assert response.status_code == 400
    assert response.content.decode().startswith("upto:")
    assert not Seen.objects.filter(user=cast["alice"]).exists()


def test_marking_seen_refuses_rows_outside_the_viewers_inbox(cast: dict[str, Any]) -> None:
    alice, rita = cast["alice"], cast["rita"]
    staff_only = Action.objects.get(owner=alice, public=False).pk  # hers, but not in her inbox
    someone_elses = own_public(rita)[0]
    for upto in (staff_only, someone_elses, 10**9):
        response = logged_in(alice).post("/inbox/seen/", {"upto": str(upto)})
        assert response.status_code == 400
        assert "no action" in response.content.decode()
    assert not Seen.objects.filter(user=alice).exists()


def test_marking_seen_needs_a_login_a_csrf_token_a_post_and_a_seen_table(cast: dict[str, Any]) -> None:
    alice = cast["alice"]
    upto = {"upto": str(own_public(alice)[0])}
    assert Client().post("/inbox/seen/", upto).status_code == 302  # to the login page
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post("/inbox/seen/", upto).status_code == 403
    assert logged_in(alice).get("/inbox/seen/", upto).status_code == 405
    assert logged_in(alice).post("/feed/seen/", upto).status_code == 404  # the feed keeps no cursor
    assert not Seen.objects.filter(user=alice).exists()


def test_only_the_unfiltered_newest_inbox_page_says_where_to_mark_seen(cast: dict[str, Any]) -> None:
    client = logged_in(cast["alice"])
    assert 'data-seen-url="/inbox/seen/"' in client.get("/inbox/").content.decode()
    for path in ("/inbox/?verb=read", "/inbox/?sort=verb", "/feed/"):
        assert "data-seen-url" not in client.get(path).content.decode(), path


async def test_marking_live_rows_seen_drops_the_badge_on_every_tab(
    world: dict[str, Any],  # noqa: F811
) -> None:
    alice, rae = world["alice"], world["rae"]
    await sync_to_async(lambda: logged_in(alice).get("/inbox/"))()  # all seen so far
    badge, connected, _ = await open_socket(alice, "table=inbox&badge=1")
    assert connected
    assert await badge.receive_nothing(timeout=0.3)
    await sync_to_async(services.story_read)(story=world["dawn"], reader=rae)
    assert await count_of(badge) == 1
    newest = await sync_to_async(lambda: own_public(alice)[0])()

    response = await sync_to_async(lambda: logged_in(alice).post("/inbox/seen/", {"upto": str(newest)}))()
    assert response.status_code == 204
    assert await count_of(badge) == 0
    await badge.disconnect()


def test_an_empty_inbox_says_nothing_is_here_yet_and_a_filtered_one_blames_the_filters(
    cast: dict[str, Any],
) -> None:
    client = logged_in(cast["rae"])  # her reads and comments are for their authors
    assert own_public(cast["rae"]) == []
    assert (
        "Nothing here yet. New actions will appear here as they happen."
        in client.get("/inbox/").content.decode()
    )
    filtered = client.get("/inbox/?verb=read").content.decode()
    assert "No actions match these filters yet." in filtered and "Nothing here yet" not in filtered
