from __future__ import annotations

from dashboard.tables import KINDS

# The live socket of the demo's tables (streams.tables).
websocket_urlpatterns = KINDS.websocket_urlpatterns()
