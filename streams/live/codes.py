"""Close codes of the live socket (DESIGN, websocket contract)."""

from __future__ import annotations

# The browser's websocket extension reconnects, with backoff, on these two.
SERVICE_RESTART = 1012  # the broadcast subscription was lost: reconnect and catch up
TRY_AGAIN_LATER = 1013  # the broadcast is not available yet
MESSAGE_TOO_BIG = 1009
BAD_REQUEST = 4400
UNAUTHENTICATED = 4401
FORBIDDEN = 4403
TOO_MANY_SOCKETS = 4429
