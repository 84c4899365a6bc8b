"""The websocket half of a project's ASGI application: the live tables' socket, guarded.

In the project's ``asgi.py``, after ``get_asgi_application()``::

    from channels.routing import ProtocolTypeRouter
    from streams.live.asgi import websockets

    application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websockets()})
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier

from streams.asgi import StreamsContextMiddleware, header


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


def websockets(urlpatterns: list[Any] | None = None) -> Any:
    """The declared tables' socket (or ``urlpatterns``), behind the checks every live socket needs:
    a host in ``ALLOWED_HOSTS``, a same-origin page, the session's user, and the streams context."""
    if urlpatterns is None:
        from streams.tables import site

        urlpatterns = site.websocket_urlpatterns()
    return AllowedHostsOriginValidator(
        SameOriginValidator(AuthMiddlewareStack(StreamsContextMiddleware(URLRouter(urlpatterns))))
    )
