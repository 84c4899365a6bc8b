"""The /ws/live/ socket: scope, filters, catch-up, refusals."""

from __future__ import annotations

import re
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.asgi import application
from publishing import services
from streams.models import Action
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(
    user: Any, query: str, *, origin: str = "http://testserver"
) -> tuple[WebsocketCommunicator, bool, Any]:
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await session_cookie(user)}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/live/?{query}", headers=headers)
    connected, subprotocol = await communicator.connect()
    return communicator, connected, subprotocol


def pushed_ids(frame: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="action-(\d+)"', frame)]


@pytest.fixture
async def world(db: Any) -> dict[str, Any]:
    @sync_to_async
    def build() -> dict[str, Any]:
        alice = factories.user("alice", "author")
        bob = factories.user("bob", "author")
        rae = factories.user("rae")
        return {
            "alice": alice,
            "bob": bob,
            "rae": rae,
            "admin": factories.user("admin", "staff"),
            "dawn": factories.story(alice, "Dawn"),
            "dusk": factories.story(bob, "Dusk"),
        }

    return await build()


async def newest_id() -> int:
    return await sync_to_async(lambda: Action.objects.latest("id").pk)()


async def test_read_reaches_its_author_and_not_another_author(world: dict[str, Any]) -> None:
    after = await newest_id()
    alice_socket, connected, _ = await open_socket(world["alice"], f"table=reads&after={after}")
    assert connected
    bob_socket, _, _ = await open_socket(world["bob"], f"table=reads&after={after}")

    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])

    frame = await alice_socket.receive_from(timeout=3)
    read = await sync_to_async(Action.objects.get)(verb="read")
    assert pushed_ids(frame) == [read.pk]
    assert 'id="reads-rows" hx-swap-oob="afterbegin"' in frame
    assert "rae" in frame and "Dawn" in frame
    assert await bob_socket.receive_nothing(timeout=0.3)
    await alice_socket.disconnect()
    await bob_socket.disconnect()


async def test_socket_with_a_non_matching_filter_gets_nothing(world: dict[str, Any]) -> None:
    after = await newest_id()
    socket, _, _ = await open_socket(world["alice"], f"table=feed&verb=commented&after={after}")

    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])
    assert await socket.receive_nothing(timeout=0.3)

    comment = await sync_to_async(services.comment_create)(
        story=world["dawn"], author=world["rae"], body="Hi"
    )
    frame = await socket.receive_from(timeout=3)
    action = await sync_to_async(Action.objects.get)(verb="commented", object_id=str(comment.pk))
    assert pushed_ids(frame) == [action.pk]
    await socket.disconnect()


async def test_staff_only_actions_never_reach_a_non_staff_socket(world: dict[str, Any]) -> None:
    from streams import record

    after = await newest_id()
    reader, _, _ = await open_socket(world["rae"], f"table=feed&after={after}")
    staff, _, _ = await open_socket(world["admin"], f"table=feed&after={after}")

    await sync_to_async(record)(verb="logged in", actor=world["rae"], public=False)

    assert pushed_ids(await staff.receive_from(timeout=3))
    assert await reader.receive_nothing(timeout=0.3)
    await reader.disconnect()
    await staff.disconnect()


async def test_connect_sends_rows_missed_since_after_oldest_first_then_live(world: dict[str, Any]) -> None:
    after = await newest_id()
    for _ in range(3):
        await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])
    missed = await sync_to_async(
        lambda: list(Action.objects.filter(pk__gt=after).values_list("id", flat=True))
    )()

    socket, _, _ = await open_socket(world["alice"], f"table=reads&after={after}")
    caught_up = [pushed_ids(await socket.receive_from(timeout=3))[0] for _ in missed]
    assert caught_up == sorted(missed)

    # The same row announced again (a late duplicate) is not sent twice.
    message = await sync_to_async(lambda: Action.objects.get(pk=missed[-1]).broadcast_message())()
    await get_channel_layer().group_send("streams.actions", message)
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_count_mode_sends_a_new_rows_bar(world: dict[str, Any]) -> None:
    after = await newest_id()
    socket, _, _ = await open_socket(world["alice"], f"table=reads&after={after}&mode=count")

    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])
    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["bob"])

    assert "1 new action — show" in await socket.receive_from(timeout=3)
    second = await socket.receive_from(timeout=3)
    assert "2 new actions — show" in second and 'id="reads-new"' in second
    assert "<tr" not in second
    await socket.disconnect()


