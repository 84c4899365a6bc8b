"""Lazily read settings for streams, with defaults in one place.

Projects override any key through a ``STREAMS`` dict in their settings; the
cache is dropped when tests change settings.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Where committed actions are broadcast to open live tables: None for this
    # process only (the embedded default), or a Redis URL (pub/sub) shared by
    # every worker.
    "BROADCAST_URL": None,
    # The Redis pub/sub channel; None: one per database name.
    "BROADCAST_CHANNEL": None,
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
    # Live tables. A socket gets a frame at most this often; actions
    # committed in between go out together, as one frame of several rows.
    "LIVE_BATCH_MS": 100,
    # Rows per frame at most (a bulk operation or a catch-up sends several).
    "LIVE_FRAME_ROWS": 100,
    # ... and about this many characters (a single larger row still goes alone).
    "LIVE_FRAME_BYTES": 256 * 1024,
    # Rows a reconnecting table catches up on; past it, the page is told to reload.
    "LIVE_CATCH_UP_LIMIT": 2000,
    # A row committed this long after a newer one was recorded still reaches
    # a table that reconnects (commits do not arrive in id order).
    "LIVE_LOOKBACK_SECONDS": 10,
    # An idle socket gets a heartbeat this often, so the page notices a dead server.
    "LIVE_HEARTBEAT_SECONDS": 5,
    # How often open sockets' sessions and permissions are checked again.
    "LIVE_RECHECK_SECONDS": 5,
    # Open live sockets per session and process (None: no cap).
    "LIVE_SOCKETS_PER_SESSION": 20,
    # The live socket takes no commands: a client may send this many frames
    # a second (after a burst of LIVE_CLIENT_FRAME_BURST), else it is closed 4429.
    "LIVE_CLIENT_FRAME_RATE": 2.0,
    "LIVE_CLIENT_FRAME_BURST": 10,
    # Rendered rows kept per process, shared by every socket.
    "LIVE_RENDER_CACHE": 4096,
    # Where the declared tables' socket listens (site.websocket_urlpatterns()).
    "LIVE_PATH": "ws/live/",
}


@cache
def _merged() -> dict[str, Any]:
    return {**DEFAULTS, **getattr(settings, "STREAMS", {})}


def get(name: str) -> Any:
    return _merged()[name]


def lookback() -> timedelta:
    return timedelta(seconds=get("LIVE_LOOKBACK_SECONDS"))


@cache
def use_tz() -> bool:
    return settings.USE_TZ


def trusted_proxies() -> frozenset[str]:
    return frozenset(getattr(settings, "TRUSTED_PROXIES", ()))


def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting in {"STREAMS", "TRUSTED_PROXIES"}:
        _merged.cache_clear()
    if setting == "USE_TZ":
        use_tz.cache_clear()


setting_changed.connect(_reset, dispatch_uid="streams.conf.reset")
