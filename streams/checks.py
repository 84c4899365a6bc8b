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
