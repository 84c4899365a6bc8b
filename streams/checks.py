"""System checks for a misconfigured streams install."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

MIDDLEWARE = "streams.middleware.RequestContextMiddleware"


@checks.register(checks.Tags.compatibility)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    if MIDDLEWARE not in middleware:
        return [
            checks.Error(
                f"'{MIDDLEWARE}' is not in MIDDLEWARE.",
                hint="Without it every action is recorded as done by CLI, with no IP.",
                id="streams.E001",
            )
        ]
    # Its place in the list does not matter: it keeps the request, and the
    # user is read from it when an action is recorded, after the
    # authentication middleware has run whatever the order.
    return []


@checks.register(checks.Tags.models)
def check_routes(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from streams.registration import registry
    from streams.tracking import tracked_models, tracking_for

    messages: list[checks.CheckMessage] = []
    if not registry.routes():
        messages.append(
            checks.Warning(
                "No streams route is registered: nothing will be recorded.",
                hint="streams imports the module routes.py of every app in INSTALLED_APPS; register "
                "routes there with @streams.registry.register(<signal>, sender=<model>). A routes.py "
                "outside an installed app is never imported.",
                id="streams.W001",
            )
        )
    for tracking in tracked_models():
        for name in tracking.missing_fields():
            messages.append(
                checks.Error(
                    f"streams.track({tracking.model._meta.label}) names {name!r}, which the model lacks.",
                    hint=f"Fields of {tracking.model._meta.label}: "
                    + ", ".join(f.name for f in tracking.model._meta.concrete_fields),
                    obj=tracking.model,
                    id="streams.E003",
                )
            )
    for route in registry.routes():
        if not route.when_changed:
            continue
        tracking = tracking_for(route.sender) if route.sender is not None else None
        untracked = [name for name in route.when_changed if tracking is None or name not in tracking.fields]
        if untracked:
            messages.append(
                checks.Error(
                    f"Route {route.name!r} runs when_changed={untracked!r}, which are not tracked.",
                    hint="Call streams.track(<model>, fields=[...]) with these fields in the hub, "
                    "and register the route with sender=<model>.",
                    id="streams.E004",
                )
            )
    return messages


@checks.register(checks.Tags.compatibility)
def check_live_tables(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Declared live tables need an ASGI server for their socket, and the page needs htmx's files."""
    from django.apps import apps

    from streams.tables import site

    if not len(site):
        return []
    messages: list[checks.CheckMessage] = []
    if not getattr(settings, "ASGI_APPLICATION", None):
        messages.append(
            checks.Warning(
                f"{len(site)} live table(s) are declared but ASGI_APPLICATION is not set: their pages "
                "work, but no row arrives live.",
                hint="Serve the project with an ASGI server (daphne or uvicorn): route "
                "'websocket' to streams.live.asgi.websockets() in your asgi.py and set ASGI_APPLICATION "
                "to it (docs/ADOPTING.md, step 7).",
                id="streams.W002",
            )
        )
    if not apps.is_installed("django_htmx"):
        messages.append(
            checks.Warning(
                "Live tables are declared but 'django_htmx' is not in INSTALLED_APPS: "
                "{% streams_assets %} links htmx from its static files, which will not be found.",
                hint="Add 'django_htmx' to INSTALLED_APPS.",
                id="streams.W003",
            )
        )
    return messages


@checks.register(checks.Tags.compatibility, deploy=True)
def check_live_broadcast(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """In production, several server processes need a shared broadcast to see each other's rows."""
    from streams import conf
    from streams.tables import site

    if not len(site) or conf.get("BROADCAST_URL"):
        return []
    return [
        checks.Warning(
            "Live tables are declared and STREAMS['BROADCAST_URL'] is not set: an open table "
            "receives only the actions committed by the server process it is connected to.",
            hint="With more than one server process (workers, machines), set "
            "STREAMS = {'BROADCAST_URL': 'redis://…'} so every process hears every commit.",
            id="streams.W004",
        )
    ]


@checks.register(checks.Tags.database)
def check_database_parts(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """What the engine keeps beside the action table: its search index and the per-day counts'
    triggers. A migration that rebuilds the table on SQLite drops both. Run by ``migrate`` and
    ``check --database``."""
    from django.db import connections, router

    from streams import rollup, search_index
    from streams.models import Action, DailyCount

    messages: list[checks.CheckMessage] = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor not in rollup.VENDORS or not router.allow_migrate_model(alias, Action):
            continue
        tables = connection.introspection.table_names()
        if Action._meta.db_table not in tables:
            continue  # not migrated yet
        if not search_index.installed(connection):
            messages.append(
                checks.Warning(
                    f"The actions' text search index is missing on the database '{alias}': "
                    "every search reads the whole table.",
                    hint="Run 'python manage.py streams_repair'. On PostgreSQL the pg_trgm extension "
                    "is needed (CREATE EXTENSION pg_trgm, by a user allowed to).",
                    id="streams.W005",
                )
            )
        if DailyCount._meta.db_table in tables and not rollup.installed(connection):
            messages.append(
                checks.Warning(
                    f"The per-day counts' triggers are missing on the database '{alias}': charts over "
                    "months go on counting actions that were deleted.",
                    hint="Run 'python manage.py streams_repair', which puts them back and counts again.",
                    id="streams.W006",
                )
            )
    return messages
