from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class StreamsConfig(AppConfig):
    name = "streams"
    verbose_name = "Activity streams"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from streams import checks  # noqa: F401 - registers the system checks
        from streams.registration import registry
        from streams.statistics import keep_current

        # Each installed app may hold its routes in a ``routes`` module (the
        # project's hub does); import them all, then connect every route once.
        autodiscover_modules("routes", register_to=None)
        registry.connect()
        connection_created.connect(keep_current, dispatch_uid="streams.statistics")
