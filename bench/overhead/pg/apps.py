from __future__ import annotations

from django.apps import AppConfig


class OverheadPgConfig(AppConfig):
    name = "bench.overhead.pg"
    label = "overhead_pg"
    default_auto_field = "django.db.models.BigAutoField"
