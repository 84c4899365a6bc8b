"""Websocket origin check: the page that opens a socket must be our own."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier

from streams.asgi import header


class SameOriginValidator:
    """Refuse a socket whose ``Origin`` is not the host it connects to.

    Cookies ride along on cross-site sockets, so without this any site a
    logged-in user visits could read their tables (cross-site websocket
    hijacking). Channels' ``AllowedHostsOriginValidator`` around this one
    also limits the host to ``ALLOWED_HOSTS``.
    """

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            origin, host = header(scope, b"origin"), header(scope, b"host")
            if not origin or not host or urlsplit(origin).netloc.lower() != host.lower():
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
