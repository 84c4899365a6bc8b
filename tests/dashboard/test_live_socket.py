"""The /ws/live/ socket: scope, filters, catch-up, refusals."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.asgi import application
from publishing import services
from publishing.models import Member
from streams.broadcast import announce
from streams.models import Action
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_socket(
    user: Any, query: str, *, origin: str = "http://testserver", session: str | None = None
) -> tuple[WebsocketCommunicator, bool, Any]:
    headers = [(b"host", b"testserver"), (b"origin", origin.encode())]
    if user is not None:
        headers.append((b"cookie", f"sessionid={session or await session_cookie(user)}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/live/?{query}", headers=headers)
    connected, subprotocol = await communicator.connect()
    return communicator, connected, subprotocol


def pushed_ids(frame: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="action-(\d+)"', frame)]


async def receive_rows(socket: WebsocketCommunicator, count: int, timeout: float = 3) -> list[int]:
    """Row ids in arrival order, across frames, until ``count`` arrived."""
    ids: list[int] = []
    while len(ids) < count:
        ids += pushed_ids(await socket.receive_from(timeout=timeout))
    return ids


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

    action = await sync_to_async(record)(verb="logged in", actor=world["rae"], public=False)

    seen: list[int] = []  # logging the sockets in was audited too
    while action.pk not in seen:
        seen += pushed_ids(await staff.receive_from(timeout=3))
    assert seen.count(action.pk) == 1  # once, though it has no owner
    assert await staff.receive_nothing(timeout=0.2)
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
    frame = await socket.receive_from(timeout=3)
    assert pushed_ids(frame) == sorted(missed)  # one frame, oldest first: the newest ends on top
    assert frame.count('hx-swap-oob="afterbegin"') == 3

    # The same row announced again (a late duplicate) is not sent twice.
    message = await sync_to_async(lambda: Action.objects.get(pk=missed[-1]).broadcast_message())()
    announce(message)
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_count_mode_sends_a_new_rows_bar(world: dict[str, Any]) -> None:
    after = await newest_id()
    socket, _, _ = await open_socket(world["alice"], f"table=reads&after={after}&mode=count")

    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])
    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["bob"])

    # The two may come in one frame or two (they may share a batch): the bar counts both.
    frames = [await socket.receive_from(timeout=3)]
    if "2 new actions" not in frames[0]:
        assert "1 new action — show" in frames[0]
        frames.append(await socket.receive_from(timeout=3))
    assert "2 new actions — show" in frames[-1] and 'id="reads-new"' in frames[-1]
    assert not any("<tr" in frame for frame in frames)
    assert await socket.receive_nothing(timeout=0.3)
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
        ("rae", "table=feed&cursor=not-a-cursor", 4400),
        ("rae", "table=feed&since=0000-01-01", 4400),
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


async def test_a_client_flooding_frames_is_closed(world: dict[str, Any]) -> None:
    socket, _, _ = await open_socket(world["alice"], "table=feed&after=999999")
    for _ in range(10):  # the burst allowance: ignored
        await socket.send_to(text_data="{}")
    assert await socket.receive_nothing(timeout=0.2)
    for _ in range(5):
        await socket.send_to(text_data="{}")
    closing = await socket.receive_output(timeout=3)
    assert (closing["type"], closing["code"]) == ("websocket.close", 4429)
    await socket.wait()


async def test_small_json_frames_are_ignored(world: dict[str, Any]) -> None:
    socket, _, _ = await open_socket(world["alice"], "table=feed&after=999999")
    await socket.send_to(text_data='{"HEADERS": {}}')
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()


async def test_a_row_is_rendered_once_per_process_for_all_sockets_of_a_table(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.live.tables import LiveKind

    renders = []
    real = LiveKind.render_rows

    def counting(self: Any, actions: list[Any], variant: Any) -> list[str]:
        renders.append([action.pk for action in actions])
        return real(self, actions, variant)

    monkeypatch.setattr(LiveKind, "render_rows", counting)
    after = await newest_id()
    readers = [await sync_to_async(factories.user)(f"reader{n}") for n in range(3)]
    sockets = [(await open_socket(user, f"table=feed&after={after}"))[0] for user in readers]
    for socket in sockets:  # caught up (nothing to catch): what follows comes live
        assert await socket.receive_nothing(timeout=0.3)

    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])

    frames = [await socket.receive_from(timeout=3) for socket in sockets]
    assert len({frame for frame in frames}) == 1 and pushed_ids(frames[0])
    assert renders == [pushed_ids(frames[0])]
    for socket in sockets:
        await socket.disconnect()


async def test_bulk_operation_reaches_sockets_as_one_range(world: dict[str, Any], settings: Any) -> None:
    from publishing.models import StoryRead

    # A bulk larger than the render cache still delivers every row.
    settings.STREAMS = {**settings.STREAMS, "LIVE_RENDER_CACHE": 50}

    after = await newest_id()
    alice_socket, _, _ = await open_socket(world["alice"], f"table=reads&after={after}")
    bob_socket, _, _ = await open_socket(world["bob"], f"table=reads&after={after}")

    @sync_to_async
    def bulk() -> None:
        StoryRead.objects.bulk_create(StoryRead(story=world["dawn"], reader=world["rae"]) for _ in range(120))

    await bulk()  # past BULK_ANNOUNCE_LIMIT: one message, each process loads the range once
    received = await receive_rows(alice_socket, 120)
    assert len(set(received)) == 120 and received == sorted(received)
    assert await bob_socket.receive_nothing(timeout=0.3)
    await alice_socket.disconnect()
    await bob_socket.disconnect()


def test_frames_hold_at_most_so_many_rows_and_characters(settings: Any) -> None:
    from streams.live.hub import frames

    settings.STREAMS = {**settings.STREAMS, "LIVE_FRAME_ROWS": 3, "LIVE_FRAME_BYTES": 10}
    assert frames(["aaaa", "bbbb", "cc", "d", "e", "f", "x" * 20, "g"]) == [
        "aaaabbbbcc",
        "def",
        "x" * 20,
        "g",
    ]
    assert frames([]) == []


def test_ids_remembered_per_socket_are_bounded() -> None:
    from streams.live.hub import IdMemory

    sent = IdMemory(keep=10)
    sent.add_all(range(1, 21))
    assert len(sent.ids) == 20
    sent.add_all([21])
    assert sent.ids == set(range(12, 22))  # the newest ten stay


async def test_rows_committed_together_go_out_as_one_frame_in_id_order(
    world: dict[str, Any], settings: Any
) -> None:
    from django.db import transaction

    after = await newest_id()
    socket, _, _ = await open_socket(world["alice"], f"table=reads&after={after}")
    assert await socket.receive_nothing(timeout=0.2)

    @sync_to_async
    def three_reads() -> list[int]:
        with transaction.atomic():
            for _ in range(3):
                services.story_read(story=world["dawn"], reader=world["rae"])
        reads = Action.objects.filter(pk__gt=after, verb="read").order_by("id")
        return list(reads.values_list("id", flat=True))

    ids = await three_reads()
    if not settings.STREAMS.get("BROADCAST_URL"):
        # In-process, the three announces reach the hub before it runs: one frame.
        assert pushed_ids(await socket.receive_from(timeout=3)) == ids
    else:
        # Through Redis they usually share a frame; the order always holds.
        assert await receive_rows(socket, 3) == ids
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_a_row_committed_after_a_newer_one_reaches_a_reconnecting_table(world: dict[str, Any]) -> None:
    """Ids are not committed in id order: the cursor must not skip a late commit."""
    floor = await newest_id()
    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])
    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["bob"])

    @sync_to_async
    def hold_back_the_older() -> Any:
        older = Action.objects.filter(pk__gt=floor).order_by("id").first()
        Action.objects.filter(pk=older.pk).delete()  # as if its transaction were still open
        return older

    older = await hold_back_the_older()
    newer = await newest_id()
    first, _, _ = await open_socket(world["alice"], f"table=reads&after={floor}&floor={floor}")
    assert pushed_ids(await first.receive_from(timeout=3)) == [newer]
    await first.disconnect()

    await sync_to_async(older.save)(force_insert=True)  # commits late, while no socket is open
    # The page shows ``newer`` (its newest) and rows down to ``floor``.
    again, _, _ = await open_socket(world["alice"], f"table=reads&after={newer}&floor={floor}")
    assert pushed_ids(await again.receive_from(timeout=3)) == [older.pk]
    assert await again.receive_nothing(timeout=0.3)
    await again.disconnect()


async def test_a_catch_up_past_its_limit_says_so_and_links_to_a_reload(
    world: dict[str, Any], settings: Any
) -> None:
    settings.STREAMS = {**settings.STREAMS, "LIVE_CATCH_UP_LIMIT": 5, "LIVE_FRAME_ROWS": 2}
    after = await newest_id()
    for _ in range(8):
        await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])

    socket, _, _ = await open_socket(world["alice"], f"table=reads&after={after}")
    frames = [await socket.receive_from(timeout=3) for _ in range(4)]
    assert [len(pushed_ids(frame)) for frame in frames[:3]] == [2, 2, 1]
    assert "More than 5 actions happened while this table was away." in frames[3]
    assert 'id="reads-new"' in frames[3] and 'href="/reads/?' in frames[3]
    await socket.disconnect()


async def wait_closed(socket: WebsocketCommunicator, timeout: float) -> dict[str, Any]:
    while True:
        output = await socket.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output


@pytest.mark.parametrize("how", ["logout", "lock", "deactivate", "lost staff"])
async def test_a_socket_closes_when_its_session_ends_or_its_viewer_loses_the_table(
    world: dict[str, Any], settings: Any, how: str
) -> None:
    settings.STREAMS = {**settings.STREAMS, "LIVE_RECHECK_SECONDS": 0.3}
    user = world["admin"] if how == "lost staff" else world["rae"]
    session = await session_cookie(user)
    table = "audit" if how == "lost staff" else "feed"
    socket, _, _ = await open_socket(user, f"table={table}&after=999999", session=session)
    assert await socket.receive_nothing(timeout=0.5)  # open, and staying open

    @sync_to_async
    def end() -> None:
        from importlib import import_module

        from django.conf import settings as django_settings

        if how == "logout":
            import_module(django_settings.SESSION_ENGINE).SessionStore(session).delete()
        elif how == "lost staff":
            type(user).objects.filter(pk=user.pk).update(is_staff=False, is_superuser=False)
        else:
            member = Member.objects.get(user=user)
            if member.state == Member.State.INVITED:
                services.member_activate(member=member)
            (services.member_lock if how == "lock" else services.member_deactivate)(member=member)

    await end()
    closing = await wait_closed(socket, timeout=3)
    assert closing["code"] == (4403 if how == "lost staff" else 4401)


async def test_live_sockets_per_session_are_capped(world: dict[str, Any], settings: Any) -> None:
    settings.STREAMS = {**settings.STREAMS, "LIVE_SOCKETS_PER_SESSION": 2}
    session = await session_cookie(world["rae"])
    sockets = [
        (await open_socket(world["rae"], "table=feed&after=999999", session=session))[0] for _ in range(3)
    ]
    closing = await wait_closed(sockets[2], timeout=3)
    assert closing["code"] == 4429
    assert await sockets[0].receive_nothing(timeout=0.2)
    # Another session of the same user is counted on its own.
    other, _, _ = await open_socket(world["rae"], "table=feed&after=999999")
    assert await other.receive_nothing(timeout=0.2)
    for socket in (*sockets[:2], other):
        await socket.disconnect()


async def test_an_idle_socket_gets_heartbeats(world: dict[str, Any], settings: Any) -> None:
    settings.STREAMS = {**settings.STREAMS, "LIVE_HEARTBEAT_SECONDS": 0.3}
    socket, _, _ = await open_socket(world["rae"], "table=feed&after=999999")
    assert await socket.receive_from(timeout=3) == "<!--heartbeat-->"
    await socket.disconnect()


async def test_a_client_too_slow_to_read_is_told_to_reconnect_and_holds_up_no_one(
    world: dict[str, Any], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streams.live import consumer

    settings.STREAMS = {**settings.STREAMS, "LIVE_BATCH_MS": 0}
    monkeypatch.setattr(consumer, "MAX_OUTBOX_FRAMES", 3)
    after = await newest_id()
    fast, _, _ = await open_socket(world["bob"], f"table=feed&after={after}")
    slow, _, _ = await open_socket(world["alice"], f"table=reads&after={after}")
    stuck = asyncio.Event()  # never set: alice's client reads nothing
    real = consumer.LiveTableConsumer._frame_send

    def frame_send(self: Any) -> Any:
        if self.scope["user"].username != "alice":
            return real.fget(self)

        async def never(message: dict[str, Any]) -> None:
            await stuck.wait()

        return never

    monkeypatch.setattr(consumer.LiveTableConsumer, "_frame_send", property(frame_send))
    for _ in range(5):  # five frames for alice: one in flight, then more than three waiting
        await sync_to_async(services.story_read)(story=world["dawn"], reader=world["rae"])
        assert pushed_ids(await fast.receive_from(timeout=3))  # bob's feed is not held up
        await asyncio.sleep(0.03)

    closing = await wait_closed(slow, timeout=3)
    assert closing["code"] == 4012
    await fast.disconnect()


async def test_tables_with_other_columns_get_their_own_rows_of_the_same_action(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from streams.tables import ALL_COLUMNS, site

    monkeypatch.setitem(site._tables, "reads", dataclasses.replace(site["reads"], columns=ALL_COLUMNS))
    after = await newest_id()
    feed, _, _ = await open_socket(world["alice"], f"table=feed&after={after}")
    reads, _, _ = await open_socket(world["alice"], f"table=reads&after={after}")
    await sync_to_async(services.story_read)(story=world["dawn"], reader=world["bob"])
    feed_frame, reads_frame = await feed.receive_from(timeout=3), await reads.receive_from(timeout=3)
    assert pushed_ids(feed_frame) == pushed_ids(reads_frame)
    assert 'class="col-object_type"' in reads_frame and 'class="col-object_type"' not in feed_frame
    for socket in (feed, reads):
        await socket.disconnect()
