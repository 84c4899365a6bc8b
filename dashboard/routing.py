from __future__ import annotations

from django.urls import path

from dashboard.consumers import LiveTableConsumer

websocket_urlpatterns = [
    path("ws/live/", LiveTableConsumer.as_asgi()),
]
