"""Routes marked ``background=True`` run as Django tasks after commit.

The signal's arguments travel as JSON: model instances as their label and
primary key (fetched again when the task runs), the acting user, IP and
user agent with them, so the action reads as if recorded in the request.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.db import models
from django.tasks import task

from streams import context
from streams.health import health

logger = logging.getLogger("streams.background")


def _pack(value: Any) -> Any:
    if isinstance(value, models.Model):
        return {"__model__": value._meta.label, "pk": value.pk}
    if isinstance(value, type) and issubclass(value, models.Model):
        return {"__class__": value._meta.label}
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return value


class Gone(Exception):
    """The instance a background route was about is no longer there."""


def _unpack(value: Any) -> Any:
    if isinstance(value, dict) and "__model__" in value:
        model = apps.get_model(value["__model__"])
        try:
            return model._default_manager.get(pk=value["pk"])
        except model.DoesNotExist:
            raise Gone(f"{value['__model__']} {value['pk']}") from None
    if isinstance(value, dict) and "__class__" in value:
        return apps.get_model(value["__class__"])
    return value


def enqueue(route: Any, sender: Any, kwargs: dict[str, Any]) -> None:
    payload = {key: _pack(value) for key, value in kwargs.items() if key != "signal"}
    try:
        run_background_route.enqueue(route.name, _pack(sender), payload, context.pack())
    except Exception:
        health.called(route.name, 0.0, failed=True)
        logger.exception("could not enqueue background route %r", route.name)


@task
def run_background_route(name: str, sender: Any, kwargs: dict[str, Any], acting: dict[str, Any]) -> bool:
    from streams.registration import registry

    route = registry.get(name)
    try:
        unpacked = {key: _unpack(value) for key, value in kwargs.items()}
    except Gone as gone:
        logger.warning("background route %r skipped: %s no longer exists", name, gone)
        health.skipped(name)
        return False
    with context.unpacked(acting):
        ok = route.run(_unpack(sender), unpacked)
    health.flush()
    return ok
