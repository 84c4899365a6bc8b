"""Announce committed actions to the channel layer.

Runs from ``transaction.on_commit``: a rolled-back action is never
announced, and a channel layer outage never breaks the business write (the
row is in the database; open tables catch up on their next reconnect).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from streams import conf

logger = logging.getLogger("streams.broadcast")


def announce(message: dict[str, Any]) -> None:
    alias = conf.get("CHANNEL_LAYER")
    if alias is None:
        return
    layer = get_channel_layer(alias)
    if layer is None:
        return
    group = conf.get("BROADCAST_GROUP")
    if isinstance(layer, InMemoryChannelLayer) and not layer.groups.get(group):
        return  # nobody in this process listens: skip the event-loop round trip
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("could not announce action %s to the channel layer", message.get("id"))


def announce_each(messages: list[dict[str, Any]]) -> None:
    for message in messages:
        announce(message)


def announce_range(first: int, last: int, count: int) -> None:
    """A bulk operation's many actions, as one message: open tables fetch their share."""
    announce({"type": "actions.bulk", "first": first, "last": last, "count": count})
