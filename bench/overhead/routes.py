"""Signalboard's routes for SbItem, through the engine's public API only (the hub a project writes)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from bench.overhead.models import SbItem
from streams import changes, record, registry, track

TRACKED = ("title", "body", "status", "count")

track(SbItem, fields=TRACKED)


@registry.register(post_save, sender=SbItem, name="bench-created", when_created=True)
def created(*, instance: SbItem, **kwargs: Any) -> None:
    record(verb="created", object=instance)


@registry.register(post_save, sender=SbItem, name="bench-updated", when_changed=TRACKED)
def updated(*, instance: SbItem, **kwargs: Any) -> None:
    record(verb="updated", object=instance, changes=changes(instance))
