"""Puts the request's user, IP, user agent and correlation id in the streams context.

The correlation id is the request's ``X-Request-ID`` when a trusted proxy
(``TRUSTED_PROXIES``) sent it and it is well formed, else a new one. It is
``request.request_id``, goes back in the response's ``X-Request-ID``, and is
stored on every action recorded in the request, background routes included.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from streams import conf
from streams.context import checked_request_id, client_ip, new_request_id, request_context

HEADER = "X-Request-ID"


def request_id_of(request: HttpRequest) -> str:
    """The proxy's id for this request if the proxy is trusted and the id well formed, else a new one."""
    if request.META.get("REMOTE_ADDR") in conf.trusted_proxies():
        given = checked_request_id(request.META.get("HTTP_X_REQUEST_ID"))
        if given is not None:
            return given
    return new_request_id()


def _context_for(request: HttpRequest) -> Any:
    request.request_id = request_id_of(request)  # type: ignore[attr-defined]
    return request_context(
        request=request,
        ip=client_ip(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR")),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        request_id=request.request_id,  # type: ignore[attr-defined]
    )


def _answer(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    response[HEADER] = request.request_id  # type: ignore[attr-defined]
    return response


class RequestContextMiddleware:
    """Sync and async capable, like django-htmx's middleware."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponse]
        | Callable[[HttpRequest], Awaitable[HttpResponse]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(self.get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        with _context_for(request):
            return _answer(request, self.get_response(request))  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        with _context_for(request):
            return _answer(request, await self.get_response(request))  # type: ignore[misc]
