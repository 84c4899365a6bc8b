"""Announce committed actions to the channel layer.

Runs from ``transaction.on_commit``: a rolled-back action is never
announced, and a channel layer outage never breaks the business write (the
row is in the database; open tables catch up on their next reconnect).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from streams import conf

logger = logging.getLogger("streams.broadcast")


def announce(message: dict[str, Any]) -> None:
    alias = conf.get("CHANNEL_LAYER")
    if alias is None:
        return
    layer = get_channel_layer(alias)
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(conf.get("BROADCAST_GROUP"), message)
    except Exception:
        logger.exception("could not announce action %s to the channel layer", message.get("id"))


def announce_many(actions: list[Any]) -> None:
    """Announce a bulk operation's actions: each one, or past the limit one range message."""
    ids = [action.pk for action in actions if action.pk is not None]
    if len(ids) <= conf.get("BULK_ANNOUNCE_LIMIT"):
        for action in actions:
            announce(action.broadcast_message())
        return
    announce({"type": "actions.bulk", "first": min(ids), "last": max(ids), "count": len(ids)})
