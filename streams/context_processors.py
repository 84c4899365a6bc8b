"""``live_tables``: the declared tables the viewer may open, for a project's navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from streams.tables import Table, site


def live_tables(request: HttpRequest) -> dict[str, Any]:
    """``{% for table in live_tables %}``: computed only if a template asks."""

    def allowed() -> list[Table]:
        user = getattr(request, "user", None)
        return [] if user is None else site.allowed(user)

    return {"live_tables": allowed}
