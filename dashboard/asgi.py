"""ASGI entry point: HTTP through Django, the live socket through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from dashboard.routing import websocket_urlpatterns  # noqa: E402
from streams.live.asgi import websockets  # noqa: E402

application = ProtocolTypeRouter({"http": django_asgi_app, "websocket": websockets(websocket_urlpatterns)})

if settings.SIMULATE:
    from dashboard.simulation import SimulatorOnStart

    application = SimulatorOnStart(application, rate=settings.SIMULATE_RATE)
