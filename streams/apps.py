from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class StreamsConfig(AppConfig):
    name = "streams"
    verbose_name = "Activity streams"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate

        from streams import checks, kinds  # noqa: F401 - importing checks registers them
        from streams.registration import registry
        from streams.statistics import keep_current

        # Each installed app may hold its routes in a ``routes`` module (the
        # project's hub does); import them all, then connect every route once.
        autodiscover_modules("routes", register_to=None)
        registry.connect()
        # ... and its live tables in a ``tables`` module (streams.tables.site),
        # so every process, HTTP or websocket, knows them before it serves one.
        autodiscover_modules("tables", register_to=None)
        connection_created.connect(keep_current, dispatch_uid="streams.statistics")
        # A flush or migrate may renumber content types: the kinds seen are stale.
        post_migrate.connect(kinds.forget, dispatch_uid="streams.kinds.forget")
