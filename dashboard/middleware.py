"""Project middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest


class RejectNulInQueryMiddleware:
    """A query string holding a NUL character is a 400, whatever view it is for.

    Forms refuse NUL already (Django's ProhibitNullCharactersValidator), but
    not every view reads its parameters through a form: the admin's list
    filters pass them straight to the database, and PostgreSQL refuses NUL in
    text, which was a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for key, values in request.GET.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return HttpResponseBadRequest(
                    "Query parameters may not contain NUL characters.\n",
                    content_type="text/plain; charset=utf-8",
                )
        return self.get_response(request)
