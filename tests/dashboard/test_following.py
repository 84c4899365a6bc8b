"""Following: follow anyone from a table filtered by their name, and see their public actions live."""

from __future__ import annotations

import re
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.test import Client

from publishing import services
from streams import follows, record
from streams.models import Action, Follow
from tests.dashboard.test_live_socket import open_socket, pushed_ids, world  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def logged_in(user: Any, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def follow_form(html: str) -> str | None:
    found = re.search(r'<form id="follow".*?</form>', html, flags=re.DOTALL)
    return found.group(0) if found else None


def test_a_table_filtered_by_someone_offers_to_follow_them_and_then_to_unfollow(
    alice: Any, bob: Any, rae: Any
) -> None:
    dusk = services.story_create(author=bob, title="Dusk", body="...")
    services.story_read(story=dusk, reader=alice)
    client = logged_in(rae)
    form = follow_form(client.get("/feed/?actor=alice").content.decode())
    assert form and "Follow alice" in form and 'name="csrfmiddlewaretoken"' in form
    response = client.post("/follow/", {"actor": "alice", "next": "/feed/?actor=alice"})
    assert (response.status_code, response["Location"]) == (303, "/feed/?actor=alice")
    assert Follow.objects.filter(follower=rae, followed=alice).exists()
    form = follow_form(client.get("/feed/?actor=alice").content.decode())
    assert "You follow <strong>alice</strong>" in form and 'name="follow" value="0"' in form
    client.post("/follow/", {"actor": "alice", "follow": "0", "next": "/feed/"})
    assert not Follow.objects.exists()
    # Not oneself, not a name that is no one's, not without a filter.
    assert follow_form(logged_in(alice).get("/feed/?actor=alice").content.decode()) is None
    record(verb="failed login", actor="ghost", public=False)
    assert follow_form(logged_in(rae).get("/feed/").content.decode()) is None


@pytest.mark.parametrize(
    ("data", "status"),
    [({"actor": "nobody"}, 400), ({"actor": "rae"}, 400), ({}, 400), ({"actor": "x" * 10_000}, 400)],
)
def test_following_no_one_or_oneself_is_a_clear_error(rae: Any, data: dict[str, str], status: int) -> None:
    response = logged_in(rae).post("/follow/", data)
    assert response.status_code == status and response["Content-Type"].startswith("text/plain")
    assert not Follow.objects.exists()


def test_following_needs_a_login_a_post_and_the_csrf_token(rae: Any, alice: Any) -> None:
    assert Client().post("/follow/", {"actor": "alice"})["Location"].startswith("/accounts/login/")
    assert logged_in(rae).get("/follow/").status_code == 405
    assert logged_in(rae, enforce_csrf_checks=True).post("/follow/", {"actor": "alice"}).status_code == 403
    response = logged_in(rae).post("/follow/", {"actor": "alice", "next": "https://evil.example/"})
    assert response["Location"] == "/following/"


def test_the_following_page_lists_whom_one_follows_and_only_their_public_actions(
    alice: Any, bob: Any, rae: Any
) -> None:
    page = logged_in(rae).get("/following/").content.decode()
    assert "You follow no one yet" in page
    follows.follow(rae, alice)
    dawn = services.story_create(author=alice, title="Dawn", body="...")
    services.story_create(author=bob, title="Dusk", body="...")
    hidden = record(verb="updated", actor=alice, object=dawn, public=False)
    page = logged_in(rae).get("/following/").content.decode()
    assert "You follow" in page and 'aria-label="Unfollow alice"' in page
    shown = [int(pk) for pk in re.findall(r'<tr id="action-(\d+)"', page)]
    assert shown == list(
        Action.objects.filter(actor=alice, public=True)
        .order_by("-timestamp", "-id")
        .values_list("pk", flat=True)
    )
    assert hidden.pk not in shown


async def test_a_newly_followed_persons_next_action_reaches_the_open_table(world: dict[str, Any]) -> None:  # noqa: F811
    rae, bob, alice = world["rae"], world["bob"], world["alice"]
    socket, connected, _ = await open_socket(rae, "table=following&after=0")
    assert connected and await socket.receive_nothing(timeout=0.3)

    await sync_to_async(services.story_read)(story=world["dusk"], reader=bob)
    assert await socket.receive_nothing(timeout=0.5)  # not followed yet

    await sync_to_async(lambda: logged_in(rae).post("/follow/", {"actor": "bob"}))()
    await sync_to_async(services.story_read)(story=world["dawn"], reader=bob)
    read = await sync_to_async(lambda: Action.objects.filter(actor=bob, verb="read").latest("id"))()
    assert pushed_ids(await socket.receive_from(timeout=3)) == [read.pk]

    await sync_to_async(services.story_read)(story=world["dusk"], reader=alice)  # someone else
    await sync_to_async(lambda: logged_in(rae).post("/follow/", {"actor": "bob", "follow": "0"}))()
    await sync_to_async(services.story_read)(story=world["dusk"], reader=bob)
    assert await socket.receive_nothing(timeout=0.5)
    await socket.disconnect()
