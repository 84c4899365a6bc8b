"""The broadcast never holds up the business write, and a lost subscription is never silent."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async as sync_to_async

from publishing import services
from streams.live import hub as hub_module
from streams.live.transport import LocalTransport, RedisTransport, get_transport
from streams.models import Action
from tests import factories
from tests.dashboard.test_live_socket import open_socket, pushed_ids


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A server that accepts connections and never answers: Redis stopped with SIGSTOP."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


@pytest.mark.django_db(transaction=True)
def test_a_write_does_not_wait_for_a_hung_redis(
    alice: Any, rae: Any, settings: Any, hung_redis: str, caplog: pytest.LogCaptureFixture
) -> None:
    story = factories.story(alice)
    settings.STREAMS = {**settings.STREAMS, "BROADCAST_URL": hung_redis}
    transport = get_transport()
    assert isinstance(transport, RedisTransport)

    with caplog.at_level(logging.WARNING, logger="streams.broadcast"):
        started = time.perf_counter()
        for _ in range(5):
            services.story_read(story=story, reader=rae)
        elapsed = time.perf_counter() - started
        assert elapsed < 0.5  # five writes; each would wait 2-5 s for a blocking publish
        assert Action.objects.filter(verb="read", object_id=str(story.pk)).count() == 5
        deadline = time.monotonic() + 10
        # The publisher thread counts the failure, then logs it: wait for the log line itself.
        while "could not publish" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert transport.failures >= 1
    assert transport.published == 0
    assert "could not publish" in caplog.text


def test_a_full_queue_drops_and_counts_instead_of_blocking(hung_redis: str, monkeypatch: Any) -> None:
    monkeypatch.setattr(RedisTransport, "QUEUE_SIZE", 3)
    transport = RedisTransport(hung_redis, lambda: "streams.test")
    started = time.perf_counter()
    for n in range(50):
        transport.publish({"type": "action.created", "id": n})
    assert time.perf_counter() - started < 0.5
    # The queue holds 3 and the publisher thread at most one batch of 3 more.
    assert transport.dropped >= 44


class SwitchableTransport(LocalTransport):
    """A local transport whose subscription health the test sets."""

    def __init__(self, healthy: bool = True) -> None:
        super().__init__()
        self.start_healthy = healthy
        self.report: Any = None

    async def subscribe(self, deliver: Any, on_state: Any) -> None:
        self.report = on_state
        if self.start_healthy:
            on_state(True)
        await asyncio.Event().wait()


@pytest.fixture
def switchable(monkeypatch: pytest.MonkeyPatch) -> SwitchableTransport:
    transport = SwitchableTransport()
    monkeypatch.setattr(hub_module, "get_transport", lambda: transport)
    monkeypatch.setattr("streams.broadcast.get_transport", lambda: transport)
    return transport


@pytest.mark.django_db(transaction=True)
async def test_a_lost_subscription_closes_sockets_so_pages_reconnect_and_catch_up(
    switchable: SwitchableTransport,
) -> None:
    rae = await sync_to_async(factories.user)("rae")
    socket_, connected, _ = await open_socket(rae, "table=feed&after=0")
    assert connected
    assert await socket_.receive_nothing(timeout=0.2)

    switchable.report(False)  # Redis down or hung, as the subscriber saw it

    closing = await socket_.receive_output(timeout=3)
    assert (closing["type"], closing["code"]) == ("websocket.close", 4012)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_is_refused_with_try_again_later_while_the_broadcast_is_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = SwitchableTransport(healthy=False)
    monkeypatch.setattr(hub_module, "get_transport", lambda: transport)
    monkeypatch.setattr(hub_module, "JOIN_WAIT_SECONDS", 0.3)
    rae = await sync_to_async(factories.user)("rae")
    socket_, _, _ = await open_socket(rae, "table=feed&after=0")
    closing = await socket_.receive_output(timeout=3)
    assert (closing["type"], closing["code"]) == ("websocket.close", 4013)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
async def test_an_idle_socket_on_redis_stays_open_and_gets_the_next_row(settings: Any) -> None:
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.fail("REDIS_URL is not set: run this through `make test-services`.")
    settings.STREAMS = {**settings.STREAMS, "BROADCAST_URL": redis_url, "LIVE_HEARTBEAT_SECONDS": 30}

    @sync_to_async
    def cast() -> tuple[Any, Any, Any]:
        alice = factories.user("alice", "author")
        return alice, factories.user("rae"), factories.story(alice)

    alice, rae, story = await cast()
    socket_, connected, _ = await open_socket(alice, "table=reads&after=0")
    assert connected
    assert await socket_.receive_nothing(timeout=6.5)  # past redis-py's and the old layer's 5 s timeouts

    await sync_to_async(services.story_read)(story=story, reader=rae)

    read = await sync_to_async(lambda: Action.objects.get(verb="read").pk)()
    assert pushed_ids(await socket_.receive_from(timeout=3)) == [read]
    await socket_.disconnect()
