"""The live table socket: the engine's consumer, with the demo's tables and filters."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from dashboard.live import subscribe
from streams.live import LiveTableConsumer, Subscription


class DashboardTableConsumer(LiveTableConsumer):
    def get_subscription(self, user: Any, params: QueryDict) -> Subscription:
        return subscribe(user, params)
