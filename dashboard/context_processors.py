from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from dashboard.tables import KINDS
from streams.tables import Table


def live_tables(request: HttpRequest) -> dict[str, Any]:
    """The tables the viewer may open, for the navigation (computed only if a template asks)."""

    def allowed() -> list[Table]:
        user = getattr(request, "user", None)
        return [kind for kind in KINDS.values() if user is not None and kind.allowed(user)]

    return {"live_tables": allowed}
