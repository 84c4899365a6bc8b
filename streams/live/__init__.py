"""Live tables: one broadcast subscription per process, fanned out in memory to open sockets.

Public API::

    from streams.live import LiveTableConsumer, Subscription, BadSubscription
"""

from __future__ import annotations

from typing import Any

__all__ = ["BadSubscription", "LiveTableConsumer", "Subscription", "codes", "get_hub"]

_LAZY = {
    "BadSubscription": "streams.live.consumer",
    "LiveTableConsumer": "streams.live.consumer",
    "Subscription": "streams.live.hub",
    "get_hub": "streams.live.hub",
}


def __getattr__(name: str) -> Any:
    if name == "codes":
        from importlib import import_module

        return import_module("streams.live.codes")
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'streams.live' has no attribute {name!r}")
