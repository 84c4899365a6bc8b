"""Channels middleware: the streams context for websocket consumers."""

from __future__ import annotations

from typing import Any

from streams.context import client_ip, request_context


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class StreamsContextMiddleware:
    """Sets user, IP and user agent for the whole connection; wrap inside AuthMiddlewareStack."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        client = scope.get("client") or (None, None)
        with request_context(
            user=scope.get("user"),
            ip=client_ip(client[0], header(scope, b"x-forwarded-for")),
            user_agent=header(scope, b"user-agent") or "",
        ):
            return await self.application(scope, receive, send)
