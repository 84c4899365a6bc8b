"""Error pages: a database outage is a 503 "try again", not a 500."""

from __future__ import annotations

import sys
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import get_template
from django.utils.cache import add_never_cache_headers
from django.views import defaults

# Seconds a client (or a proxy) should wait before trying again.
RETRY_AFTER = 5


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """``handler500``: called while the uncaught exception is being handled, so it can look at it."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        # Rendered without the request: its context processors would ask the
        # database (the user, the navigation) and fail again.
        html = get_template("503.html").render({"retry_after": RETRY_AFTER})
        response = HttpResponse(html, status=503)
        response["Retry-After"] = str(RETRY_AFTER)
        add_never_cache_headers(response)
        return response
    return defaults.server_error(request)
