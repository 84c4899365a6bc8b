"""Announce committed actions to open live tables.

Runs from ``transaction.on_commit``: a rolled-back action is never
announced. Announcing only hands the message to the transport's queue, so
the business write never waits for the broadcast, and an outage of it never
breaks the write (the row is in the database; open tables catch up).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from streams.live.transport import LocalTransport, get_transport

logger = logging.getLogger("streams.broadcast")

# A viewer saw a table up to an id (streams.seen): open unseen badges drop.
SEEN = "streams.seen"
# Someone followed or unfollowed someone (streams.follows): their followed set is stale.
FOLLOWS = "streams.follows"


def announce(message: dict[str, Any]) -> None:
    transport = get_transport()
    if isinstance(transport, LocalTransport) and not transport.listening():
        return  # nobody in this process listens
    try:
        transport.publish(message)
    except Exception:
        logger.exception("could not announce action %s", message.get("id"))


def announce_actions(actions: Sequence[Any]) -> None:
    """Announce committed actions; their messages are built only if someone listens."""
    transport = get_transport()
    if isinstance(transport, LocalTransport) and not transport.listening():
        return
    for action in actions:
        try:
            transport.publish(action.broadcast_message())
        except Exception:
            logger.exception("could not announce action %s", action.pk)


def announce_range(first: int, last: int, count: int) -> None:
    """A bulk operation's many actions, as one message: each process loads the range once."""
    announce({"type": "actions.bulk", "first": first, "last": last, "count": count})
