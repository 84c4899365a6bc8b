from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    # Its routes.py and tables.py are found by streams, as any project's are.
    name = "dashboard"
    verbose_name = "Signalboard"
