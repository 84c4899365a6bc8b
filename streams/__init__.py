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
    "disable_recording",
    "record",
    "registry",
]

_LAZY = {
    "AlreadyRegistered": "streams.registration",
    "NotRegistered": "streams.registration",
    "registry": "streams.registration",
    "acting_as": "streams.context",
    "disable_recording": "streams.context",
    # Imports the models, so it can only be loaded once apps are ready.
    "record": "streams.recording",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'streams' has no attribute {name!r}")
