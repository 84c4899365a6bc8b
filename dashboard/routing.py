from __future__ import annotations

from django.urls import path

from dashboard.consumers import DashboardTableConsumer

websocket_urlpatterns = [
    path("ws/live/", DashboardTableConsumer.as_asgi()),
]
