"""Lazily read settings for streams, with defaults in one place.

Projects override any key through a ``STREAMS`` dict in their settings; the
cache is dropped when tests change settings.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Channel-layer group every committed action is announced to.
    "BROADCAST_GROUP": "streams.actions",
    # Name of the channel layer alias used for broadcasts (None: no broadcast).
    "CHANNEL_LAYER": "default",
    # Display name of the actor when nothing happens inside a request.
    "CLI_ACTOR": "CLI",
    # Route names switched off without touching code.
    "DISABLED_ROUTES": (),
    # How often each process adds its route health to the database
    # (``streams_stats``); None keeps it in memory only.
    "STATS_FLUSH_SECONDS": 5,
    # A bulk operation announces its actions one by one up to this many;
    # past it, one message tells open tables to fetch the range.
    "BULK_ANNOUNCE_LIMIT": 100,
}


@cache
def _merged() -> dict[str, Any]:
    return {**DEFAULTS, **getattr(settings, "STREAMS", {})}


def get(name: str) -> Any:
    return _merged()[name]


def trusted_proxies() -> frozenset[str]:
    return frozenset(getattr(settings, "TRUSTED_PROXIES", ()))


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in {"STREAMS", "TRUSTED_PROXIES"}:
        _merged.cache_clear()


setting_changed.connect(_reset, dispatch_uid="streams.conf.reset")