@pytest.mark.parametrize(
    ("who", "query", "code"),
    [
        (None, "table=feed", 4401),
        ("rae", "table=reads", 4403),
        ("rae", "table=nope", 4400),
        ("rae", "table=feed&since=not-a-date", 4400),
        ("rae", "table=feed&verb=exploded", 4400),
        ("rae", "table=feed&after=-3", 4400),
        ("rae", "table=feed&after=x", 4400),
        ("rae", "table=feed&sort=password", 4400),
        ("rae", "table=feed&actor=nobody-at-all", 4400),
    ],
)
async def test_socket_refusals_close_with_a_reason_code(
    world: dict[str, Any], who: str | None, query: str, code: int
) -> None:
    socket, connected, _ = await open_socket(world[who] if who else None, query)
    assert connected
    closing = await socket.receive_output(timeout=3)
    assert closing["type"] == "websocket.close"
    assert closing["code"] == code
    await socket.wait()


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        # Allowed host, but not the one the socket connects to: still another site.
        "http://localhost",
        "http://testserver:8001",
        "null",
    ],
)
async def test_socket_from_another_origin_is_refused(world: dict[str, Any], origin: str) -> None:
    _, connected, _ = await open_socket(world["alice"], "table=feed", origin=origin)
    assert not connected


@pytest.mark.parametrize(("frame", "code"), [("not json", 4400), ('{"x": "' + "a" * 5000 + '"}', 1009)])
async def test_client_frames_that_are_not_small_json_close_the_socket(
    world: dict[str, Any], frame: str, code: int
) -> None:
    socket, _, _ = await open_socket(world["alice"], "table=feed&after=999999")
    await socket.send_to(text_data=frame)
    closing = await socket.receive_output(timeout=3)
    assert (closing["type"], closing["code"]) == ("websocket.close", code)
    await socket.wait()


async def test_small_json_frames_are_ignored(world: dict[str, Any]) -> None:
    socket, _, _ = await open_socket(world["alice"], "table=feed&after=999999")
    await socket.send_to(text_data='{"HEADERS": {}}')
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_a_row_is_rendered_once_per_process_for_all_sockets_of_a_table(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dashboard.live

    renders = []
    real = dashboard.live.render_row

    def counting(*args: Any) -> str:
        renders.append(args)
        return real(*args)

    monkeypatch.setattr(dashboard.live, "render_row", counting)
    after = await newest_id()
    readers = [await sync_to_async(factories.user)(f"reader{n}") for n in range(3)]
    sockets = [(await open_socket(user, f"table=feed&after={after}"))[0] for user in readers]
    for socket in sockets:  # caught up (nothing to catch): what follows comes live
        assert await socket.receive_nothing(timeout=0.3)

    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])

    frames = [await socket.receive_from(timeout=3) for socket in sockets]
    assert len({frame for frame in frames}) == 1 and pushed_ids(frames[0])
    assert len(renders) == 1
    for socket in sockets:
        await socket.disconnect()


async def test_bulk_operation_reaches_sockets_as_one_range(world: dict[str, Any]) -> None:
    from publishing.models import StoryRead

    after = await newest_id()
    alice_socket, _, _ = await open_socket(world["alice"], f"table=reads&after={after}")
    bob_socket, _, _ = await open_socket(world["bob"], f"table=reads&after={after}")

    @sync_to_async
    def bulk() -> None:
        StoryRead.objects.bulk_create(StoryRead(story=world["dawn"], reader=world["rae"]) for _ in range(120))

    await bulk()  # past BULK_ANNOUNCE_LIMIT: one message, each socket fetches its share
    received = set()
    while len(received) < 120:
        received |= set(pushed_ids(await alice_socket.receive_from(timeout=3)))
    assert len(received) == 120
    assert await bob_socket.receive_nothing(timeout=0.3)
    await alice_socket.disconnect()
    await bob_socket.disconnect()


def test_ids_remembered_per_socket_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import consumers

    monkeypatch.setattr(consumers, "SENT_MEMORY", 10)
    consumer = consumers.LiveTableConsumer()
    consumer.sent = set()
    consumer.remember(range(1, 21))
    assert len(consumer.sent) == 20
    consumer.remember([21])
    assert consumer.sent == set(range(12, 22))  # the newest ten stay
