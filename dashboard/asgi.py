"""ASGI entry point: HTTP through Django, the live socket through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from dashboard.routing import websocket_urlpatterns  # noqa: E402
from dashboard.security import SameOriginValidator  # noqa: E402
from streams.asgi import StreamsContextMiddleware  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            SameOriginValidator(
                AuthMiddlewareStack(StreamsContextMiddleware(URLRouter(websocket_urlpatterns)))
            )
        ),
    }
)

if settings.SIMULATE:
    from dashboard.simulation import SimulatorOnStart

    application = SimulatorOnStart(application, rate=settings.SIMULATE_RATE)
