"""The floor: a bare Channels consumer that forwards a ready string to each socket.

The old shape of live tables, kept for ``bench.live_latency``: every socket
joins one channel-layer group, and a publisher inside the server sends one
``group_send`` per event carrying the finished frame (an id and its send
time); the consumer only forwards it. No auth, no database, no rendering.

HTTP: ``GET /publish/?rate=R&total=T&offset=K&step=N&start_at=EPOCH&size=BYTES``
starts this worker's share of the events (ids ``K+1, K+1+N, ...``, event ``j``
at ``start_at + j/R``); ``GET /published/`` answers ``{"done": bool,
"published": [[id, sent], ...]}``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any
from urllib.parse import parse_qs

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.floor_settings")
django.setup(set_prefix=False)

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402

GROUP = os.environ.get("FLOOR_GROUP", "bench.floor")
FRAME = '<tbody id="feed-rows" hx-swap-oob="afterbegin"><tr id="action-{id}" data-sent="{sent:.6f}">{pad}</tr></tbody>'


class FloorConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        await self.channel_layer.group_add(GROUP, self.channel_name)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def floor_event(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


class Publisher:
    """This worker's share of the events, paced on the wall clock."""

    def __init__(self) -> None:
        self.published: list[tuple[int, float]] = []
        self.task: asyncio.Task[None] | None = None

    def start(self, *, rate: float, total: int, offset: int, step: int, start_at: float, size: int) -> None:
        self.published = []
        self.task = asyncio.ensure_future(self.run(rate, total, offset, step, start_at, size))

    async def run(self, rate: float, total: int, offset: int, step: int, start_at: float, size: int) -> None:
        layer = get_channel_layer()
        for index in range(offset, total, step):
            delay = start_at + index / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            event_id = index + 1
            sent = time.time()
            text = FRAME.format(id=event_id, sent=sent, pad="")
            text = FRAME.format(id=event_id, sent=sent, pad="x" * max(0, size - len(text)))
            await layer.group_send(GROUP, {"type": "floor.event", "text": text})
            self.published.append((event_id, sent))

    def state(self) -> dict[str, Any]:
        return {"done": self.task is None or self.task.done(), "published": self.published}


publisher = Publisher()
websocket_app = FloorConsumer.as_asgi()


async def respond(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def http_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    params = {name: values[0] for name, values in parse_qs(scope.get("query_string", b"").decode()).items()}
    if scope["path"] == "/publish/":
        try:
            publisher.start(
                rate=float(params["rate"]),
                total=int(params["total"]),
                offset=int(params["offset"]),
                step=int(params["step"]),
                start_at=float(params["start_at"]),
                size=int(params.get("size", "0")),
            )
        except (KeyError, ValueError) as error:
            await respond(send, 400, {"error": repr(error)})
            return
        await respond(send, 200, {"started": True})
    elif scope["path"] == "/published/":
        await respond(send, 200, publisher.state())
    else:
        await respond(send, 404, {"error": "not found"})


async def lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await websocket_app(scope, receive, send)
    elif scope["type"] == "http":
        await http_app(scope, receive, send)
    elif scope["type"] == "lifespan":
        await lifespan(receive, send)
