from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Signalboard"

    def ready(self) -> None:
        # The demo's tables, declared with the engine (streams.tables.site)
        # before any page, export or socket looks one up.
        from dashboard import tables  # noqa: F401
