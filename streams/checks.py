"""System checks for a misconfigured streams install."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

MIDDLEWARE = "streams.middleware.RequestContextMiddleware"


@checks.register(checks.Tags.compatibility)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", []))
    if MIDDLEWARE not in middleware:
        return [
            checks.Error(
                f"'{MIDDLEWARE}' is not in MIDDLEWARE.",
                hint="Without it every action is recorded as done by CLI, with no IP.",
                id="streams.E001",
            )
        ]
    auth = "django.contrib.auth.middleware.AuthenticationMiddleware"
    if auth in middleware and middleware.index(MIDDLEWARE) < middleware.index(auth):
        return [
            checks.Error(
                f"'{MIDDLEWARE}' must come after '{auth}'.",
                hint="It reads request.user, which the authentication middleware sets.",
                id="streams.E002",
            )
        ]
    return []
