"""Signalboard's activity-stream engine.

Public API::

    from streams import registry, record, acting_as, disable_recording

Knows nothing of the apps whose signals it records: a project's hub module
(``<app>/routes.py``) registers routes that call ``record()``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyRegistered",
    "NotRegistered",
    "acting_as",
    "bulk_created",
    "bulk_updated",
    "changes",
    "current",
    "disable_recording",
    "queryset_updated",
    "record",
    "record_many",
    "registry",
    "track",
    "unsaved_changes",
]

_LAZY = {
    "AlreadyRegistered": "streams.registration",
    "NotRegistered": "streams.registration",
    "registry": "streams.registration",
    "acting_as": "streams.context",
    "current": "streams.context",
    "disable_recording": "streams.context",
    "bulk_created": "streams.tracking",
    "bulk_updated": "streams.tracking",
    "changes": "streams.tracking",
    "queryset_updated": "streams.tracking",
    "track": "streams.tracking",
    "unsaved_changes": "streams.tracking",
    # Imports the models, so it can only be loaded once apps are ready.
    "record": "streams.recording",
    "record_many": "streams.recording",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'streams' has no attribute {name!r}")
