"""Close codes of the live socket (DESIGN, websocket contract)."""

from __future__ import annotations

# Reconnect and catch up: the page's script retries these with growing,
# jittered delays. (Not 1012/1013: daphne's websocket library refuses to send
# close codes other than 1000 and 3000-4999.)
SERVICE_RESTART = 4012  # the broadcast subscription was lost
TRY_AGAIN_LATER = 4013  # the broadcast is not available yet
MESSAGE_TOO_BIG = 1009
BAD_REQUEST = 4400
UNAUTHENTICATED = 4401
FORBIDDEN = 4403
TOO_MANY_SOCKETS = 4429  # live sockets per session
TOO_MANY_FRAMES = 4429  # client frames over LIVE_CLIENT_FRAME_RATE (the page sends none)
