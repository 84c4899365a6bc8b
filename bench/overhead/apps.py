from __future__ import annotations

from django.apps import AppConfig


class OverheadConfig(AppConfig):
    name = "bench.overhead"
    label = "overhead"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bench.overhead import competitors

        competitors.attach()
